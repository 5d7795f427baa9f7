"""What can go wrong on the student's side, each with a message a student can act on.

These are deliberately NOT subclasses of AssertionError: the harness decides how a student error shows up
(a failed check), and keeps it apart from a broken grader (any other exception).
Stdlib only: this module is copied into the student handout.
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Sequence

# The start of every message about a reply the grader cannot use (not plain data, or not the protocol).
UNREADABLE = "your code returned something the grader cannot read"

# (exception type, pattern in its message, the likely cause): mistakes any Python code makes, matched
# after the assignment's own catalogue (Assignment.likely_causes). First match wins.
GENERIC_CAUSES: tuple[tuple[str, str, str], ...] = (
    (
        "RecursionError",
        r"",
        "a recursive function went deeper than Python allows (about 1,000 nested calls): "
        "use a loop with an explicit stack.",
    ),
    ("FloatingPointError", r"", "a division by zero or an overflow: is a denominator or exp() argument unguarded?"),
    ("ZeroDivisionError", r"", "a division by zero: is a count zero, or a size computed wrongly?"),
)


def likely_cause(exc_type: str, message: str, causes: Sequence[tuple[str, str, str]] = ()) -> str | None:
    """A one-line likely cause for an exception raised by student code (the assignment's `causes` first,
    then GENERIC_CAUSES), or None when nothing fits."""
    for kind, pattern, cause in (*causes, *GENERIC_CAUSES):
        if exc_type == kind and re.search(pattern, message):
            return cause
    return None


def with_likely_cause(text: str, exc_type: str, message: str, causes: Sequence[tuple[str, str, str]] = ()) -> str:
    """`text` (a formatted student exception) with a last line naming the likely cause, when one fits."""
    cause = likely_cause(exc_type, message, causes)
    return f"{text}\nLikely cause: {cause}" if cause else text


class StudentError(Exception):
    """Base class: `.message` is already formatted for the student (what, where, likely cause)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class StudentException(StudentError):
    """The student's code raised an exception; `.traceback` lists only frames inside the submission."""

    def __init__(self, message: str, *, exc_type: str = "", exc_message: str = "", traceback: str = "") -> None:
        super().__init__(message)
        self.exc_type = exc_type
        self.exc_message = exc_message
        self.traceback = traceback


class StudentTimeout(StudentError):
    """A call did not finish within its time limit (CPU time, or wall clock while waiting; the worker was killed)."""


class StudentNotRun(StudentError):
    """A check was not run: its task timed out repeatedly, or the grading time budget was spent."""


class StudentOutOfMemory(StudentError):
    """The student's code ran out of memory (MemoryError under the worker's address-space limit)."""


class StudentCrash(StudentError):
    """The worker died: exit during a call or an import, a fatal signal, the CPU-time limit."""


class BadObservation(StudentError):
    """The student's code returned something that is not plain data (e.g. a Tensor where an array belongs)."""


class SubmissionError(StudentError):
    """The submission itself is unusable: the package is missing, or the archive was refused."""


REPEAT_SHOWN = 3  # as Python: a frame repeated more often is shown 3 times, then "[Previous line repeated ...]"
MAX_SHOWN_ENTRIES = 16  # after collapsing: show the first few and the last entries only

# (file as the student reads it, e.g. "package/ops/reduce.py"; line number; function; source line or "")
Frame = tuple[str, int, str, str]


