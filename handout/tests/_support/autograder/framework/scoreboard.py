"""The console scoreboard: one fixed-width row per task and a total (standard library only)."""

from __future__ import annotations

from typing import Sequence

from autograder.framework.scoring import TaskScore, total
from autograder.framework.text import clean

TITLE_WIDTH = 50  # hw1p1's longest task title fits; longer ones are clipped with '...'
NOTE_WIDTH = 60


def _clip(text: str, width: int) -> str:
    """`text` cut to `width` characters, marking the cut with '...'."""
    return text if len(text) <= width else text[: width - 3] + "..."


def _points(x: float) -> str:
    """6 -> '6', 2.5 -> '2.5', 1.333 -> '1.33'."""
    return f"{x:.2f}".rstrip("0").rstrip(".")


def first_failure_line(score: TaskScore) -> str:
    """First line of the first failing test's message ('' when every test passed), safe to print anywhere."""
    for o in score.failures:
        lines = [ln.strip() for ln in clean(o.message[:4096]).splitlines() if ln.strip()]
        return lines[0] if lines else "failed"
    return ""


def render(scores: Sequence[TaskScore]) -> str:
    """The scoreboard as text: task, title, earned/possible, PASS/PARTIAL/FAIL, first failure; total line."""
    head = f"{'task':<5} {'title':<{TITLE_WIDTH}} {'points':>11}  {'status':<7}  first failure"
    rows = [head, "-" * len(head)]
    for s in scores:
        pts = f"{_points(s.score)}/{_points(s.max_score)}"
        note = _clip(first_failure_line(s), NOTE_WIDTH)
        rows.append(
            f"{s.task.id:<5} {_clip(s.task.title, TITLE_WIDTH):<{TITLE_WIDTH}} {pts:>11}  {s.status:<7}  {note}".rstrip()
        )
    earned, possible = total(scores)
    rows.append("-" * len(head))
    rows.append(f"{'':<5} {'TOTAL':<{TITLE_WIDTH}} {_points(earned) + '/' + _points(possible):>11}")
    return "\n".join(rows)
