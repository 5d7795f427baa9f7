"""The console scoreboard: one fixed-width row per task and a total (standard library only)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from autograder.framework.scoring import TaskScore, total
from autograder.framework.text import clean

TITLE_WIDTH = 50  # a descriptive task title fits; longer ones are clipped with '...'
NOTE_WIDTH = 60

# task id -> {"checks": how many checks a full run has, "weight": their total weight}
Planned = Mapping[str, Mapping[str, float]]


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


def partly_run(score: TaskScore, planned: Planned | None) -> tuple[int, int] | None:
    """(checks run, checks in a full run) when fewer of the task's checks ran than a full run has."""
    full = int((planned or {}).get(score.task.id, {}).get("checks", 0))
    return (len(score.outcomes), full) if len(score.outcomes) < full else None


def honest_score(score: TaskScore, planned: Planned | None) -> float:
    """The task's points with the checks that did not run counted as not (yet) passed."""
    run = partly_run(score, planned)
    if run is None:
        return score.score
    ran_weight = sum(o.weight for o in score.outcomes)
    full_weight = float((planned or {})[score.task.id].get("weight", run[1]))
    return round(score.score * ran_weight / full_weight, 2) if full_weight > 0 else 0.0


def render(scores: Sequence[TaskScore], planned: Planned | None = None) -> str:
    """The scoreboard as text: task, title, earned/possible, status, first failure; total line.

    The status is PASS / PARTIAL / FAIL when all the task's checks ran. With `planned` (the checks of a
    full run, per task), a task of which only some checks ran shows e.g. `2/7 run` instead, never PASS,
    its points count the checks that did not run as not passed, and the total says "partial run".
    """
    head = f"{'task':<5} {'title':<{TITLE_WIDTH}} {'points':>11}  {'status':<7}  first failure"
    rows = [head, "-" * len(head)]
    partial = False
    earned = 0.0
    for s in scores:
        run = partly_run(s, planned)
        partial = partial or run is not None
        got = honest_score(s, planned)
        earned += got
        pts = f"{_points(got)}/{_points(s.max_score)}"
        status = f"{run[0]}/{run[1]} run" if run else s.status
        note = _clip(first_failure_line(s), NOTE_WIDTH)
        rows.append(
            f"{s.task.id:<5} {_clip(s.task.title, TITLE_WIDTH):<{TITLE_WIDTH}} {pts:>11}  {status:<7}  {note}".rstrip()
        )
    _, possible = total(scores)
    rows.append("-" * len(head))
    line = f"{'':<5} {'TOTAL':<{TITLE_WIDTH}} {_points(round(earned, 2)) + '/' + _points(possible):>11}"
    if planned is not None:
        ran = sum(len(s.outcomes) for s in scores)
        full = int(sum(p.get("checks", 0) for p in planned.values()))
        if partial or ran < full:
            line += f"  (partial run: {ran} of {full} checks ran)"
    rows.append(line)
    return "\n".join(rows)
