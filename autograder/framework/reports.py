"""Report writers: Gradescope results.json, PrairieLearn results.json, Autolab's scores line."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from autograder.framework.feedback import at_level, is_hidden_check, reveals_more
from autograder.framework.rubric import FeedbackPolicy
from autograder.framework.scoring import VISIBILITIES, TaskScore, TestOutcome, total, weighted_score
from autograder.framework.text import PRINTED_CAP, cap, clean, clean_tree

FORMATS = ("gradescope", "prairielearn", "autolab")
# Every cap is in UTF-8 bytes (text.cap): a character is 1 to 4 bytes, and the platforms count bytes.
ENTRY_CAP = 8 * 1024  # output of one Gradescope/PrairieLearn test entry
MESSAGE_CAP = 2 * 1024  # one failing case's message, so one huge message cannot hide the others
NOTES_CAP = 4 * 1024  # the report's top-level summary and notes
REPORT_CAP = 1_000_000  # Gradescope and PrairieLearn reject results files from 1 MB on
# Caps tried in turn until the whole file fits REPORT_CAP: (entry, message, printed; text.PRINTED_CAP first).
CAP_LEVELS = ((ENTRY_CAP, MESSAGE_CAP, PRINTED_CAP), (2048, 512, 256), (256, 128, 0), (0, 0, 0))
VISIBILITY_NOTE = {
    "hidden": "hidden tests",
    "after_due_date": "shown after the due date",
    "after_published": "shown after grades are published",
}


def _case_lines(
    o: TestOutcome, message_cap: int = MESSAGE_CAP, same: Sequence[TestOutcome] = (), printed_cap: int = PRINTED_CAP
) -> list[str]:
    """The lines describing one failing case: its id and message, then what the student's code printed.

    `same` are further cases that failed with exactly this message: named on the first line instead
    of repeating the message (a stub fails every case of its task the same way).
    """
    message = cap(o.message.strip() or "failed", message_cap)
    ids = ", ".join(c.case for c in (o, *same))
    label = f"{ids} ({1 + len(same)} cases, same message)" if same else ids
    lines = [f"FAILED {label}: {message}" if o.nodeid else message]
    if o.output.strip() and printed_cap > 0:
        lines.append("  Your code printed:\n" + cap(o.output.rstrip(), printed_cap))
    return lines


def _by_message(failures: Sequence[TestOutcome]) -> list[tuple[TestOutcome, list[TestOutcome]]]:
    """Failing cases grouped by identical message, in first-seen order: (first case, the others)."""
    groups: dict[str, tuple[TestOutcome, list[TestOutcome]]] = {}
    for o in failures:
        key = o.message.strip() if o.nodeid and not o.output.strip() else f"\0{id(o)}"
        if key in groups:
            groups[key][1].append(o)
        else:
            groups[key] = (o, [])
    return list(groups.values())


def case_report(
    outcomes: Sequence[TestOutcome],
    limit: int = ENTRY_CAP,
    message_cap: int = MESSAGE_CAP,
    printed_cap: int = PRINTED_CAP,
) -> str:
    """Output for one report entry: how many checks passed, then each failing case, capped to `limit` bytes."""
    real = [o for o in outcomes if o.nodeid]  # pseudo-outcomes (placeholder, bad handin) carry only a message
    failures = [o for o in outcomes if not o.passed]
    lines = [f"{sum(o.passed for o in real)} of {len(real)} checks passed."] if real else []
    shown = 0
    for first, others in _by_message(failures):
        block = "\n".join(_case_lines(first, message_cap, others, printed_cap))
        if lines and len("\n".join(lines).encode()) + len(block.encode()) > limit:
            break
        lines.append(block)
        shown += 1 + len(others)
    if shown < len(failures):
        lines.append(f"... {len(failures) - shown} more failing case(s) not shown.")
    return cap("\n".join(lines), limit)


def _groups(score: TaskScore) -> list[tuple[str, tuple[TestOutcome, ...]]]:
    """A task's outcomes split by visibility, in VISIBILITIES order (one group for most tasks)."""
    found = {o.visibility for o in score.outcomes}
    return [(v, tuple(o for o in score.outcomes if o.visibility == v)) for v in VISIBILITIES if v in found]


