"""A planted student bug: the one representation shared by the sample handin and the tests' bug catalogue.

A `Patch` replaces one exact snippet of one file of the reference package, and the snippet must occur
exactly once: a patch that no longer applies (the reference changed) stops with a `PatchError` instead
of silently grading the plain reference. A `Bug` is what a student got wrong: the task that must lose
points, its patches, and (for the catalogue's tests) the test that must fail and the words its message
must contain.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from autograder.framework.rubric import Assignment


class PatchError(ValueError):
    """A patch does not apply: its file is missing or its text does not occur exactly once."""


@dataclass(frozen=True)
class Patch:
    """Replace `old` (which must occur exactly once) by `new` in `file`, a path relative to the package folder."""

    file: str
    old: str
    new: str

    def apply(self, text: str) -> str:
        """`text` with the replacement made; PatchError unless `old` occurs exactly once."""
        count = text.count(self.old)
        if count != 1:
            raise PatchError(
                f"the text to replace occurs {count} times in {self.file} "
                f"(must be exactly once; did the reference change?): {self.old!r}"
            )
        return text.replace(self.old, self.new)


@dataclass(frozen=True)
class Bug:
    """One planted student bug: the task that must lose points, the patches that plant it, what is wrong.

    `test` (a substring of a failing test's node id) and `hints` (words its message must contain) are
    the catalogue's expectations; `number` is the bug's number in DESIGN section 5 (0: not from it).
    """

    task: str
    patches: tuple[Patch, ...]
    why: str
    number: int = 0
    test: str = ""
    hints: tuple[str, ...] = ()


def patches_of(bugs: Iterable[Bug]) -> tuple[Patch, ...]:
    """Every patch of `bugs`, in order."""
    return tuple(p for bug in bugs for p in bug.patches)


def patch_files(files: dict[str, str], patches: Iterable[Patch]) -> dict[str, str]:
    """{package-relative path: text} with each patch applied (a new dict); PatchError when one does not apply."""
    files = dict(files)
    for patch in patches:
        if patch.file not in files:
            raise PatchError(f"{patch.file} is not in the package (did the reference change?)")
        files[patch.file] = patch.apply(files[patch.file])
    return files


def apply_patches(package_dir: Path, patches: Iterable[Patch]) -> None:
    """Apply each patch in place to the files under `package_dir`; PatchError when one does not apply."""
    for patch in patches:
        path = package_dir / patch.file
        if not path.is_file():
            raise PatchError(f"{patch.file} is not in the package (did the reference change?)")
        path.write_text(patch.apply(path.read_text(encoding="utf-8")), encoding="utf-8")


def patched_reference(assignment: Assignment, patches: Iterable[Patch], dest: Path) -> Path:
    """Copy the reference package into `dest/<package>`, apply the patches; return `dest` (a handin root)."""
    shutil.copytree(
        assignment.reference_root / assignment.package,
        dest / assignment.package,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    apply_patches(dest / assignment.package, patches)
    return dest
