"""What can go wrong on the student's side, each with a message a student can act on.

These are deliberately NOT subclasses of AssertionError: the harness decides how a student error shows up
(a failed check), and keeps it apart from a broken grader (any other exception).
Stdlib only: this module is copied into the student handout.
"""

from __future__ import annotations


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
    """A call did not finish before its wall-clock deadline (the worker was killed)."""


class StudentOutOfMemory(StudentError):
    """The student's code ran out of memory (MemoryError under the worker's address-space limit)."""


class StudentCrash(StudentError):
    """The worker died: exit during a call or an import, a fatal signal, the CPU-time limit."""


class BadObservation(StudentError):
    """The student's code returned something that is not plain data (e.g. a Tensor where an array belongs)."""


class SubmissionError(StudentError):
    """The submission itself is unusable: the package is missing, or the archive was refused."""
