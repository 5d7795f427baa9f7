"""Student text made safe for every output: valid UTF-8, no control characters, capped in encoded bytes.

Text a student controls (exception messages, printed output, names inside an archive) reaches the
report, the scoreboard, the Autolab line and PrairieLearn. Python strings may hold lone surrogates
(from JSON `"\\ud800"` or `surrogateescape` file names) that cannot be encoded, and NUL or terminal
control characters that break readers; platforms cap files in bytes (Gradescope and PrairieLearn at
1 MB), and a character is 1 to 4 bytes. So the one rule everywhere: `clean` at the boundary where the
text enters, and `cap` in UTF-8 bytes, never in characters.

Standard library only: the handout ships this module with the harness.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls except tab and newline, DEL, C1 controls, and every surrogate code point (a Python str
# never holds a valid pair: a pair would be one astral code point, so any surrogate here is lone).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
REPLACEMENT = "\ufffd"
# What a student's code printed during one test: the bytes kept and shown, everywhere that stream goes
# (the harness's record, the handout's in-process capture, each failing case in a report).
PRINTED_CAP = 1024


def clean(text: str) -> str:
    """`text` as valid UTF-8 without control characters: CRLF and CR become newlines, anything
    unsafe (NUL, escape sequences, lone surrogates) becomes U+FFFD."""
    if not isinstance(text, str):
        text = str(text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _UNSAFE.sub(REPLACEMENT, text)


def cap(text: str, max_bytes: int, what: str = "bytes") -> str:
    """`clean(text)` cut to at most `max_bytes` bytes of UTF-8 (the note saying how much was cut
    included), never in the middle of a character. `max_bytes` <= 0 gives ''."""
    safe = clean(text)
    data = safe.encode("utf-8")
    if len(data) <= max_bytes:
        return safe
    if max_bytes <= 0:
        return ""
    note = f"\n... ({len(data):,} {what} in all; the rest is not shown)"
    room = max_bytes - len(note.encode("utf-8"))
    if room <= 0:  # too small for the note: a plain cut
        return data[:max_bytes].decode("utf-8", errors="ignore")
    return data[:room].decode("utf-8", errors="ignore") + note


def clean_tree(node: object, max_bytes: int) -> object:
    """A decoded plain-data tree with every str (keys included) cleaned and capped to `max_bytes`;
    other leaves are returned as they are. Iterative, so no tree depth can raise RecursionError."""
    fix = lambda s: cap(s, max_bytes)  # noqa: E731
    if isinstance(node, str):
        return fix(node)
    if not isinstance(node, (list, dict)):
        return node
    root: list[object] = [node]
    stack: list[tuple[object, object]] = [(root, 0)]
    while stack:
        parent, key = stack.pop()
        value = parent[key]  # type: ignore[index]
        if isinstance(value, str):
            parent[key] = fix(value)  # type: ignore[index]
        elif isinstance(value, list):
            copy: Any = list(value)
            parent[key] = copy  # type: ignore[index]
            stack.extend((copy, i) for i in range(len(copy)))
        elif isinstance(value, dict):
            copy = {fix(k): v for k, v in value.items()}
            parent[key] = copy  # type: ignore[index]
            stack.extend((copy, k) for k in copy)
    return root[0]
