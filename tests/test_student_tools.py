"""The given student tools: `mytorch.draw` (pictures), `mytorch.testing.gradcheck` (the grader's check),
and the writeup's figures drawn with them (current, without needing Graphviz at test time)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from autograder.assignments.hw1p1 import figures
from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.framework import gradcheck as grader_gradcheck
from autograder.framework.harness import load_package

WORKED_EXAMPLE_DOT = """digraph mytorch {
  rankdir=LR;
  node [shape=box, style="rounded", fontname="Helvetica"];
  edge [color="#555555"];
  n0 [label="M: Mul\\nshape ()\\nvalue -3" penwidth=2];
  n1 [label="L: Add\\nshape ()\\nvalue -1"];
  n2 [label="a: leaf\\nshape ()\\nvalue 3\\ngrad -7"];
  n3 [label="e: Mul\\nshape ()\\nvalue -6"];
  n4 [label="c: leaf\\nshape ()\\nvalue 5\\ngrad 3"];
  n5 [label="b: leaf\\nshape ()\\nvalue -2\\ngrad 9"];
  n1 -> n0 [label="0", fontsize=10];
  n2 -> n0 [label="1", fontsize=10];
  n3 -> n1 [label="0", fontsize=10];
  n4 -> n1 [label="1", fontsize=10];
  n2 -> n3 [label="0", fontsize=10];
  n5 -> n3 [label="1", fontsize=10];
}
"""


@pytest.fixture(scope="module")
def lib():
    """The reference mytorch (the tools are given code: the same file ships in the handout)."""
    return load_package(ASSIGNMENT.reference_root, ASSIGNMENT.package)


def worked_example(lib):
    a, b, c = (lib.Tensor(v, requires_grad=True) for v in (3.0, -2.0, 5.0))
    e = a * b
    L = e + c
    M = L * a
    return a, b, c, e, L, M


def test_draw_on_the_worked_example_gives_the_expected_dot(lib, capsys) -> None:
    a, b, c, e, L, M = worked_example(lib)
    before = lib.draw(M, names={"a": a, "b": b, "c": c, "e": e, "L": L, "M": M})
    assert "grad" not in before  # no gradients before backward
    M.backward()
    assert lib.draw(M, names={"a": a, "b": b, "c": c, "e": e, "L": L, "M": M}) == WORKED_EXAMPLE_DOT
    assert capsys.readouterr().out == ""  # without a filename nothing is printed or written


def test_draw_shows_shapes_gradient_norms_constants_and_order(lib) -> None:
    x = lib.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    k = lib.Tensor(np.ones(3))  # a constant: drawn dashed, never a gradient
    y = (x * k).sum()
    y.backward()
    dot = lib.draw(y, names={"x": x}, order=[y, x])
    assert "shape (2, 3)" in dot and f"|grad| {np.linalg.norm(np.ones((2, 3))):.4g}" in dot
    assert re.search(r'label="constant\\nshape \(3,\)"[^\]]*dashed', dot)
    assert "#1  Sum" in dot and "#2  x: leaf" in dot


def test_draw_writes_svg_with_graphviz_or_says_why_in_one_line(lib, tmp_path, monkeypatch, capsys) -> None:
    x = lib.Tensor([1.0, 2.0], requires_grad=True)
    draw_module = __import__(f"{lib.__name__}.draw", fromlist=["render_svg"])
    monkeypatch.setattr(draw_module.shutil, "which", lambda name: None)
    text = lib.draw((x * x).sum(), tmp_path / "g")
    out = capsys.readouterr().out
    assert text.startswith("digraph") and not (tmp_path / "g.svg").exists()
    assert out.count("\n") == 1 and "Graphviz" in out and "not installed" in out
    monkeypatch.undo()
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed here: the SVG half of draw is not exercised")
    lib.draw((x * x).sum(), tmp_path / "g")
    assert (tmp_path / "g.svg").read_text().lstrip().startswith("<?xml")
    assert capsys.readouterr().out.strip() == f"mytorch.draw: wrote {tmp_path / 'g.svg'}"


def test_gradcheck_finds_one_wrong_element_of_1000_and_prints_the_graders_message(lib, capsys) -> None:
    from importlib import import_module

    testing = import_module(f"{lib.__name__}.testing")

    class Scaled(lib.Function):
        """2x, whose backward is 1% off in element 417 only."""

        def forward(self, x):
            return 2.0 * x

        def backward(self, g):
            grad = 2.0 * g
            grad[417] *= 1.01
            return (grad,)

    x = np.random.default_rng(5).standard_normal(1000)
    assert testing.gradcheck(lambda x: Scaled.apply(x), x, label="Scaled") is False
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    assert lines[0] == "Scaled, gradient for input x: 1 of 1000 elements wrong (element 417)"
    assert re.fullmatch(
        r"  x\.grad\[417\]: expected (\S+), got (\S+)   \(abs err .*, rel err 1\.0e-02, tolerance .*\)", lines[1]
    ), lines
    # The same words as the grader's checker, which it runs: the grader's own formatter reproduces line 2.
    expected, got = (float(v) for v in re.findall(r"expected (\S+), got (\S+)", lines[1])[0])
    assert lines[1].startswith(grader_gradcheck._line("x.grad", (417,), expected, got, 0.0).split("   (")[0])
    assert testing._checker().check_gradient is not None  # the shared checker, not a second implementation

    assert testing.gradcheck(lambda a, b: a / b, np.ones((3, 5)) * 0.7, np.full((3, 1), 1.3), quiet=True)
    assert capsys.readouterr().out == ""


def test_the_writeups_figures_are_current() -> None:
    problems = figures.stale()
    assert not problems, (
        f"stale figures {problems}: run `make handout` (SVGs need Graphviz: "
        f"apt-get install graphviz) and commit solutions/hw1p1/figures"
    )
    readme = (ASSIGNMENT.reference_root / "README.md").read_text(encoding="utf-8")
    for name in figures.FIGURES:
        assert f"(figures/{name}.svg)" in readme, f"the writeup does not show figure {name}"


def test_a_stale_figure_is_named(tmp_path) -> None:
    shutil.copytree(figures.FIGURES_DIR, tmp_path / "figures")
    (tmp_path / "figures" / "diamond_chain.dot").write_text("digraph {}\n")
    svg = tmp_path / "figures" / "broadcasting.svg"
    svg.write_text(svg.read_text().replace("mytorch-dot-sha256: ", "mytorch-dot-sha256: 0"))
    assert figures.stale(tmp_path / "figures") == ["diamond_chain.dot", "broadcasting.svg"]


def test_gradcheck_of_one_op_works_before_the_engine_and_bigger_functions_use_it(lib, tmp_path) -> None:
    from tools.make_sample import sample_files

    for rel, data in sample_files(ASSIGNMENT, stubbed=("1.1", "1.2"), bugs=()).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    code = (
        "import numpy as np\nfrom mytorch.testing import gradcheck\nx = np.linspace(0.5, 2.0, 6)\n"
        "print(gradcheck(lambda x: x * x, x, quiet=True))\n"
        "try:\n    gradcheck(lambda x: (x * x).sum(), x)\nexcept NotImplementedError as e:\n    print(e)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.stdout.splitlines() == ["True", "Task 1.2: backward"], proc.stdout + proc.stderr
    from importlib import import_module

    testing = import_module(f"{lib.__name__}.testing")
    assert testing.gradcheck(lambda x: (x * x).sum(axis=1), np.arange(1.0, 7.0).reshape(2, 3), quiet=True)
