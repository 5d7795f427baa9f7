"""What every command shares: the `--assignment` option (resolved through the registry), safe echo, and
turning the library's plain exceptions into click's usage errors."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from autograder import assignments
from autograder.framework.options import BadOption
from autograder.framework.rubric import Assignment
from autograder.framework.sandbox.slots import check_slot
from autograder.framework.text import clean

F = TypeVar("F", bound=Callable[..., Any])

ASSIGNMENT_HELP = (
    "A registered assignment (autograder/assignments/<name>/) or the path of a folder holding "
    "assignment.py (a course outside this repository). Optional only when exactly one is "
    "registered; also read from $AUTOGRADER_ASSIGNMENT. Example: --assignment hw1p1"
)


def load_assignment(name_or_path: str | None) -> Assignment:
    """The assignment the TA named, or the only registered one; a usage error lists the known names."""
    if not name_or_path:
        name_or_path = assignments.default_name()
        if name_or_path is None:
            raise click.UsageError(
                f"several assignments are registered ({', '.join(assignments.names())}): "
                "choose one with --assignment NAME (or a folder path), "
                "e.g. `make grade ASSIGNMENT=hw1p1`"
            )
    try:
        return assignments.load(name_or_path)
    except assignments.UnknownAssignment as exc:
        raise click.BadParameter(str(exc), param_hint="--assignment") from None


def _resolve_assignment(ctx: click.Context, param: click.Parameter, value: str | None) -> Assignment:
    """click callback: the option's value as an Assignment (through `load_assignment`, looked up at call
    time so that tests can substitute a toy assignment)."""
    return sys.modules[__name__].load_assignment(value)


def assignment_option(fn: F) -> F:
    """`--assignment NAME_OR_PATH`, passed to the command as `assignment` (an Assignment)."""
    return click.option(
        "--assignment",
        "assignment",
        default=None,
        metavar="NAME_OR_PATH",
        envvar="AUTOGRADER_ASSIGNMENT",
        callback=_resolve_assignment,
        help=ASSIGNMENT_HELP,
    )(fn)


def validate_slot(ctx: click.Context, param: click.Parameter, value: int) -> int:
    """click callback: refuse a slot that maps to no safe worker uid."""
    try:
        return check_slot(value)
    except BadOption as exc:
        raise click.BadParameter(str(exc), param_hint=exc.option or "--slot") from None


def usage_errors(fn: F) -> F:
    """Run a command, turning the library's BadOption into click's "Invalid value for '--option'" (exit 2)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BadOption as exc:
            raise click.BadParameter(str(exc), param_hint=exc.option or None) from None

    return wrapper  # type: ignore[return-value]


def echo(text: str, err: bool = False) -> None:
    """click.echo that cannot fail on any text, whatever the stream's encoding (e.g. ASCII under LANG=C)."""
    stream = sys.stderr if err else sys.stdout
    encoding = getattr(stream, "encoding", None) or "utf-8"
    click.echo(clean(text).encode(encoding, "backslashreplace").decode(encoding, "replace"), err=err)
