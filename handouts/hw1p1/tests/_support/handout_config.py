"""The handout's assignment, as data: tests/_support/assignment.json, written by the handout generator.

The contract between the generator (autograder/framework/handoutgen.py, `handout_config`) and this
runtime. Every key is required; paths are "/"-separated and relative to the handout folder:

    format       1 (this layout)
    name         the assignment's name (rubric.Assignment.name)
    package      the package students write and hand in (rubric.Assignment.package)
    tasks        [{"id": "2.3", "title": "...", "points": 5}, ...]: rubric.Task fields, in rubric order
    budget       rubric.TimeBudget fields (total, floor, factor, timeouts_in_a_row)
    feedback     rubric.FeedbackPolicy fields (before_due, after_due)
    scenarios    the scenarios file: "tests/_support/autograder/assignments/<name>/scenarios.py"
    data_files   the data files, at their paths relative to the scenarios file's folder under that same
                 folder, e.g. ["tests/_support/autograder/assignments/<name>/data/<file>.npz"]
    expected     the reference's recorded answers to the public tests, e.g. "tests/expected.npz"
    planned      {task id: {"checks": n, "weight": w}}: what a full run of the public tests has per task
                 (the scoreboard marks a partial run with it)
    likely_causes  [[exception type, regex on its message, cause], ...]: rubric.Assignment.likely_causes,
                 so a failing public test names the same likely cause as the grader

Standard library only: `make handin` reads it before numpy is known to import.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CONFIG_FILE = "tests/_support/assignment.json"
FORMAT = 1
KEYS = (
    "format",
    "name",
    "package",
    "tasks",
    "budget",
    "feedback",
    "scenarios",
    "data_files",
    "expected",
    "planned",
    "likely_causes",
)


class ConfigError(Exception):
    """The handout's assignment.json is missing or damaged (restore it from the handout zip)."""


def read_config(handout_root: Path) -> dict[str, Any]:
    """The handout's assignment.json, checked for every key; ConfigError saying what to do otherwise."""
    path = Path(handout_root) / CONFIG_FILE
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {CONFIG_FILE} ({exc}): restore it from the handout zip") from None
    missing = [k for k in KEYS if not isinstance(config, dict) or k not in config]
    if missing or config.get("format") != FORMAT:
        raise ConfigError(
            f"{CONFIG_FILE} is not a format-{FORMAT} handout config "
            f"(missing: {', '.join(missing) or '-'}): restore it from the handout zip"
        )
    return config
