"""The assignment registry: every assignment graded by this repository, one subpackage each.

An assignment is a folder holding `assignment.py`, which defines `ASSIGNMENT` (a
`autograder.framework.rubric.Assignment`). The registered ones are the subpackages of this package
(`autograder/assignments/<name>/assignment.py`); a TA's own course may live anywhere else and is
named by its folder's path instead (`autograder grade --assignment ~/course/lab3 handin.zip`).
The framework never imports this module: the CLI and the tools resolve a name here and hand the
framework the `Assignment` object.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import pkgutil
import sys
from dataclasses import replace
from pathlib import Path

from autograder.framework.rubric import Assignment

ASSIGNMENT_FILE = "assignment.py"


class UnknownAssignment(ValueError):
    """No registered assignment has this name and no folder at this path holds an assignment.py."""


def names() -> list[str]:
    """The registered assignments' names, sorted (subpackages of this package with an assignment.py)."""
    here = Path(__file__).resolve().parent
    return sorted(
        m.name for m in pkgutil.iter_modules([str(here)]) if m.ispkg and (here / m.name / ASSIGNMENT_FILE).is_file()
    )


def default_name() -> str | None:
    """The only registered assignment when there is exactly one, else None (then a name is required)."""
    known = names()
    return known[0] if len(known) == 1 else None


def _looks_like_path(text: str) -> bool:
    """Whether `text` names a folder rather than a registered assignment (a separator, ~ or a leading dot)."""
    return "/" in text or "\\" in text or text.startswith((".", "~"))


def load(name_or_path: str | Path) -> Assignment:
    """The `ASSIGNMENT` of a registered assignment (by name) or of a folder holding assignment.py (by path).

    Raises UnknownAssignment naming the registered assignments when neither fits.
    """
    text = str(name_or_path)
    if text in names():
        return replace(importlib.import_module(f"{__name__}.{text}.assignment").ASSIGNMENT, source=text)
    folder = Path(text).expanduser()
    if _looks_like_path(text) or folder.is_dir():
        if not (folder / ASSIGNMENT_FILE).is_file():
            raise UnknownAssignment(
                f"{folder} has no {ASSIGNMENT_FILE} defining ASSIGNMENT (registered assignments: {_known()})"
            )
        return replace(_load_folder(folder.resolve()), source=str(folder.resolve()))
    raise UnknownAssignment(
        f"no assignment {text!r}: registered assignments are {_known()}; "
        "or give the path of a folder holding assignment.py"
    )


def _known() -> str:
    return ", ".join(names()) or "(none)"


def _load_folder(folder: Path) -> Assignment:
    """Import folder/assignment.py under a private module name (so two course folders never collide)."""
    module_name = "_autograder_assignment_" + hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    if module_name in sys.modules:
        module = sys.modules[module_name]
    else:
        spec = importlib.util.spec_from_file_location(module_name, folder / ASSIGNMENT_FILE)
        if spec is None or spec.loader is None:
            raise UnknownAssignment(f"cannot import {folder / ASSIGNMENT_FILE}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
    assignment = getattr(module, "ASSIGNMENT", None)
    if not isinstance(assignment, Assignment):
        raise UnknownAssignment(f"{folder / ASSIGNMENT_FILE} does not define ASSIGNMENT = Assignment(...)")
    return assignment
