"""The worker's disk budget: measuring its files (any depth, deleted-but-open ones included) and the
schedule on which a running call is measured.

Rlimits bound one file (RLIMIT_FSIZE), not a folder; no tmpfs or quota is used (both need
CAP_SYS_ADMIN), so the work folder is measured: after every call and every DISK_CHECK_SECONDS while
one runs (less often when a big folder takes long to measure: at most DISK_CHECK_COST of the time).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from autograder.framework.fstree import open_dir
from autograder.framework.sandbox.libc import libc
from autograder.framework.sandbox.limits import DISK_CHECK_SECONDS, DISK_MAX_ENTRIES
from autograder.framework.sandbox.procfs import worker_pids

DISK_CHECK_COST = 0.05  # the largest share of the parent's time the disk checks during a call may take


@dataclass
class DiskUse:
    """What a worker keeps on disk: bytes allocated in its work folder plus deleted files its processes hold
    open, and how many entries the folder has (counting stops past DISK_MAX_ENTRIES)."""

    bytes: int
    entries: int


def disk_use(
    work: Path, pids: Sequence[int] = (), max_entries: int = DISK_MAX_ENTRIES, uid: int | None = None
) -> DiskUse:
    """Measure the work folder (blocks allocated, hard links once, links not followed) and the deleted but
    open files of `pids` (a worker that unlinks what it writes keeps the blocks while the file is open).

    The walk is iterative and fd-relative (any depth, no PATH_MAX), lists at most `max_entries`
    entries in all, and checks (dev, ino) when climbing. `uid`: the processes' uid, whose /proc/<pid>/fd
    root may only read as that fsuid when it lacks CAP_SYS_PTRACE (Docker). Never raises: what cannot be
    read is skipped.
    """
    total, count = 0, 0
    seen: set[tuple[int, int]] = set()
    try:
        fd = open_dir(str(work), None)
    except OSError:
        fd = -1
    if fd >= 0:
        try:
            total, count = _walk(fd, max_entries, seen)
        except OSError:
            pass
    if pids:
        switched = uid is not None and os.geteuid() == 0 and _set_fs_ids(uid, uid)
        try:
            for pid in pids:
                total += _deleted_open_bytes(pid, seen)
        finally:
            if switched:
                _set_fs_ids(os.geteuid(), os.getegid())
    return DiskUse(total, count)


def _set_fs_ids(uid: int, gid: int) -> bool:
    """This thread's file-system uid and gid become `uid`/`gid` (per-thread syscalls: other threads keep
    theirs; root's file capabilities come back with fsuid 0). Both must match the worker's for the
    kernel's ptrace check on /proc/<pid>/fd. True when both took effect."""
    lib = libc()
    if uid == 0:  # restoring: the uid first, so that the capability to set the gid is ours again
        lib.setfsuid(uid)
        lib.setfsgid(gid)
    else:
        lib.setfsgid(gid)
        lib.setfsuid(uid)
    return lib.setfsuid(-1) == uid and lib.setfsgid(-1) == gid  # an invalid id changes nothing, returns the current


def _names(fd: int, room: int) -> list[str]:
    """Up to `room` names in the open folder `fd` (a huge folder is not listed whole)."""
    out = []
    with os.scandir(fd) as entries:
        for entry in entries:
            out.append(entry.name)
            if len(out) >= room:
                break
    return out


def _walk(fd: int, max_entries: int, seen: set[tuple[int, int]]) -> tuple[int, int]:
    """(bytes, entries) below the open folder `fd`, which is closed at the end."""
    total, count = 0, 0
    stack: list[tuple[list[str], tuple[int, int]]] = []  # (names left in the parent, parent's (dev, ino))
    try:
        names = _names(fd, max_entries + 1)
        while True:
            if count > max_entries:
                break
            if not names:
                if not stack:
                    break
                names, expected = stack.pop()
                parent = os.open("..", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
                os.close(fd)
                fd = parent
                st = os.fstat(fd)
                if (st.st_dev, st.st_ino) != expected:  # moved while we walked: the worker is racing us
                    return total, max_entries + 1
                continue
            name = names.pop()
            count += 1
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError:
                continue
            if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
            if stat.S_ISDIR(st.st_mode):
                try:
                    sub = open_dir(name, fd)
                except OSError:
                    continue
                try:
                    sub_names = _names(sub, max_entries + 1 - count)
                except OSError:
                    os.close(sub)
                    continue
                here = os.fstat(fd)
                stack.append((names, (here.st_dev, here.st_ino)))
                os.close(fd)
                fd, names = sub, sub_names
    finally:
        os.close(fd)
    return total, count


def _deleted_open_bytes(pid: int, seen: set[tuple[int, int]], max_fds: int = 4096) -> int:
    """Blocks of the regular files `pid` holds open that no longer have a name (0 when unreadable)."""
    total = 0
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return 0
    for n in fds[:max_fds]:
        try:
            st = os.stat(f"/proc/{pid}/fd/{n}")  # follows the magic link to the file, even a deleted one
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_nlink == 0 and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


class DiskFull(Exception):
    """The worker's files passed its disk budget; `use` is what was measured."""

    def __init__(self, use: DiskUse) -> None:
        super().__init__()
        self.use = use


class DiskWatch:
    """When and how a worker's work folder is measured against `budget_bytes` and DISK_MAX_ENTRIES."""

    def __init__(self, work: Path, budget_bytes: int, uid: int | None) -> None:
        self.work, self.budget_bytes, self.uid = work, budget_bytes, uid
        self._check_at = 0.0

    def start_call(self) -> None:
        """A call starts: its first measure is due DISK_CHECK_SECONDS from now (and after it anyway)."""
        self._check_at = time.monotonic() + DISK_CHECK_SECONDS

    def check(self, pid: int) -> None:
        """Measure now: DiskFull when the folder plus the deleted files that `pid` and its attached
        descendants hold open pass the budget, or the folder has more than DISK_MAX_ENTRIES entries."""
        use = disk_use(self.work, worker_pids(pid), uid=self.uid)
        if use.bytes > self.budget_bytes or use.entries > DISK_MAX_ENTRIES:
            raise DiskFull(use)

    def wait(self, pid: int) -> float:
        """Measure when a check is due; seconds until the next one (DiskFull when over the budget)."""
        now = time.monotonic()
        if now >= self._check_at:
            self.check(pid)
            took = time.monotonic() - now
            # Often (what a worker can write between two checks is what it gets past the budget), but a
            # big folder, slow to measure, is measured less often: at most 1/DISK_CHECK_COST of the time.
            self._check_at = now + took + max(DISK_CHECK_SECONDS, took / DISK_CHECK_COST)
        return max(0.0, self._check_at - time.monotonic())
