"""The generic student runtime (autograder/framework/handout_runtime/) and what a handout vendors with it.

- The runtime and every framework module a handout vendors import only the standard library, numpy, pytest
  and each other (an `ast` scan), and no private name crosses the framework <-> runtime boundary.
- The runtime names no assignment: a toy assignment with another package, other tasks and a data file gets a
  working handout from the same files (bare stubs score 0, the reference full marks, `make handin` packs it).
- What is vendored is computed from the imports, transitively, and is closed under them.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.framework import handout_runtime
from autograder.framework.handout_runtime.handout_config import CONFIG_FILE, KEYS
from autograder.framework.handoutgen import framework_imports, generate_handout, handout_contents, vendored_modules
from conftest import CHECK, write_toy

RUNTIME = handout_runtime.RUNTIME_DIR
FRAMEWORK = RUNTIME.parent
RUNTIME_SIBLINGS = {Path(n).stem for n in handout_runtime.LAYOUT if n.endswith(".py")}
ALLOWED_TOP = set(sys.stdlib_module_names) | {"numpy", "pytest", "__future__"}


def imported_modules(source: str) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module, imported names) for every import in `source` (relative ones made absolute
    within the framework)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = ("autograder.framework." * bool(node.level)) + (node.module or "")
            found.append((node.lineno, module.rstrip("."), [a.name for a in node.names]))
    return found


def _runtime_sources() -> dict[str, str]:
    return {
        name: (RUNTIME / name).read_text(encoding="utf-8") for name in handout_runtime.LAYOUT if name.endswith(".py")
    }


@pytest.fixture(scope="module")
def hw1p1_files() -> dict[str, bytes]:
    return handout_contents(ASSIGNMENT)


def test_the_runtime_and_everything_vendored_import_only_stdlib_numpy_pytest(hw1p1_files: dict[str, bytes]) -> None:
    vendored = {
        rel: data for rel, data in hw1p1_files.items() if rel.startswith("tests/_support/autograder/framework/")
    }
    assert "tests/_support/autograder/framework/harness.py" in vendored  # the scan below has something to scan
    shipped = {
        ".".join(Path(rel).relative_to("tests/_support").with_suffix("").parts).removesuffix(".__init__")
        for rel in vendored
    }
    sources = {f"runtime/{k}": v for k, v in _runtime_sources().items()}
    sources.update({rel: data.decode("utf-8") for rel, data in vendored.items()})
    problems = []
    for where, source in sorted(sources.items()):
        for line, module, names in imported_modules(source):
            top = module.split(".")[0]
            ok = (
                top in ALLOWED_TOP
                or module in RUNTIME_SIBLINGS
                or module in shipped
                or (module == "autograder.framework" and all(f"autograder.framework.{n}" in shipped for n in names))
            )
            if not ok:
                problems.append(f"{where}:{line}: {module}")
    assert not problems, f"imports a student with only numpy and pytest cannot satisfy: {problems}"


def test_no_private_name_crosses_the_framework_runtime_boundary() -> None:
    problems = []
    for name, source in _runtime_sources().items():  # runtime -> framework
        framework_aliases = set()
        for line, module, names in imported_modules(source):
            if module.startswith("autograder.framework"):
                problems += [f"runtime/{name}:{line}: {module}.{n}" for n in names if n.startswith("_")]
                framework_aliases |= {n for n in names if module == "autograder.framework"}
        for node in ast.walk(ast.parse(source)):  # e.g. channel._plain through a framework module
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in framework_aliases
                and node.attr.startswith("_")
            ):
                problems.append(f"runtime/{name}:{node.lineno}: {node.value.id}.{node.attr}")
    for path in sorted(FRAMEWORK.rglob("*.py")):  # framework -> runtime
        if path.is_relative_to(RUNTIME):
            continue
        for line, module, names in imported_modules(path.read_text(encoding="utf-8")):
            if module.startswith("autograder.framework.handout_runtime"):
                private = [n for n in names if n.startswith("_")] + [p for p in module.split(".") if p.startswith("_")]
                problems += [f"{path.relative_to(FRAMEWORK)}:{line}: {module}.{n}" for n in private]
    assert not problems, f"private names across the boundary: {problems}"


def test_the_runtime_names_no_assignment() -> None:
    for path in sorted(RUNTIME.iterdir()):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            for literal in ("mytorch", "hw1p1", "MYTORCH"):
                assert literal not in text, f"{path.name} names {literal!r}: the runtime must read it from the config"


def test_vendoring_is_computed_transitively_and_closed(hw1p1_files: dict[str, bytes]) -> None:
    # One import pulls in what that module imports, and so on; an unrelated source vendors nothing.
    got = vendored_modules({"t.py": b"from autograder.framework.scoring import score_tasks\n"})
    modules = {Path(rel).stem for rel in got if not rel.endswith("__init__.py")}
    assert {"scoring"} < modules and modules == {"scoring"} | {m.split(".")[0] for m in _closure("scoring")}
    assert {Path(rel).stem for rel in vendored_modules({"t.py": b"import numpy\n"})} == {"__init__"}
    assert framework_imports(b"def f():\n    from autograder.framework import text\n") == {"text"}  # lazy too
    # The hw1p1 handout: every vendored module's framework imports are vendored too, and nothing else is.
    support = "tests/_support/autograder/framework/"
    vendored = {
        rel[len(support) : -3] for rel in hw1p1_files if rel.startswith(support) and rel != support + "__init__.py"
    }
    python = {rel: data for rel, data in hw1p1_files.items() if rel.endswith(".py") and not rel.startswith(support)}
    wanted = set().union(*(framework_imports(d, r) for r, d in python.items()))
    assert {"harness", "gradcheck", "zips"} <= vendored  # the tests' harness, mytorch.testing's checker, handin's zip
    assert vendored == set().union(*(_closure(m) | {m} for m in wanted))


def _closure(module: str) -> set[str]:
    """The framework modules `module` imports, transitively (not itself unless imported back)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        path = FRAMEWORK / f"{todo.pop()}.py"
        for m in framework_imports(path.read_bytes(), str(path)) - seen:
            seen.add(m)
            todo.append(m)
    return seen


