"""What a tool needs of an assignment beyond its `Assignment` (which the tools get through the CLI's own
`--assignment` option, autograder.cli.common): its folder and its tool-only data.

Tool-only data lives in the assignment's folder (beside `assignment.py`) as plain Python literals in
`devtools.py`: it never imports the tools, so the installed grader (which never reads it) stays
independent of them. Known names: `SAMPLE_STUBBED`, `SAMPLE_BUGS` (tools/make_sample.py) and
`BENCH_YARDSTICK` (tools/bench/budget.py); each is optional.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from autograder.framework.rubric import Assignment

DEVTOOLS_FILE = "devtools.py"


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
