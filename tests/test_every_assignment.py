"""Every registered assignment, through the one CLI: `autograder check` passes (its tests collect with
rubric marks, the reference scores full marks, the bare handout 0) and its committed handout is what
the generator makes now. A new assignment is covered here the moment it is registered."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import assignments

REPO = Path(__file__).resolve().parents[1]
SLOT = 42  # this file's sandbox slot (a worker uid of its own)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autograder", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ),
    )


def test_two_assignments_are_registered() -> None:
    assert {"hw1p1", "lab0"} <= set(assignments.names())


@pytest.mark.parametrize("name", assignments.names())
def test_check_passes_reference_full_marks_handout_zero(name: str) -> None:
    done = _cli("check", "--assignment", name, "--slot", str(SLOT))
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    for step in ("the reference scores full marks", "the bare handout scores 0"):
        assert f"[ok] {step}" in out, out


@pytest.mark.parametrize("name", assignments.names())
def test_the_committed_handout_is_current(name: str) -> None:
    done = _cli("handout", "--assignment", name, "--check-only")
    assert done.returncode == 0, (
        f"handouts/{name}/ drifted: run `make handout ASSIGNMENT={name}`\n{done.stdout}{done.stderr}"
    )