def format_frames(frames: list[Frame]) -> str:
    """Traceback lines for the student's frames, most recent call last.

    Consecutive identical frames (a recursive function) collapse as Python collapses them: three shown,
    then "[Previous line repeated N more times]"; when even that leaves more than MAX_SHOWN_ENTRIES
    entries (mutual recursion), the middle is cut with a count. The one formatter for the sandboxed worker
    (which loads this file beside it) and the in-process runner on a student's machine.
    """
    entries: list[Frame | int | str] = []  # a frame, or the number of further repeats of the frame before it
    run = 0
    for i, frame in enumerate(frames):
        run = run + 1 if i and frame[:3] == frames[i - 1][:3] else 1
        if run <= REPEAT_SHOWN:
            entries.append(frame)
        elif run == REPEAT_SHOWN + 1:
            entries.append(1)
        else:
            last = entries[-1]
            entries[-1] = (last if isinstance(last, int) else 0) + 1
    if len(entries) > MAX_SHOWN_ENTRIES:
        cut = len(entries) - MAX_SHOWN_ENTRIES
        entries = entries[:5] + [f"  ... {cut} more entries (unbounded recursion?) ..."] + entries[5 + cut :]
    lines = []
    for entry in entries:
        if isinstance(entry, str):
            lines.append(entry)
        elif isinstance(entry, int):
            lines.append(f"  [Previous line repeated {entry} more time{'s' if entry > 1 else ''}]")
        else:
            path, lineno, name, line = entry
            lines.append(f'  File "{path}", line {lineno}, in {name}')
            if line and line.strip():
                lines.append(f"    {line.strip()}")
    return "\n".join(lines)


def student_traceback(
    exc: BaseException, root: str | os.PathLike[str], keep: str | os.PathLike[str] | None = None
) -> str:
    """The traceback of `exc` as the student may read it: only frames in files under `keep` (default
    `root`), paths relative to `root`, formatted by format_frames; for a SyntaxError, its file and line.

    The one filter for the sandboxed worker (root = the submission folder) and the in-process runner on a
    student's machine (root = the handout folder, keep = the package in it). Never raises: a traceback
    it cannot read gives no frames.
    """
    top = os.path.realpath(root)
    inside = os.path.realpath(keep) if keep is not None else top

    def shown(path: str) -> str | None:
        if not path or path.startswith("<"):  # "<string>", "<frozen importlib._bootstrap>": no file of theirs
            return None
        try:
            real = os.path.realpath(path)
        except Exception:  # a student-made code object may carry any file name
            return None
        return os.path.relpath(real, top) if real.startswith(inside + os.sep) else None

    try:
        frames = [
            (rel, f.lineno or 0, f.name, f.line or "")
            for f in traceback.extract_tb(exc.__traceback__)
            for rel in [shown(f.filename)]
            if rel
        ]
    except BaseException:
        frames = []
    text = format_frames(frames)
    if isinstance(exc, SyntaxError) and exc.filename:
        where = syntax_error_lines(
            shown(str(exc.filename)) or os.path.basename(str(exc.filename)), exc.lineno, exc.text, exc.offset
        )
        text = f"{text}\n{where}" if text else where
    return text


def syntax_error_lines(path: str, lineno: int | None, text: str | None, offset: int | None) -> str:
    """Where a SyntaxError (or IndentationError) is in the student's file: the line and a caret, as Python."""
    lines = [f'  File "{path}", line {lineno}']
    text = (text or "").rstrip("\n")
    if text.strip():
        stripped = text.lstrip()
        lines.append(f"    {stripped}")
        if offset:
            lines.append("    " + " " * max(0, offset - 1 - (len(text) - len(stripped))) + "^")
    return "\n".join(lines)


def format_student_exception(exc_type: str, message: str, traceback_text: str) -> str:
    """'TypeError: ...' and the student-only traceback (or a note that none of it is theirs).

    The one format for exceptions from student code, whether it ran in the sandboxed worker or
    in-process on a student's machine. The harness adds the likely cause (with_likely_cause), from the
    assignment's catalogue, when the test fails.
    """
    head = f"{exc_type}: {message}" if message else exc_type
    if traceback_text.strip():
        return f"{head}\nTraceback (your code only, most recent call last):\n{traceback_text.rstrip()}"
    return (
        f"{head}\n(raised in the grader's scenario code while it used your package; none of your lines "
        f"are on the stack)"
    )
