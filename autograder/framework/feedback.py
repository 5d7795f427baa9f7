"""Feedback policy: what a failing hidden check's message shows at a given level (see rubric.FeedbackPolicy).

Levels: "full" (the message as the check wrote it) and "no_values" (the task, the case, what is wrong and
where, and the hint; every expected value removed). Public checks are never redacted: students have them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from pathlib import PurePosixPath

from autograder.framework.scoring import TestOutcome

HIDDEN_VALUE = "[hidden until the due date]"
NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?%?|[-+]?inf|nan"
# "  b.grad[3, 4]: expected -4.76, got 4.76   (abs err ...)" and "  ... and 2 more": element detail lines
DETAIL_LINE = re.compile(r"^\s+(?:\S.*: expected .*, got |\.\.\. and \d+ more)")
# "expected 0.25" / "expected -1e-05" (numbers only: shapes and dtypes describe the task, not the answer)
EXPECTED_NUMBER = re.compile(rf"\b(expected|reference reaches|the reference's is)\s+(?:{NUMBER})", re.IGNORECASE)


def is_hidden_check(outcome: TestOutcome) -> bool:
    """True for a real check that is not one of the public tests students already have."""
    path = outcome.nodeid.split("::", 1)[0]
    return bool(outcome.nodeid) and "public" not in PurePosixPath(path).parts


def redact(message: str, level: str) -> str:
    """`message` as the feedback `level` lets students see it ("full" returns it unchanged)."""
    if level == "full":
        return message
    kept = [
        EXPECTED_NUMBER.sub(lambda m: f"{m.group(1)} {HIDDEN_VALUE}", line)
        for line in message.splitlines()
        if not DETAIL_LINE.match(line)
    ]
    return "\n".join(kept)


def at_level(outcomes: Iterable[TestOutcome], level: str) -> tuple[TestOutcome, ...]:
    """`outcomes` with every failing hidden check's message (and printed output) redacted to `level`."""
    shown = []
    for o in outcomes:
        if level != "full" and not o.passed and is_hidden_check(o):
            o = dataclasses.replace(o, message=redact(o.message, level) or "failed")
        shown.append(o)
    return tuple(shown)


def reveals_more(outcomes: Iterable[TestOutcome], before: str, after: str) -> bool:
    """True when some failing hidden check says more at level `after` than at level `before`."""
    return any(
        not o.passed and is_hidden_check(o) and redact(o.message, before) != redact(o.message, after) for o in outcomes
    )