def gradescope(
    scores: Sequence[TaskScore],
    *,
    execution_time: float = 0.0,
    notes: Iterable[str] = (),
    extra_data: dict[str, Any] | None = None,
    feedback: FeedbackPolicy | None = None,
) -> dict[str, Any]:
    """A Gradescope results.json: one test entry per task (per task and visibility if a task mixes them),
    its outputs shortened until the file is under REPORT_CAP bytes.

    Under a `feedback` policy that shows less before the due date, visible entries carry the redacted
    messages, and a 0-point after_due_date entry per task carries the rest.
    """
    notes = list(notes)
    policy = feedback or FeedbackPolicy()
    return _fitted(lambda caps: _gradescope(scores, execution_time, notes, extra_data, caps, policy))


def _gradescope(
    scores: Sequence[TaskScore],
    execution_time: float,
    notes: Sequence[str],
    extra_data: dict[str, Any] | None,
    caps: tuple[int, int, int],
    policy: FeedbackPolicy,
) -> dict[str, Any]:
    """gradescope() with the given (entry, message, printed) caps."""
    tests = []
    for s in scores:
        groups = _groups(s)
        for visibility, outcomes in groups:
            if len(groups) == 1:
                earned, possible = s.score, s.max_score
            else:  # this group's share of the task's points, by weight
                earned = weighted_score(s.max_score, outcomes, of=s.outcomes)
                possible = round(s.max_score * sum(o.weight for o in outcomes) / sum(o.weight for o in s.outcomes), 2)
            name = f"Task {s.task.id}: {s.task.title}"
            if len(groups) > 1 and visibility != "visible":
                name += f" ({VISIBILITY_NOTE[visibility]})"
            tests.append(
                {
                    "name": name,
                    "number": s.task.id,
                    "score": earned,
                    "max_score": possible,
                    "status": "passed" if all(o.passed for o in outcomes) else "failed",
                    "output": case_report(
                        at_level(outcomes, policy.before_due if visibility == "visible" else policy.after_due), *caps
                    ),
                    "visibility": visibility,
                    "tags": [f"task-{s.task.id}"],
                }
            )
            if visibility == "visible" and reveals_more(outcomes, policy.before_due, policy.after_due):
                tests.append(
                    {
                        "name": f"{name} (full feedback, shown after the due date)",
                        "number": s.task.id,
                        "score": 0.0,
                        "max_score": 0.0,
                        "status": "failed",
                        "visibility": "after_due_date",
                        "output": case_report(
                            at_level([o for o in outcomes if is_hidden_check(o)], policy.after_due), *caps
                        ),
                        "tags": [f"task-{s.task.id}"],
                    }
                )
    return {
        "score": total(scores)[0],
        "execution_time": max(0, int(round(execution_time))),
        "output": summary(scores, notes),
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"tasks": {s.task.id: s.score for s in scores}, **(extra_data or {})},
    }


def summary(scores: Sequence[TaskScore], notes: Iterable[str] = ()) -> str:
    """One line with the total and the passed-task count, then any notes (e.g. missing sandbox protections)."""
    earned, possible = total(scores)
    passed = sum(s.status == "PASS" for s in scores)
    head = f"Score: {earned:g}/{possible:g}. Tasks fully passed: {passed} of {len(scores)}."
    return "\n".join([head, *(cap(n, NOTES_CAP) for n in notes)])


def prairielearn(
    scores: Sequence[TaskScore], *, notes: Iterable[str] = (), gradable: bool = True, format_errors: Sequence[str] = ()
) -> dict[str, Any]:
    """A PrairieLearn results.json (score in [0, 1]), its outputs shortened until it is under REPORT_CAP bytes.

    An ungradable handin gets `gradable: false` and its reasons in `format_errors`: PrairieLearn then
    shows them and does not count the attempt (docs: prairielearn.com, "Externally graded questions",
    grading results: `gradable`, `format_errors`).
    """
    notes = list(notes)
    earned, possible = total(scores)

    def build_at(caps: tuple[int, int, int]) -> dict[str, Any]:
        limit, message_cap, _ = caps
        return {
            "gradable": gradable,
            **({"format_errors": [cap(e, message_cap or 128) for e in format_errors]} if format_errors else {}),
            "score": round(earned / possible, 4) if possible else 0.0,
            "message": summary(scores, notes),
            "tests": [
                {
                    "name": f"Task {s.task.id}: {s.task.title}",
                    "points": s.score,
                    "max_points": s.max_score,
                    "message": cap(first_message(s), message_cap),
                    "output": case_report(s.outcomes, *caps) if limit else "",
                }
                for s in scores
            ],
        }

    return _fitted(build_at)


