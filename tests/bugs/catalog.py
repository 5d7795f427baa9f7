"""The student bugs of DESIGN section 5 as patches of the reference, and a helper that grades a patched copy.

A Patch replaces one exact snippet of one reference file (it must occur exactly once, so a patch that
no longer applies fails loudly instead of grading the plain reference). Bugs that touch different
tasks share one graded submission (a Handin) to keep the catalog fast; each Bug names the test whose
failure proves it was caught and the words its feedback must contain.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from autograder.framework.grade import GradeOutcome, grade_submission
from autograder.framework.rubric import Assignment


@dataclass(frozen=True)
class Patch:
    """Replace `old` (which must occur exactly once) by `new` in `file` (relative to the package)."""

    file: str
    old: str
    new: str


@dataclass(frozen=True)
class Bug:
    """One planted student bug: DESIGN section 5 number, the patches, where it must be caught and how."""

    number: int
    name: str
    patches: tuple[Patch, ...]
    task: str  # the task that must lose points
    test: str  # substring of the node id of a test that must fail
    hints: tuple[str, ...]  # each must appear (case-insensitive) in that test's message


def fence_body(assignment: Assignment, path: str, begin: str) -> str:
    """The reference lines between the solution fence starting with `begin` and its END marker.

    Tests patch the reference through this instead of keeping copies of reference code.
    """
    text = (assignment.reference_root / assignment.package / path).read_text()
    start = text.index(begin)
    start = text.index("\n", start) + 1
    return text[start:text.index("    # END SOLUTION", start)].rstrip(" ")


def replace_fence(assignment: Assignment, path: str, begin: str, new: str) -> Patch:
    """A patch that swaps the whole body of one solution fence."""
    return Patch(path, fence_body(assignment, path, begin), new)


def apply_patches(package_dir: Path, patches: tuple[Patch, ...]) -> None:
    """Apply each patch in place; AssertionError when a snippet is missing or ambiguous."""
    for patch in patches:
        path = package_dir / patch.file
        text = path.read_text()
        count = text.count(patch.old)
        assert count == 1, f"patch for {patch.file} matches {count} times (reference changed?):\n{patch.old}"
        path.write_text(text.replace(patch.old, patch.new))


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


def grade_patched(assignment: Assignment, patches: tuple[Patch, ...], keep: tuple[str, ...] | None, tmp: Path,
                  slot: int) -> GradeOutcome:
    """Copy the reference package into tmp, apply the patches, grade it against the kept test files
    (None: the whole suite)."""
    package = tmp / "sub" / assignment.package
    shutil.copytree(assignment.reference_root / assignment.package, package,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    apply_patches(package, patches)
    restricted = assignment if keep is None else restricted_assignment(assignment, keep, tmp)
    return grade_submission(package.parent, restricted, tmp / "results.json", slot=slot, quiet=True)


def cached_grader(assignment: Assignment, handins: dict[str, Any], keep: Callable[[str], tuple[str, ...] | None],
                  tmp_factory: Any, slot: int) -> Callable[[str], GradeOutcome]:
    """grade(handin name) -> GradeOutcome, each handin (its bugs' patches together) graded once against
    the test files keep(name) selects: what the planted-bug test modules share as their fixture."""
    cache: dict[str, GradeOutcome] = {}

    def grade(name: str) -> GradeOutcome:
        if name not in cache:
            patches = tuple(p for bug in handins[name] for p in bug.patches)
            cache[name] = grade_patched(assignment, patches, keep(name), tmp_factory.mktemp(name), slot)
        return cache[name]

    return grade
