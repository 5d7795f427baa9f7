"""What a tool needs of an assignment: its `Assignment` (from the registry) and its tool-only data.

Tool-only data lives in the assignment's folder (beside `assignment.py`) as plain Python literals in
`devtools.py`: it never imports the tools, so the installed grader (which never reads it) stays
independent of them. Known names: `SAMPLE_STUBBED`, `SAMPLE_BUGS` (tools/make_sample.py) and
`BENCH_YARDSTICK` (tools/bench/budget.py); each is optional.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import click

from autograder.cli.common import ASSIGNMENT_HELP, load_assignment
from autograder.framework.rubric import Assignment

DEVTOOLS_FILE = "devtools.py"


def resolve(name: str | None) -> Assignment:
    """The assignment named (or at that folder path), or the only registered one: the CLI's own lookup,
    so a bad name gets the same usage error listing the known ones."""
    return load_assignment(name)


def assignment_option(fn: Any) -> Any:
    """The tools' --assignment option (a name or a folder path; default: the only registered one)."""
    return click.option(
        "--assignment",
        "assignment_name",
        default=None,
        metavar="NAME_OR_PATH",
        envvar="AUTOGRADER_ASSIGNMENT",
        help=ASSIGNMENT_HELP,
    )(fn)


def folder(assignment: Assignment) -> Path:
    """The assignment's own folder (the one holding assignment.py, scenarios.py and tests/)."""
    return assignment.scenarios_file.resolve().parent


def devtools(assignment: Assignment) -> dict[str, Any]:
    """The public names of the assignment's `devtools.py` (an empty dict when it has none)."""
    path = folder(assignment) / DEVTOOLS_FILE
    if not path.is_file():
        return {}
    spec = importlib.util.spec_from_file_location(f"_devtools_{assignment.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {k: v for k, v in vars(module).items() if not k.startswith("_")}
