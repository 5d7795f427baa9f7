"""Sandbox slots: which worker uid a slot runs as, the lock that keeps one grader per slot, and which
slots a TA may give (`--slot 3`, `--slots 4-7`, `--slots 4` as a base).

A slot picks the worker uid (AUTOGRADER_WORKER_UID_BASE + slot when the grader is root). Starting a
worker kills every process of its uid, so a slot must map to a uid no real account uses, and two
graders must never share one.
"""

from __future__ import annotations

import fcntl
import os
import re
import stat
import tempfile
import time
from pathlib import Path

from autograder.framework.options import BadOption

DEFAULT_UID_BASE = 64000
MAX_SLOT = 999  # far more than any machine runs at once; keeps uids inside the base's block
RESERVED_UIDS = frozenset({65534, 65535})  # nobody / the 16-bit "-1"


class SlotError(BadOption):
    """A slot or slot range that cannot be used; `option` names the option it came from (the CLI shows it
    as a usage error, like every BadOption)."""

    def __init__(self, message: str, param_hint: str = "--slot") -> None:
        super().__init__(message, param_hint)


def uid_base() -> int:
    """The first worker uid: env AUTOGRADER_WORKER_UID_BASE, else DEFAULT_UID_BASE."""
    return int(os.environ.get("AUTOGRADER_WORKER_UID_BASE", DEFAULT_UID_BASE))


def worker_ids(slot: int) -> tuple[int, int] | tuple[None, None]:
    """(uid, gid) for this slot when we can drop privileges (running as root), else (None, None)."""
    if os.geteuid() != 0:
        return None, None
    return uid_base() + slot, uid_base() + slot


def slot_cgroup_name(uid: int) -> str:
    """The cgroup of a worker uid's slot."""
    return f"autograder-{uid}"


def slot_problem(slot: int) -> str:
    """Why `slot` cannot be used ('' when it can)."""
    if slot < 0 or slot > MAX_SLOT:
        return f"slot {slot} is out of range: use 0 to {MAX_SLOT}"
    base = uid_base()
    if base + slot in RESERVED_UIDS:
        return (
            f"slot {slot} would run student code as uid {base + slot}, a reserved uid "
            f"(AUTOGRADER_WORKER_UID_BASE={base}); use a lower slot or base"
        )
    return ""


def check_slot(slot: int, param_hint: str = "--slot") -> int:
    """`slot`, or SlotError saying why it is refused."""
    problem = slot_problem(slot)
    if problem:
        raise SlotError(problem, param_hint)
    return slot


def parse_slots(text: str, jobs: int) -> list[int]:
    """'4-7' -> [4, 5, 6, 7]; '4' -> a base: [4, ..., 4 + jobs - 1]. SlotError for unusable or too few slots."""
    match = re.fullmatch(r"\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?", text)
    if match is None:
        raise SlotError(f"{text!r} is not a slot range: write A-B (e.g. 4-7) or a base (e.g. 4)", "--slots")
    lo = int(match.group(1))
    hi = int(match.group(2)) if match.group(2) is not None else lo + jobs - 1
    if hi < lo:
        raise SlotError(f"empty slot range {text!r}: the first slot must not exceed the last", "--slots")
    for slot in (lo, hi):
        check_slot(slot, "--slots")
    slots = list(range(lo, hi + 1))
    if len(slots) < jobs:
        raise SlotError(f"{len(slots)} slot(s) in {text!r} for --jobs {jobs}: each job needs its own slot", "--slots")
    return slots[:jobs]


def acquire_slot(uid: int, timeout: float = 300.0) -> int:
    """Hold an exclusive lock for a worker uid across processes (starting a worker kills every process
    of its uid, so two graders on one slot would kill each other's workers). Waits for a busy slot;
    returns the lock fd (release_slot closes it; the kernel releases it if we die)."""

    folder = Path(tempfile.gettempdir()) / f"autograder-slots-{os.geteuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        raise RuntimeError(f"grader error: {folder} is not a private folder of uid {os.geteuid()}; remove it")
    path = folder / f"uid-{uid}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
                os.close(fd)
                raise RuntimeError(
                    f"grader error: worker uid {uid} is still in use by process {holder or '?'} "
                    f"after {timeout:g} s; give concurrent graders distinct slots"
                ) from None
            time.sleep(0.05)
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def release_slot(fd: int) -> None:
    """Release a slot lock from acquire_slot."""
    try:
        os.close(fd)
    except OSError:
        pass
