"""Shared fixtures for the framework's tests: the Gradescope schema and a tiny toy assignment."""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
SCENARIOS = """
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
"""

CHECK = """
import numpy as np
import pytest

from autograder.framework.compare import CheckFailed


def check(name, got, want):
    if not np.allclose(got["out"], want["out"]):
        raise CheckFailed(f"{name}: wrong values; expected {np.round(want['out'], 3)}, got {np.round(got['out'], 3)}")
"""

PUBLIC_TESTS = (
    CHECK
    + """

@pytest.mark.rubric(task="1")
@pytest.mark.parametrize("n", [1, 3])
def test_add(student, reference, rng, n):
    a, b = rng.standard_normal(n), rng.standard_normal(n)
    check("add", student.run("add", a=a, b=b), reference.run("add", a=a, b=b))


@pytest.mark.rubric(task="2", weight=2)
def test_mul(student, reference, rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    check("mul", student.run("mul", a=a, b=b), reference.run("mul", a=a, b=b))
"""
)

HIDDEN_TESTS = (
    CHECK
    + """

@pytest.mark.rubric(task="2")
@pytest.mark.visibility("after_due_date")
def test_mul_broadcast(student, reference, rng):
    a, b = rng.standard_normal((2, 1)), rng.standard_normal((1, 3))
    check("mul", student.run("mul", a=a, b=b), reference.run("mul", a=a, b=b))


@pytest.mark.rubric(task="3")
def test_square(student, reference, rng):
    x = rng.standard_normal(4)
    check("square", student.run("square", x=x), reference.run("square", x=x))
"""
)


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
        name="toy",
        package="toylib",
        tasks=TOY_TASKS,
        reference_root=root / "reference",
        tests_dir=root / "tests",
        scenarios_file=root / "scenarios.py",
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


# ---- lanes: `unit` (make test-fast, < 2 min) and `integration`; the `slow` soaks (make test-slow) -------

# Files whose every test grades end to end (sandboxed workers, the CLI in a subprocess, regrades, bundles,
# other environments): their new tests are integration tests by default.
INTEGRATION_FILES = frozenset(
    {
        "test_aggregate_limits.py",
        "test_alternatives.py",
        "test_broken.py",
        "test_budget.py",
        "test_bug_catalog.py",
        "test_check.py",
        "test_determinism.py",
        "test_every_assignment.py",
        "test_gradescope_zip.py",
        "test_feedback.py",
        "test_forged_observations.py",
        "test_hostile.py",
        "test_input_classes.py",
        "test_misconceptions.py",
        "test_platforms.py",
        "test_regrade.py",
        "test_regrade_interrupt.py",
        "test_readme_recipe.py",
        "test_regrade_privacy.py",
        "test_replayed_answers.py",
        "test_sample_handin.py",
        "test_student_workflow.py",
        "test_tools.py",
        "test_traversal_bugs.py",
    }
)
# Single end-to-end tests in otherwise fast files (each > 5 s on a loaded 2-core machine): they run a
# sandboxed worker or the handout's whole public suite. Prefer @pytest.mark.integration on new ones.
INTEGRATION_TESTS = frozenset(
    {
        "test_hardening.py::test_hostile_text_reaches_every_output_path_safely",
        "test_hardening.py::test_deep_tree_in_the_workers_folder_is_cleaned_up",
        "test_hardening.py::test_deep_tree_is_refused_with_a_message_and_leaves_nothing",
        "test_hardening.py::test_a_refused_or_failed_reply_is_not_kept_alive_by_its_error",
        "test_handout.py::test_every_message_the_writeup_quotes_is_real_output",
        "test_handout.py::test_the_writeups_prerequisites_are_enough_for_the_tasks_that_have_them",
        "test_handout.py::test_a_partial_run_never_shows_pass_and_says_so_in_the_total",
        "test_handout.py::test_bare_handout_fails_every_task_with_its_stub_message_and_scores_zero",
        "test_handout.py::test_reference_code_in_the_handout_scores_full_marks",
        "test_handout.py::test_task_option_runs_one_task",
        "test_handout.py::test_check_only_names_the_files_that_drifted",
        "test_handout_runtime.py::test_a_second_assignment_runs_on_the_same_runtime",
    }
)
# Fixtures that start sandboxed workers or build whole environments: a test using one (directly or through
# another fixture) is an integration test wherever it lives. By convention a fixture holding a finished
# sandboxed grade is named `graded...`.
INTEGRATION_FIXTURES = frozenset({"make_client", "env", "student_env", "world_root", "gs_root", "spoofed"})
# A unit test slower than this is reported at the end of the run: it belongs in the integration lane.
UNIT_SECONDS = 5.0


def _is_integration(item: pytest.Item) -> bool:
    """The lane rule: an explicit `unit`/`integration` mark wins, then the file or test, then the fixtures."""
    if item.get_closest_marker("integration") is not None:
        return True
    if item.get_closest_marker("unit") is not None:
        return False
    fixtures = set(getattr(item, "fixturenames", ()))
    test = f"{item.path.name}::{getattr(item, 'originalname', item.name)}"
    return (
        item.path.name in INTEGRATION_FILES
        or test in INTEGRATION_TESTS
        or bool(fixtures & INTEGRATION_FIXTURES)
        or any(name.startswith("graded") for name in fixtures)
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    """--run-slow: also run tests marked slow."""
    parser.addoption("--run-slow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put every test in one lane (`-m unit` / `-m integration`); skip slow tests unless --run-slow or
    AUTOGRADER_RUN_SLOW=1."""
    for item in items:
        item.add_marker(pytest.mark.integration if _is_integration(item) else pytest.mark.unit)
    if config.getoption("--run-slow") or os.environ.get("AUTOGRADER_RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow or AUTOGRADER_RUN_SLOW=1 (make test-slow)")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)


_slow_units: list[tuple[float, str]] = []
_setup_seconds: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Note unit tests whose setup + call took longer than UNIT_SECONDS, to name them at the end."""
    if "unit" not in report.keywords:
        return
    if report.when == "setup":
        _setup_seconds[report.nodeid] = report.duration
    elif report.when == "call":
        spent = _setup_seconds.pop(report.nodeid, 0.0) + report.duration
        if spent > UNIT_SECONDS:
            _slow_units.append((spent, report.nodeid))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Name the unit tests that keep `make test-fast` from staying fast, and say how to move them."""
    if _slow_units:
        terminalreporter.write_sep("-", f"unit tests slower than {UNIT_SECONDS:g} s (fast lane budget: 2 min)")
        for spent, nodeid in sorted(_slow_units, reverse=True):
            terminalreporter.write_line(f"{spent:6.1f}s {nodeid}")
        terminalreporter.write_line(
            "Mark them @pytest.mark.integration (or list their file or fixture in "
            "INTEGRATION_FILES / INTEGRATION_FIXTURES in tests/conftest.py)."
        )
