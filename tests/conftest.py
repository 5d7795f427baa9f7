"""Shared fixtures for the framework's tests: the Gradescope schema and a tiny toy assignment."""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from autograder.framework.rubric import Assignment, Task

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def schema() -> Callable[[dict[str, Any]], None]:
    """validate(report): raises jsonschema.ValidationError unless `report` is a valid Gradescope results.json.

    The schema is a copy of /work/shared/spec/gradescope-results.schema.json kept in tests/data so CI has it.
    """
    import jsonschema

    validator = jsonschema.Draft202012Validator(json.loads((DATA / "gradescope-results.schema.json").read_text()))
    return validator.validate


@pytest.fixture(scope="session")
def sample_handin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hw1p1's sample handin (tools/make_sample.py: the reference with two tasks stubbed and two bugs
    planted), generated once per session into a temporary folder: it is never committed."""
    from autograder.assignments.hw1p1.assignment import ASSIGNMENT
    from tools.make_sample import write_sample

    return write_sample(ASSIGNMENT, tmp_path_factory.mktemp("sample") / "handin")


# ---- the toy assignment: package `toylib`, three tasks, public and hidden tests -----------------------

TOY_TASKS = (Task("1", "Add", 4), Task("2", "Mul", 6), Task("3", "Square", 2))

TOYLIB = {
    "__init__.py": '"""Toy package under test."""\n',
    "arith.py": "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n",
    "power.py": "def square(x):\n    return x ** 2\n",
}

# Each submodule is imported inside the scenario, so a broken module fails only the scenarios using it.
SCENARIOS = '''
import importlib


def _mod(lib, name):
    return importlib.import_module(lib.__name__ + "." + name)


def add(lib, a, b):
    return {"out": _mod(lib, "arith").add(a, b)}


def mul(lib, a, b):
    return {"out": _mod(lib, "arith").mul(a, b)}


def square(lib, x):
    print("squaring", x.shape)
    return {"out": _mod(lib, "power").square(x)}
'''

CHECK = '''
import numpy as np
import pytest

from autograder.framework.compare import CheckFailed


def check(name, got, want):
    if not np.allclose(got["out"], want["out"]):
        raise CheckFailed(f"{name}: wrong values; expected {np.round(want['out'], 3)}, got {np.round(got['out'], 3)}")
'''

PUBLIC_TESTS = CHECK + '''

@pytest.mark.rubric(task="1")
@pytest.mark.parametrize("n", [1, 3])
def test_add(student, reference, rng, n):
    a, b = rng.standard_normal(n), rng.standard_normal(n)
    check("add", student.run("add", a=a, b=b), reference.run("add", a=a, b=b))


@pytest.mark.rubric(task="2", weight=2)
def test_mul(student, reference, rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    check("mul", student.run("mul", a=a, b=b), reference.run("mul", a=a, b=b))
'''

HIDDEN_TESTS = CHECK + '''

@pytest.mark.rubric(task="2")
@pytest.mark.visibility("after_due_date")
def test_mul_broadcast(student, reference, rng):
    a, b = rng.standard_normal((2, 1)), rng.standard_normal((1, 3))
    check("mul", student.run("mul", a=a, b=b), reference.run("mul", a=a, b=b))


@pytest.mark.rubric(task="3")
def test_square(student, reference, rng):
    x = rng.standard_normal(4)
    check("square", student.run("square", x=x), reference.run("square", x=x))
'''


@dataclass
class Toy:
    """A toy assignment on disk, and ways to make submissions for it."""

    root: Path
    assignment: Assignment

    def submission(self, name: str = "good", **files: str) -> Path:
        """A handin folder holding the reference toylib with `files` (module name -> source) replaced."""
        dest = self.root / "handins" / name
        shutil.copytree(self.assignment.reference_root / "toylib", dest / "toylib")
        for module, source in files.items():
            (dest / "toylib" / f"{module}.py").write_text(textwrap.dedent(source))
        return dest


def write_toy(root: Path, extra_tests: dict[str, str] | None = None) -> Toy:
    """Write the toy assignment under `root`; `extra_tests` adds test files (path under tests/ -> source)."""
    for name, source in TOYLIB.items():
        path = root / "reference" / "toylib" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    (root / "scenarios.py").write_text(SCENARIOS)
    files = {"public/test_public.py": PUBLIC_TESTS, "hidden/test_hidden.py": HIDDEN_TESTS, **(extra_tests or {})}
    for rel, source in files.items():
        (root / "tests" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "tests" / rel).write_text(source)
    assignment = Assignment(
        name="toy", package="toylib", tasks=TOY_TASKS, reference_root=root / "reference",
        tests_dir=root / "tests", scenarios_file=root / "scenarios.py",
    )
    return Toy(root, assignment)


@pytest.fixture
def toy(tmp_path: Path) -> Toy:
    """The toy assignment (tasks 1 Add 4 pts, 2 Mul 6 pts, 3 Square 2 pts) in a fresh folder."""
    return write_toy(tmp_path / "toy")


@pytest.fixture
def make_toy(tmp_path: Path) -> Callable[..., Toy]:
    """make_toy(extra_tests={...}): the toy assignment with more test files."""
    return lambda extra_tests=None: write_toy(tmp_path / "toy", extra_tests)


@pytest.fixture(autouse=True, scope="session")
def _private_reference_cache(tmp_path_factory: pytest.TempPathFactory):
    """The framework's tests never read or fill the machine's real reference-answer cache."""
    saved = os.environ.get("AUTOGRADER_CACHE_DIR")
    os.environ["AUTOGRADER_CACHE_DIR"] = str(tmp_path_factory.mktemp("reference-cache"))
    yield
    if saved is None:
        os.environ.pop("AUTOGRADER_CACHE_DIR", None)
    else:
        os.environ["AUTOGRADER_CACHE_DIR"] = saved


# ---- the `slow` marker: soak tests run only on request (`make test-slow`) -----------------------------

def pytest_addoption(parser: pytest.Parser) -> None:
    """--run-slow: also run tests marked slow."""
    parser.addoption("--run-slow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip slow tests unless --run-slow or AUTOGRADER_RUN_SLOW=1."""
    import os

    if config.getoption("--run-slow") or os.environ.get("AUTOGRADER_RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow or AUTOGRADER_RUN_SLOW=1 (make test-slow)")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)
