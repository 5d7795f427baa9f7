"""Local test set-up for the handout: the grader's own pytest plugin, run on your package in-process.

`make test` runs the public tests in tests/ with the same harness, checks and messages as the grader.
Two things differ from Gradescope (see tests/_support/handout_backend.py):
- your code runs in this process (with a time limit per call) instead of a sandbox;
- expected values come from the reference's answers recorded for exactly these tests (tests/expected.npz).
The grader also runs hidden tests: more shapes, numerical checks, timing, training.
What the assignment is (name, package, tasks and points) is read from tests/_support/assignment.json.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SUPPORT = HERE / "tests" / "_support"
sys.path.insert(0, str(SUPPORT))  # the framework modules the tests import, shipped beside them
# A grader installed in the same environment (course staff) must not shadow the copy shipped here.
for _name in [m for m in sys.modules if m == "autograder" or m.startswith("autograder.")]:
    del sys.modules[_name]

from handout_backend import (  # type: ignore  # noqa: E402  (tests/_support, on sys.path above)
    InProcessStudent,
    RecordedReference,
    RecordingReference,
    assignment_from_config,
)
from handout_config import read_config  # type: ignore  # noqa: E402

from autograder.framework.harness import Harness, InProcessRunner, rubric_mark  # noqa: E402

CONFIG = read_config(HERE)
ASSIGNMENT = assignment_from_config(CONFIG, HERE)
EXPECTED = HERE / CONFIG["expected"]
# Set only by the handout generator (course staff), which runs these tests once on the reference
# to record its answers into the expected file.
RECORD_TO = os.environ.get("AUTOGRADER_HANDOUT_RECORD")
REFERENCE_ROOT = os.environ.get("AUTOGRADER_HANDOUT_REFERENCE")


class _Backend:
    """The harness's two providers: who runs your code, and where the expected values come from."""

    def __init__(self) -> None:
        if RECORD_TO and REFERENCE_ROOT:
            reference_lib = Path(REFERENCE_ROOT)
            self.student = InProcessStudent(reference_lib, ASSIGNMENT.package, ASSIGNMENT.scenarios_file)
            self.reference = RecordingReference(
                InProcessRunner(reference_lib, ASSIGNMENT.package, ASSIGNMENT.scenarios_file)
            )
        else:
            self.student = InProcessStudent(HERE, ASSIGNMENT.package, ASSIGNMENT.scenarios_file)
            self.reference = RecordedReference(EXPECTED, self.student)


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--task 2.3` (what `make test TASK=2.3` passes) runs one task's tests; `--task 2` runs 2.1, 2.2, ..."""
    parser.addoption("--task", default=None, help="run only this task's tests, e.g. 2.3 (or 2 for all of 2.x)")


def pytest_configure(config: pytest.Config) -> None:
    """Plug the grader's harness in, with the scoreboard printed at the end."""
    config.pluginmanager.register(
        Harness(ASSIGNMENT, _Backend(), scoreboard=True, planned=CONFIG["planned"]), "grading-harness"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep only the tests of --task (matched against each test's rubric mark)."""
    wanted = config.getoption("--task")
    if not wanted:
        return
    known = [t.id for t in ASSIGNMENT.tasks]
    if not any(t == wanted or t.startswith(wanted + ".") for t in known):
        raise pytest.UsageError(f"TASK={wanted} is not a task; the tasks are {', '.join(known)}")

    def task_of(item: pytest.Item) -> str:
        mark = rubric_mark(item)
        return str(mark[0]) if mark and mark[0] is not None else ""

    keep = [i for i in items if task_of(i) == wanted or task_of(i).startswith(wanted + ".")]
    dropped = [i for i in items if i not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = keep


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """When recording for the generator, save the reference's answers (only from a fully green run)."""
    if RECORD_TO and REFERENCE_ROOT and exitstatus == 0:
        harness = session.config.pluginmanager.get_plugin("grading-harness")
        harness.backend.reference.save(Path(RECORD_TO))
