"""The writeup's figures, drawn with the reference's own `mytorch.draw` (run by `make handout`).

Each figure is a graph built with the reference library; its DOT text goes to solutions/hw1p1/figures/NAME.dot
and, when Graphviz's `dot` program is installed, its picture to NAME.svg, which carries the sha256 of
the DOT it was drawn from. A test regenerates the DOT (no Graphviz needed) and compares both, so a
figure can never silently disagree with the library or the writeup.

    python -m autograder.assignments.hw1p1.figures           # write the figures
    python -m autograder.assignments.hw1p1.figures --check   # exit 1, naming stale figures
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.framework.harness import load_package

FIGURES_DIR = ASSIGNMENT.reference_root / "figures"
HASH_RE = re.compile(r"<!-- mytorch-dot-sha256: ([0-9a-f]{64}) -->")


def worked_example(lib: ModuleType) -> str:
    """Section 2.4: e = a*b, L = e + c, M = L*a after backward (the gradients of the table)."""
    a, b, c = (lib.Tensor(v, requires_grad=True) for v in (3.0, -2.0, 5.0))
    e = a * b
    L = e + c
    M = L * a
    M.backward()
    return lib.draw(
        M,
        names={"a": a, "b": b, "c": c, "e": e, "L": L, "M": M},
        title="M = (a*b + c) * a after M.backward(): a is used twice, its gradient -7 = -1 + (-6)",
    )


def dfs_order(lib: ModuleType) -> str:
    """Section 3.3: the same graph, numbered in the order depth-first search finishes the nodes."""
    a, b, c = (lib.Tensor(v, requires_grad=True) for v in (3.0, -2.0, 5.0))
    e = a * b
    L = e + c
    M = L * a
    finished: list[Any] = []
    seen: set[int] = set()

    def visit(t: Any) -> None:  # the textbook recursion, inputs in order, as the writeup traces it
        seen.add(id(t))
        for parent in t.grad_fn.inputs if t.grad_fn is not None else ():
            if id(parent) not in seen:
                visit(parent)
        finished.append(t)

    visit(M)
    return lib.draw(
        M,
        names={"a": a, "b": b, "c": c, "e": e, "L": L, "M": M},
        order=finished,
        title="#k: the k-th node depth-first search finishes; reversed (M first), it is backward's order",
    )


def diamond_chain(lib: ModuleType) -> str:
    """Section 3.4: x = x*x + x three times: 7 nodes, 3**3 = 27 paths from the result to x0."""
    x0 = lib.Tensor(0.5, requires_grad=True)
    xs, x = [x0], x0
    for _ in range(3):
        x = x * x + x
        xs.append(x)
    x.backward()
    return lib.draw(
        x,
        names={f"x{i}": t for i, t in enumerate(xs)},
        title="x = x*x + x, 3 times: three edges per step, 3**3 = 27 paths from x3 to x0",
    )


def broadcasting(lib: ModuleType) -> str:
    """Section 5.2: a (5,) bias added to a (4, 5) batch; its gradient is summed back to (5,)."""
    rng = np.random.default_rng(0)
    X = lib.Tensor(np.round(rng.standard_normal((4, 5)), 2), requires_grad=True)
    bias = lib.Tensor(np.round(rng.standard_normal(5), 2), requires_grad=True)
    Y = X + bias
    loss = (Y * Y).sum()
    loss.backward()
    return lib.draw(
        loss,
        names={"X": X, "bias": bias, "Y": Y, "loss": loss},
        title="Add broadcasts bias (5,) over 4 rows; Add.backward sums its gradient back to (5,)",
    )


FIGURES: dict[str, Callable[[ModuleType], str]] = {
    "worked_example": worked_example,
    "dfs_order": dfs_order,
    "diamond_chain": diamond_chain,
    "broadcasting": broadcasting,
}


def dot_sources() -> dict[str, str]:
    """Figure name -> its DOT text, drawn now with the reference library."""
    lib = load_package(ASSIGNMENT.reference_root, ASSIGNMENT.package)
    return {name: make(lib) for name, make in FIGURES.items()}


def digest(dot_text: str) -> str:
    """The sha256 an SVG carries of the DOT text it was drawn from."""
    return hashlib.sha256(dot_text.encode("utf-8")).hexdigest()


def stale(folder: Path = FIGURES_DIR) -> list[str]:
    """Files of `folder` that do not match a fresh drawing (missing, different DOT, SVG of another DOT)."""
    problems = []
    for name, text in dot_sources().items():
        dot_file, svg_file = folder / f"{name}.dot", folder / f"{name}.svg"
        if not dot_file.is_file() or dot_file.read_text(encoding="utf-8") != text:
            problems.append(dot_file.name)
        found = HASH_RE.search(svg_file.read_text(encoding="utf-8")) if svg_file.is_file() else None
        if found is None or found.group(1) != digest(text):
            problems.append(svg_file.name)
    return problems


def write(folder: Path = FIGURES_DIR) -> list[str]:
    """Write every figure's DOT, and its SVG when Graphviz is installed; the SVGs still stale after."""
    lib = load_package(ASSIGNMENT.reference_root, ASSIGNMENT.package)
    render_svg = sys.modules[f"{lib.__name__}.draw"].render_svg  # the library's own renderer
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in dot_sources().items():
        (folder / f"{name}.dot").write_text(text, encoding="utf-8", newline="\n")
        svg = folder / f"{name}.svg"
        current = HASH_RE.search(svg.read_text(encoding="utf-8")) if svg.is_file() else None
        if current is not None and current.group(1) == digest(text):
            continue  # already drawn from exactly this DOT
        if render_svg(text, svg):
            body = svg.read_text(encoding="utf-8")
            marked = re.sub(r"(<svg\b)", f"<!-- mytorch-dot-sha256: {digest(text)} -->\n\\1", body, count=1)
            svg.write_text(marked, encoding="utf-8", newline="\n")
    return [p for p in stale(folder) if p.endswith(".svg")]


def main(argv: list[str]) -> int:
    """Write the figures (or with --check, only report the stale ones); 1 when some are stale."""
    if "--check" in argv:
        problems = stale()
    else:
        problems = write()
    if problems:
        print(
            "stale figures in solutions/hw1p1/figures: "
            + ", ".join(problems)
            + ("" if "--check" in argv else " (install Graphviz, e.g. `apt-get install graphviz`, and rerun)"),
            file=sys.stderr,
        )
        return 1
    print(f"figures in {FIGURES_DIR} are current ({len(FIGURES)} figures)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
