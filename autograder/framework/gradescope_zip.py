"""`autograder gradescope --out dist/autograder.zip`: the zip to upload as a Gradescope autograder.

Gradescope unpacks it into /autograder/source and runs `setup.sh` once (image build) and
`run_autograder` per submission (both as root). The zip holds those two scripts at its root plus
what they need: pyproject.toml, README.md, the `autograder` package and the reference solution,
which only the trusted parent reads (setup.sh locks it away from the worker's uid).
The zip is reproducible: sorted entries, fixed timestamps, fixed permissions.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import autograder
from autograder.framework.rubric import Assignment
from autograder.framework.zips import write_zip

PROJECT_ROOT = Path(autograder.__file__).resolve().parent.parent
TEMPLATES = Path(autograder.__file__).resolve().parent / "gradescope"
SCRIPTS = ("setup.sh", "run_autograder")
TOP_FILES = ("pyproject.toml", "README.md", "LICENSE")
SKIP_DIRS = frozenset({"__pycache__", ".pytest_cache", ".hypothesis", ".mypy_cache", ".git", ".venv"})
SKIP_SUFFIXES = (".pyc", ".pyo", ".egg-info")


def project_entries(assignment: Assignment, project_root: Path = PROJECT_ROOT) -> dict[str, tuple[bytes, int]]:
    """{relative name: (content, unix mode)} of what any deployed grader needs: pyproject.toml, README,
    the `autograder` package and the reference (at its path relative to `project_root`, where the
    grader looks for it). Shared by the Gradescope zip and the Autolab / PrairieLearn bundles."""
    project_root = project_root.resolve()
    reference = assignment.reference_root.resolve()
    if not reference.is_relative_to(project_root):
        raise ValueError(
            f"the reference {reference} is not inside the project {project_root}: a deployed grader "
            "holds only the project (register the assignment under autograder/assignments/)"
        )
    entries: dict[str, tuple[bytes, int]] = {}  # name -> (content, unix mode)
    for name in TOP_FILES:
        if (project_root / name).is_file():
            entries[name] = ((project_root / name).read_bytes(), 0o644)
    # The package without the other assignments registered beside this one (their hidden tests and data are
    # no business of this course's image): a folder holding another assignment.py is left out.
    own = Path(os.path.commonpath([assignment.tests_dir.resolve(), assignment.scenarios_file.resolve()]))
    for folder in (project_root / "autograder", reference):
        for path in _files_under(folder, keep=own):
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            entries[path.relative_to(project_root).as_posix()] = (path.read_bytes(), mode)
    return entries


def build_gradescope_zip(out: Path, assignment: Assignment, project_root: Path = PROJECT_ROOT) -> list[str]:
    """Write the Gradescope autograder zip for `assignment` to `out`; return the entry names.

    `run_autograder` gets the assignment's name filled in.
    """
    entries = project_entries(assignment, project_root)
    for script in SCRIPTS:
        text = (TEMPLATES / script).read_text(encoding="utf-8").replace("@ASSIGNMENT@", assignment.name)
        entries[script] = (text.encode("utf-8"), 0o755)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    try:
        write_zip(tmp, entries)
        tmp.replace(out)  # never leave a half-written zip where an upload could pick it up
    except BaseException:
        tmp.unlink(missing_ok=True)  # nor a half-written .tmp beside it
        raise
    return sorted(entries)


def _files_under(folder: Path, keep: Path | None = None) -> Iterator[Path]:
    """Regular files under `folder`, without caches, bytecode, build metadata or symlinks, nor any other
    assignment's folder (one holding an assignment.py, other than `keep`)."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIP_DIRS
            and not d.endswith(SKIP_SUFFIXES)
            and not (
                keep is not None and (Path(root) / d / "assignment.py").is_file() and Path(root, d).resolve() != keep
            )
        )
        for name in sorted(files):
            path = Path(root) / name
            if not name.endswith(SKIP_SUFFIXES) and path.is_file() and not path.is_symlink():
                yield path
