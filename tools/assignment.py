"""What a tool needs of an assignment: its `Assignment` (from the registry) and its tool-only data.

Tool-only data lives in the assignment's folder (beside `assignment.py`) as plain Python literals in
`devtools.py`: it never imports the tools, so the installed grader (which never reads it) stays
independent of them. Known names: `SAMPLE_STUBBED`, `SAMPLE_BUGS` (tools/make_sample.py) and
`BENCH_YARDSTICK` (tools/bench/budget.py); each is optional.
"""

from __future__ import annotations

import importlib.util
import pkgutil
from pathlib import Path
from typing import Any

import click

import autograder.assignments
from autograder.framework.rubric import Assignment

DEVTOOLS_FILE = "devtools.py"


def load(name: str) -> Assignment:
    """The assignment registered under `name` (or at that folder path); an unknown name names the known ones."""
    try:
        from autograder.assignments import load as registry_load  # the registry (issue 13)
    except ImportError:  # before the registry: the grader's own lookup
        from autograder.framework.grade import load_assignment as registry_load
    return registry_load(name)


def registered() -> list[str]:
    """The names of the assignments under autograder/assignments/ (each a folder with assignment.py)."""
    roots = list(autograder.assignments.__path__)
    return sorted(m.name for m in pkgutil.iter_modules(roots)
                  if m.ispkg and any(Path(root, m.name, "assignment.py").is_file() for root in roots))


def resolve(name: str | None) -> Assignment:
    """`load(name)`; without a name, the only registered assignment (a UsageError when there are several)."""
    if name is None:
        known = registered()
        if len(known) != 1:
            raise click.UsageError(f"give --assignment NAME (registered: {', '.join(known) or 'none'})")
        name = known[0]
    try:
        return load(name)
    except (LookupError, ValueError) as exc:  # the registry's UnknownAssignment is a ValueError
        raise click.BadParameter(str(exc), param_hint="--assignment") from exc


def assignment_option(fn: Any) -> Any:
    """The tools' --assignment option (a name or a folder path; default: the only registered assignment)."""
    return click.option("--assignment", "assignment_name", default=None, metavar="NAME",
                        help="A registered assignment, or the path of a folder holding assignment.py "
                             "(default: the only registered one). Example: --assignment hw1p1")(fn)


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
