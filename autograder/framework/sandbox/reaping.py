"""Finding and killing every process a worker started, and reaping what re-parents to the grader.

Students' processes escape: `setsid` leaves the process group, a double fork leaves the parent. The
grader is a child subreaper (orphans re-parent to it), and a kill hits the process group, every
process of the worker uid, the worker's descendants, and any descendant of the grader that carries the
worker's token in its environment (or, without a dedicated uid, the workers' CPU-limit mark).
`live` arguments are the pids of this process's unreaped workers (process.py keeps that registry).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Set as AbstractSet

from autograder.framework.sandbox.libc import PR_SET_CHILD_SUBREAPER, libc
from autograder.framework.sandbox.procfs import has_worker_cpu_limit, proc_table, stat_fields

_subreaper_set = False


def set_child_subreaper() -> bool:
    """Make this process the reaper of orphaned descendants, so escaped worker processes stay findable."""
    global _subreaper_set
    if not _subreaper_set:
        _subreaper_set = libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    return _subreaper_set


def kill_uid(uid: int, gid: int | None) -> None:
    """Kill every process of `uid` at once: a helper becomes that uid and calls kill(-1, SIGKILL).

    kill(-1) is atomic with respect to a fork bomb, unlike a /proc scan; the helper is a fork of the
    parent that only changes uid and signals, it never runs student code.
    """
    pid = os.fork()
    if pid == 0:  # child: async-signal-safe calls only, then _exit
        try:
            os.setgroups([])
            os.setgid(gid if gid is not None else uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        except BaseException:
            pass
        os._exit(0)
    os.waitpid(pid, 0)


def reap_uid(uid: int, gid: int | None, live: AbstractSet[int] = frozenset(), timeout: float = 2.0) -> int:
    """Wait (bounded) until no process of `uid` is left, reaping those that became our zombie children
    (orphans re-parented to us, the subreaper); returns how many are left.

    Zombies still count for the uid's RLIMIT_NPROC: unreaped, a few worker restarts after a handin's
    orphans died would leave the next worker unable to start (execve fails with EAGAIN after setuid).
    """
    my_pid = os.getpid()
    deadline = time.monotonic() + timeout
    while True:
        left = 0
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) in live:
                continue
            try:
                if os.stat(f"/proc/{name}").st_uid != uid:
                    continue
            except OSError:
                continue
            fields = stat_fields(int(name))
            if not fields:
                continue
            if fields[0] in ("Z", "X") and fields[1] == str(my_pid):
                try:
                    os.waitpid(int(name), os.WNOHANG)
                except ChildProcessError:
                    pass
                continue
            left += 1
        if not left or time.monotonic() >= deadline:
            return left
        kill_uid(uid, gid)  # one that was forking when the last kill came
        time.sleep(0.005)


def find_targets(worker: int, uid: int | None, token: str, live: AbstractSet[int], my_pid: int) -> set[int]:
    """Live processes that belong to the worker `worker` (pid; its uid when dedicated, its environment token);
    zombies are left to reaping."""
    table = proc_table()
    targets = set()
    for pid, (_ppid, owner, pgid, sid, state) in table.items():
        if pid in (my_pid, 1) or state in ("Z", "X"):
            continue
        if pgid == worker or sid == worker or (uid is not None and owner == uid):
            targets.add(pid)
    # Descendants of the worker, and descendants of the grader that carry this worker's token.
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_rest) in table.items():
        children.setdefault(ppid, []).append(pid)

    def descendants(root: int) -> list[int]:
        out, stack = [], [root]
        while stack:
            for c in children.get(stack.pop(), []):
                out.append(c)
                stack.append(c)
        return out

    for pid in descendants(worker):
        if table[pid][4] not in ("Z", "X"):
            targets.add(pid)
    mark = f"AUTOGRADER_WORKER_TOKEN={token}".encode()
    for pid in descendants(my_pid):
        if pid in targets or table[pid][4] in ("Z", "X"):
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if mark in f.read().split(b"\0"):
                    targets.add(pid)
        except OSError:
            pass
    if uid is None:  # no dedicated uid to kill by: also find escapees that dropped the token
        others = set()
        for pid in set(live) - {worker}:
            others |= {pid, *descendants(pid)}
        for pid in descendants(my_pid):
            if (
                pid not in targets
                and pid not in others
                and table[pid][4] not in ("Z", "X")
                and has_worker_cpu_limit(pid)
            ):
                targets.add(pid)
    targets.discard(my_pid)
    return targets


def reap_orphans(my_pid: int, candidates: set[int], dying: set[int], timeout: float) -> None:
    """Reap those of `candidates` that became our children (re-parented to us, the subreaper)."""
    deadline = time.monotonic() + timeout
    pending = set(candidates)
    while pending:
        for pid in list(pending):
            fields = stat_fields(pid)
            if not fields:
                pending.discard(pid)  # gone: reaped by its own parent
                continue
            ppid = int(fields[1]) if len(fields) > 1 else 0
            if ppid != my_pid:
                # Its parent is dying too (then it re-parents to us: wait) or will reap it (then forget it).
                if ppid not in dying:
                    pending.discard(pid)
            elif fields[0] in ("Z", "X"):
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
                pending.discard(pid)
        if pending and time.monotonic() < deadline:
            time.sleep(0.002)
        else:
            break
