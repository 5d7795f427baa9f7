"""`autograder check` and `make check`: a broken test suite never ships.

A hidden test that calls a scenario that does not exist makes the reference lose points with an
internal grader error; `make gradescope` must stop before writing the zip, naming the test and its
exception. A test without a rubric mark stops the check at collection.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.framework.check import check_collection, run_check

ROOT = Path(__file__).resolve().parents[1]
SLOT = 21

BROKEN = textwrap.dedent("""
    import pytest

    @pytest.mark.rubric(task="2.3")
    def test_calls_a_missing_scenario(student, reference):
        reference.run("no_such_scenario", x=1)
""")


def test_an_unmarked_test_stops_the_check_at_collection(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    shutil.copytree(ASSIGNMENT.tests_dir, tests, ignore=shutil.ignore_patterns("__pycache__"))
    (tests / "hidden" / "test_9_unmarked.py").write_text("def test_no_mark(student):\n    pass\n")
    broken = dataclasses.replace(ASSIGNMENT, tests_dir=tests)
    (problem,) = check_collection(broken)
    assert "test_9_unmarked.py::test_no_mark" in problem and "no @pytest.mark.rubric" in problem
    lines: list[str] = []
    assert run_check(broken, SLOT, lines.append)  # and nothing is graded after it
    assert lines[-1].startswith("(the other steps need tests that collect")
    assert check_collection(ASSIGNMENT) == []  # control: the real suite collects cleanly


def test_make_gradescope_refuses_a_broken_test(tmp_path: Path) -> None:
    """The real Makefile on a copy of the project with one broken hidden test: check fails, no zip."""
    copy = tmp_path / "project"
    for name in ("autograder", "solutions"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("Makefile", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, copy / name)
    (copy / "autograder/assignments/hw1p1/tests/hidden/test_9_broken.py").write_text(BROKEN)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    # STAMP= skips the venv set-up; `python -m autograder` from the copy's root runs the copy's grader.
    proc = subprocess.run(
        ["make", "gradescope", "STAMP=", f"AG={sys.executable} -m autograder", f"SLOT={SLOT}", "ASSIGNMENT=hw1p1"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert not (copy / "dist" / "hw1p1" / "autograder.zip").exists() and not (copy / "dist").exists()
    assert "[FAILED] the reference scores full marks" in out, out
    assert "test_9_broken.py::test_calls_a_missing_scenario" in out and "LookupError" in out, out
    assert "[ok] tests collect" in out and "the bare handout" in out