# ------------------------------------------------------------------------------------- a second assignment

FENCED_ARITH = '''
def add(a, b):
    """Task 1."""
    # BEGIN SOLUTION Task 1: add
    return a + b
    # END SOLUTION


def mul(a, b):
    """Task 2."""
    # BEGIN SOLUTION Task 2: mul
    return a * b
    # END SOLUTION
'''
FENCED_POWER = '''
def square(x):
    """Task 3."""
    # BEGIN SOLUTION Task 3: square
    return x ** 2
    # END SOLUTION
'''
DATA_SCENARIO = """

def scale(lib, x):
    from pathlib import Path

    import numpy as np

    factor = np.load(Path(__file__).parent / "data" / "factor.npy")
    return {"out": _mod(lib, "arith").mul(x, factor)}
"""
DATA_TEST = (
    CHECK
    + """

@pytest.mark.rubric(task="2")
def test_scale(student, reference, rng):
    x = rng.standard_normal(3)
    check("scale", student.run("scale", x=x), reference.run("scale", x=x))
"""
)


@pytest.fixture(scope="module")
def toy_handout(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """A handout generated for a toy assignment (package toylib, tasks 1-3, a data file, an extra file)."""
    from dataclasses import replace

    import numpy as np

    root = tmp_path_factory.mktemp("toy")
    toy = write_toy(root, {"public/test_scale.py": DATA_TEST})
    (root / "reference" / "toylib" / "arith.py").write_text(FENCED_ARITH)
    (root / "reference" / "toylib" / "power.py").write_text(FENCED_POWER)
    (root / "scenarios.py").write_text((root / "scenarios.py").read_text() + DATA_SCENARIO)
    (root / "data").mkdir()
    np.save(root / "data" / "factor.npy", np.array(3.0))
    (root / "extras").mkdir()
    (root / "extras" / "NOTES.txt").write_text("toy extras\n")
    assignment = replace(toy.assignment, data_files=(root / "data" / "factor.npy",), handout_extras=root / "extras")
    out = root / "handout"
    generate_handout(assignment, out)
    return out, assignment


def _pytest(handout: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGRADER_HANDOUT")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args], cwd=handout, env=env, capture_output=True, text=True, timeout=300
    )


def test_config_carries_the_assignment_as_data(toy_handout: tuple[Path, object]) -> None:
    handout, assignment = toy_handout
    config = json.loads((handout / CONFIG_FILE).read_text())
    assert set(config) == set(KEYS)
    assert config["package"] == "toylib" and config["name"] == "toy"
    assert [t["id"] for t in config["tasks"]] == ["1", "2", "3"] and config["tasks"][1]["points"] == 6
    assert config["planned"] == {
        "1": {"checks": 2, "weight": 2.0},
        "2": {"checks": 2, "weight": 3.0},
        "3": {"checks": 0, "weight": 0.0},
    }
    assert (handout / config["scenarios"]).is_file() and all((handout / d).is_file() for d in config["data_files"])
    assert (handout / "NOTES.txt").read_text() == "toy extras\n"  # the assignment's own extra file
    assert (handout / "toylib" / "arith.py").read_text().count("NotImplementedError") == 2


def test_a_second_assignment_runs_on_the_same_runtime(toy_handout: tuple[Path, object], tmp_path: Path) -> None:
    handout, assignment = toy_handout
    bare = _pytest(shutil.copytree(handout, tmp_path / "bare"))
    assert bare.returncode == 1, bare.stdout[-2000:]
    assert "NotImplementedError: Task 2: mul" in bare.stdout and "0/10" in bare.stdout.split("scoreboard")[-1]
    done = shutil.copytree(handout, tmp_path / "done")
    shutil.rmtree(done / "toylib")
    shutil.copytree(assignment.reference_root / "toylib", done / "toylib")
    full = _pytest(done)
    assert full.returncode == 0 and "TOTAL" in full.stdout, full.stdout[-2000:]
    board = full.stdout.split("scoreboard")[-1]
    assert "4/4" in board and "6/6" in board, board  # task 3 has no public check: never shown as passed
    one = _pytest(done, "--task", "2")
    assert one.returncode == 0 and "test_add" not in one.stdout and "2 passed" in one.stdout, one.stdout[-2000:]
    handin = subprocess.run(
        [sys.executable, "tests/_support/handin.py"], cwd=done, capture_output=True, text=True, timeout=120
    )
    assert handin.returncode == 0, handin.stdout + handin.stderr
    with zipfile.ZipFile(done / "handin.zip") as archive:
        assert sorted(archive.namelist()) == ["toylib/__init__.py", "toylib/arith.py", "toylib/power.py"]


def test_handin_without_a_config_says_what_to_do(toy_handout: tuple[Path, object], tmp_path: Path) -> None:
    handout, _ = toy_handout
    broken = shutil.copytree(handout, tmp_path / "h")
    (broken / CONFIG_FILE).unlink()
    proc = subprocess.run(
        [sys.executable, "tests/_support/handin.py"], cwd=broken, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1 and "assignment.json" in proc.stdout and "restore it" in proc.stdout
    assert not (broken / "handin.zip").exists()


def test_student_traceback_shows_only_the_students_frames(tmp_path: Path) -> None:
    """errors.student_traceback, the one filter of the worker and the handout runner: frames under `keep`,
    paths relative to `root`; never the grader's files, nor pseudo-files such as <string> or <frozen ...>."""
    import importlib.util

    from autograder.framework.errors import student_traceback

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("def f(g):\n    return g()\n")
    (tmp_path / "outside.py").write_text("def boom():\n    raise ValueError('x')\n")
    loaded = {}
    for name, path in (("pkg_mod", tmp_path / "pkg" / "mod.py"), ("outside", tmp_path / "outside.py")):
        spec = importlib.util.spec_from_file_location(f"_tb_{name}", path)
        loaded[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded[name])
    try:
        exec(compile("f(boom)", "<string>", "exec"), {"f": loaded["pkg_mod"].f, "boom": loaded["outside"].boom})
    except ValueError as exc:
        caught = exc
    only_pkg = student_traceback(caught, tmp_path, keep=tmp_path / "pkg")
    assert only_pkg == '  File "pkg/mod.py", line 2, in f\n    return g()'
    whole = student_traceback(caught, tmp_path)
    assert "pkg/mod.py" in whole and 'File "outside.py", line 2, in boom' in whole
    assert "<string>" not in whole and "test_handout_runtime" not in whole
