"""Sandbox slots as the TA gives them: `--slot 3`, `--slots 4-7`, `--slots 4` (a base); refused when unsafe.

A slot picks the worker uid (AUTOGRADER_WORKER_UID_BASE + slot when the grader is root). Starting a
worker kills every process of its uid, so a slot must map to a uid no real account uses.
"""

from __future__ import annotations

import os
import re

from autograder.framework.options import BadOption

MAX_SLOT = 999  # far more than any machine runs at once; keeps uids inside the base's block
RESERVED_UIDS = frozenset({65534, 65535})  # nobody / the 16-bit "-1"


def slot_problem(slot: int) -> str:
    """Why `slot` cannot be used ('' when it can)."""
    if slot < 0 or slot > MAX_SLOT:
        return f"slot {slot} is out of range: use 0 to {MAX_SLOT}"
    base = int(os.environ.get("AUTOGRADER_WORKER_UID_BASE", "64000"))
    if base + slot in RESERVED_UIDS:
        return (f"slot {slot} would run student code as uid {base + slot}, a reserved uid "
                f"(AUTOGRADER_WORKER_UID_BASE={base}); use a lower slot or base")
    return ""


def check_slot(slot: int, param_hint: str = "--slot") -> int:
    """`slot`, or BadOption saying why it is refused."""
    problem = slot_problem(slot)
    if problem:
        raise BadOption(problem, param_hint)
    return slot


def parse_slots(text: str, jobs: int) -> list[int]:
    """'4-7' -> [4, 5, 6, 7]; '4' -> a base: [4, ..., 4 + jobs - 1]. Refuses unusable or too few slots."""
    match = re.fullmatch(r"\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?", text)
    if match is None:
        raise BadOption(f"{text!r} is not a slot range: write A-B (e.g. 4-7) or a base (e.g. 4)", "--slots")
    lo = int(match.group(1))
    hi = int(match.group(2)) if match.group(2) is not None else lo + jobs - 1
    if hi < lo:
        raise BadOption(f"empty slot range {text!r}: the first slot must not exceed the last", "--slots")
    for slot in (lo, hi):
        check_slot(slot, "--slots")
    slots = list(range(lo, hi + 1))
    if len(slots) < jobs:
        raise BadOption(f"{len(slots)} slot(s) in {text!r} for --jobs {jobs}: each job needs its own slot", "--slots")
    return slots[:jobs]
