"""Helpers that grade the reference with planted student bugs (the catalogue is in the test modules).

A bug is a `tools.planted.Bug` made of `Patch`es of the reference (the one representation, shared with
the sample handin): each patch replaces one exact snippet that must occur exactly once, so a patch that no
longer applies fails loudly instead of grading the plain reference. Bugs that touch different tasks share
one graded submission (a handin) to keep the catalogue fast.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autograder.framework.grade import GradeOutcome, grade_submission
from autograder.framework.rubric import Assignment
from tools.planted import Bug, Patch, apply_patches, patched_reference, patches_of

__all__ = [
    "Bug",
    "Patch",
    "apply_patches",
    "cached_grader",
    "fence_body",
    "grade_patched",
    "replace_fence",
    "restricted_assignment",
]


def fence_body(assignment: Assignment, path: str, begin: str) -> str:
    """The reference lines between the solution fence starting with `begin` and its END marker.

    Tests patch the reference through this instead of keeping copies of reference code.
    """
    text = (assignment.reference_root / assignment.package / path).read_text()
    start = text.index(begin)
    start = text.index("\n", start) + 1
    return text[start : text.index("    # END SOLUTION", start)].rstrip(" ")


def replace_fence(assignment: Assignment, path: str, begin: str, new: str) -> Patch:
    """A patch that swaps the whole body of one solution fence."""
    return Patch(path, fence_body(assignment, path, begin), new)


def restricted_assignment(assignment: Assignment, keep: tuple[str, ...], dest: Path) -> Assignment:
    """A copy of the assignment with only the test files whose names start with `keep`, and their tasks.

    Grading a bug only against the tests of the tasks it touches keeps the catalog fast; conftest.py
    and the shared helpers are kept.
    """
    tests = dest / "tests"
    shutil.copytree(assignment.tests_dir, tests, ignore=shutil.ignore_patterns("__pycache__"))
    for path in tests.rglob("test_*.py"):
        if not path.name.startswith(keep):
            path.unlink()
    # hw1p1's test files are named test_<task group>_...: keep the tasks those files cover.
    # A kept test_extra_* file must cover only tasks of the numbered groups kept beside it.
    groups = {name.split("_")[1] for name in keep if name.split("_")[1].isdigit()}
    tasks = tuple(t for t in assignment.tasks if t.id.split(".")[0] in groups)
    return dataclasses.replace(assignment, tests_dir=tests, tasks=tasks)


def grade_patched(
    assignment: Assignment, patches: tuple[Patch, ...], keep: tuple[str, ...] | None, tmp: Path, slot: int
) -> GradeOutcome:
    """Copy the reference package into tmp, apply the patches, grade it against the kept test files
    (None: the whole suite)."""
    handin = patched_reference(assignment, patches, tmp / "sub")
    restricted = assignment if keep is None else restricted_assignment(assignment, keep, tmp)
    return grade_submission(handin, restricted, tmp / "results.json", slot=slot, quiet=True)


def cached_grader(
    assignment: Assignment,
    handins: dict[str, Any],
    keep: Callable[[str], tuple[str, ...] | None],
    tmp_factory: Any,
    slot: int,
) -> Callable[[str], GradeOutcome]:
    """grade(handin name) -> GradeOutcome, each handin (its bugs' patches together) graded once against
    the test files keep(name) selects: what the planted-bug test modules share as their fixture."""
    cache: dict[str, GradeOutcome] = {}

    def grade(name: str) -> GradeOutcome:
        if name not in cache:
            patches = patches_of(handins[name])
            cache[name] = grade_patched(assignment, patches, keep(name), tmp_factory.mktemp(name), slot)
        return cache[name]

    return grade
