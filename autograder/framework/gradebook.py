"""The regrade's gradebook: scores.csv (one row per student) and a CSV Gradescope can import.

A group submission gives each member their own row (a gradebook is keyed by student, not by
submission). Every row has a non-empty `status`: `graded`, `refused` (the handin itself is unusable:
0 points, the reason in `error`), `grader error`, `timed out`, `missing` (listed in the export's
metadata without a folder) or `not graded` (the regrade was interrupted before it).
Lateness compares the export's `:created_at` with the due date (the assignment's `due_date`, or
`regrade --due`); both are optional, and an unknown lateness stays blank.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from autograder.framework.reports import write_private
from autograder.framework.rubric import Assignment

SCORES_FILE = "scores.csv"
GRADESCOPE_FILE = "gradescope_scores.csv"
# Gradescope's export writes Ruby times: "2026-02-01 10:00:00.000000000 -05:00" (or ISO 8601 with a T).
_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?\s*(Z|[+-]\d{2}:?\d{2})?\s*$")


@dataclass
class Student:
    """One submitter of a submission."""

    name: str = ""
    sid: str = ""
    email: str = ""


@dataclass
class Row:
    """What the gradebook needs about one submission and its regrade."""

    id: str
    students: list[Student] = field(default_factory=list)
    created_at: str = ""
    old_score: float | None = None
    new_score: float | None = None
    status: str = ""
    error: str = ""
    tasks: dict[str, float] = field(default_factory=dict)


def parse_time(text: str) -> datetime | None:
    """A timezone-aware datetime from Gradescope's or ISO 8601 time text; None when unreadable."""
    match = _TIME.match(text.strip()) if text else None
    if match is None:
        return None
    day, clock, zone = match.groups()
    zone = zone or "+00:00"
    if zone == "Z":
        zone = "+00:00"
    elif ":" not in zone:
        zone = zone[:3] + ":" + zone[3:]
    try:
        return datetime.fromisoformat(f"{day}T{clock}{zone}")
    except ValueError:
        return None


def lateness(created_at: str, due: datetime | None) -> timedelta | None:
    """How late the submission is (zero when on time); None when the time or the due date is unknown."""
    when = parse_time(created_at)
    if when is None or due is None:
        return None
    return max(when - due, timedelta(0))


def _late_text(late: timedelta | None) -> tuple[str, str]:
    """(late: 'yes'/'no'/'', late_by: 'H:MM:SS' or '')."""
    if late is None:
        return "", ""
    seconds = int(late.total_seconds())
    return ("yes" if seconds > 0 else "no"), f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _num(x: float | None) -> str:
    """A score for the CSV: '' when unknown, no trailing '.0' noise."""
    return "" if x is None else f"{x:g}"


def _write_private(path: Path, header: list[str], rows: list[list[str]]) -> None:
    """Write a CSV atomically, mode 0600: names, SIDs and scores are no worker's business."""
    text = io.StringIO(newline="")
    w = csv.writer(text)
    w.writerow(header)
    w.writerows(rows)
    write_private(path, text.getvalue().encode("utf-8"))


def write_gradebook(out: Path, rows: Sequence[Row], assignment: Assignment, due: datetime | None = None) -> None:
    """out/scores.csv (every student, every status) and out/gradescope_scores.csv (graded students only)."""
    due = due or (parse_time(assignment.due_date) if assignment.due_date else None)
    task_ids = [t.id for t in assignment.tasks]
    header = [
        "submission_id",
        "name",
        "sid",
        "email",
        "group_size",
        "created_at",
        "late",
        "late_by",
        "old_score",
        "new_score",
        "status",
        "error",
        *(f"task {t}" for t in task_ids),
    ]
    table, importable = [], []
    for r in rows:
        late, late_by = _late_text(lateness(r.created_at, due))
        for student in r.students or [Student()]:
            table.append(
                [
                    r.id,
                    student.name,
                    student.sid,
                    student.email,
                    str(max(1, len(r.students))),
                    r.created_at,
                    late,
                    late_by,
                    _num(r.old_score),
                    _num(r.new_score),
                    r.status or "unknown",
                    r.error,
                    *(_num(r.tasks.get(t)) for t in task_ids),
                ]
            )
            if r.new_score is not None and (student.email or student.sid):
                importable.append([student.name, student.sid, student.email, _num(r.new_score)])
    _write_private(out / SCORES_FILE, header, table)
    # Gradescope's "Import scores" matches a roster column (Email, else SID) and takes a score column.
    _write_private(out / GRADESCOPE_FILE, ["Name", "SID", "Email", "Total Score"], importable)
