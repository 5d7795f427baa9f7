"""click's face of sandbox.slots: --slot / --slots refused as click.BadParameter (the rules live in sandbox.slots).

Only the command-line code imports this module; it belongs with it (the framework itself needs no click).
"""

from __future__ import annotations

import click

from autograder.framework.sandbox import slots
from autograder.framework.sandbox.slots import MAX_SLOT, RESERVED_UIDS, slot_problem  # noqa: F401 (re-exported)


def check_slot(slot: int, param_hint: str = "--slot") -> int:
    """`slot`, or click.BadParameter saying why it is refused."""
    try:
        return slots.check_slot(slot, param_hint)
    except slots.SlotError as e:
        raise click.BadParameter(str(e), param_hint=e.param_hint) from None


def parse_slots(text: str, jobs: int) -> list[int]:
    """'4-7' -> [4, 5, 6, 7]; '4' -> a base: [4, ..., 4 + jobs - 1]; click.BadParameter when refused."""
    try:
        return slots.parse_slots(text, jobs)
    except slots.SlotError as e:
        raise click.BadParameter(str(e), param_hint=e.param_hint) from None