def _fitted(build_at: Callable[[tuple[int, int, int]], dict[str, Any]]) -> dict[str, Any]:
    """The report built with the largest caps of CAP_LEVELS whose file (as write_atomic writes it) fits
    REPORT_CAP bytes; the last level keeps no student text beyond a summary line, so it always fits."""
    for caps in CAP_LEVELS:
        report = build_at(caps)
        if len(dumps(report)) < REPORT_CAP:
            break
    return report


def first_message(score: TaskScore) -> str:
    """The first failing case's message ('' when the task passed)."""
    return next((o.message for o in score.failures), "")


def autolab(scores: Sequence[TaskScore]) -> dict[str, Any]:
    """Autolab's scores object: {"scores": {task id: points}}; print it as the last stdout line."""
    return {"scores": {clean(s.task.id): s.score for s in scores}}


def autolab_feedback(scores: Sequence[TaskScore], feedback: FeedbackPolicy | None = None) -> str:
    """What Autolab students read above the scores line (Autolab shows the grader's whole output): each
    failing task's cases as the Gradescope entries give them, only checks visible before the due date,
    at the policy's before-due level; capped to REPORT_CAP bytes like the other reports."""
    level = (feedback or FeedbackPolicy()).before_due
    blocks = []
    for s in scores:
        shown = [o for o in s.outcomes if o.visibility == "visible"]
        if shown and not all(o.passed for o in shown):
            blocks.append(
                f"--- Task {s.task.id}: {s.task.title} ({s.score:g}/{s.max_score:g})\n"
                + case_report(at_level(shown, level))
            )
    return cap("\n\n".join(blocks), REPORT_CAP)


def json_line(report: dict[str, Any]) -> str:
    """`report` as one line of ASCII JSON (Autolab reads the last line of stdout, whatever its encoding)."""
    return json.dumps(report, separators=(", ", ": "), ensure_ascii=True)


def build(
    fmt: str,
    scores: Sequence[TaskScore],
    *,
    execution_time: float = 0.0,
    notes: Iterable[str] = (),
    gradable: bool = True,
    extra_data: dict[str, Any] | None = None,
    feedback: FeedbackPolicy | None = None,
    format_errors: Sequence[str] = (),
) -> dict[str, Any]:
    """The report for `fmt` (one of FORMATS); `feedback` limits what failing hidden checks reveal;
    `format_errors` (an unusable handin) only PrairieLearn shows."""
    if fmt == "gradescope":
        return gradescope(scores, execution_time=execution_time, notes=notes, extra_data=extra_data, feedback=feedback)
    if fmt == "prairielearn":  # no due-date visibility there: what may be shown before the due date
        level = (feedback or FeedbackPolicy()).before_due
        scores = [dataclasses.replace(s, outcomes=at_level(s.outcomes, level)) for s in scores]
        return prairielearn(scores, notes=notes, gradable=gradable, format_errors=format_errors)
    if fmt == "autolab":
        return autolab(scores)
    raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")


def dumps(report: dict[str, Any]) -> bytes:
    """The exact bytes write_atomic writes: UTF-8 JSON (astral characters take 4 bytes, not a
    12-byte pair of escapes), every string cleaned so that it always encodes."""
    safe = clean_tree(report, REPORT_CAP)
    return (json.dumps(safe, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_atomic(path: Path, report: dict[str, Any]) -> None:
    """Write `report` as JSON so readers see the old file or the new one, never half of one."""
    write_private(path, dumps(report))


def write_private(path: Path, data: bytes) -> None:
    """Write `data` atomically (readers see the old file or the new one) with mode 0600: reports,
    gradebooks and class reports are no worker's business, whatever bits an older file had."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        # mkstemp's mode 0600 stays: the sandboxed worker's uid must not read the report.
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
