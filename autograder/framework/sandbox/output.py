"""What the worker prints (stdout and stderr, one pipe), kept within bounds while the grader drains it."""

from __future__ import annotations

from autograder.framework.text import clean


class CappedOutput:
    """Student stdout/stderr: the first `per_call` bytes of each call are kept, the rest only counted."""

    def __init__(self, per_call: int, total: int) -> None:
        self.per_call = per_call
        self.total_left = total  # over the client's whole life: a chatty submission cannot fill memory
        self._parts: list[bytes] = []
        self._kept = 0  # kept in the current call
        self._cut = 0  # dropped in the current call

    def new_call(self) -> None:
        """Start a new per-call budget (closing the last call's segment with its cut marker)."""
        self._close_segment()
        self._kept = 0

    def feed(self, data: bytes) -> None:
        """Keep what fits in the budgets, count the rest."""
        room = max(0, min(self.per_call - self._kept, self.total_left))
        keep = data[:room]
        if keep:
            self._parts.append(keep)
            self._kept += len(keep)
            self.total_left -= len(keep)
        self._cut += len(data) - len(keep)

    def peek(self) -> str:
        """What take() would return, without taking it (for grader error messages)."""
        return clean(b"".join(self._parts).decode("utf-8", errors="replace"))

    def take(self) -> str:
        """Everything kept since the last take, with "[... N bytes cut]" where output was dropped."""
        self._close_segment()
        text = clean(b"".join(self._parts).decode("utf-8", errors="replace"))
        self._parts = []
        return text

    def _close_segment(self) -> None:
        if self._cut:
            nl = b"" if not self._parts or self._parts[-1].endswith(b"\n") else b"\n"
            self._parts.append(nl + f"[... {self._cut} bytes cut]\n".encode())
            self._cut = 0
