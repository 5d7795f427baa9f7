"""What /proc says about processes: states, parents, CPU time, waiting time, children, limits.

Every reader tolerates a process that vanishes while it is read (it returns an empty or zero answer).
"""

from __future__ import annotations

import os
import resource


def stat_fields(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, session, ...];
    [] when the process is gone. The name is skipped up to its last ')': it may hold spaces and ')'."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("ascii", "replace")
    except OSError:
        return []
    return raw[raw.rfind(")") + 2 :].split()


def proc_table() -> dict[int, tuple[int, int, int, int, str]]:
    """pid -> (ppid, uid, pgid, sid, state) for every process we can see."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = stat_fields(int(name))
        if not fields:
            continue
        try:
            uid = os.stat(f"/proc/{name}").st_uid
        except OSError:
            continue
        try:
            table[int(name)] = (int(fields[1]), uid, int(fields[2]), int(fields[3]), fields[0])
        except (IndexError, ValueError):
            continue
    return table


def cpu_seconds_used(pid: int) -> float:
    """User+system CPU seconds of a live process (0.0 if it cannot be read)."""
    fields = stat_fields(pid)
    try:
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (IndexError, ValueError):
        return 0.0


def queued_seconds(pid: int) -> float:
    """Seconds the main thread of `pid` has spent runnable but waiting for a CPU (0.0 if unknown)."""
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def worker_pids(pid: int, max_pids: int = 256) -> list[int]:
    """The worker and its descendants still attached to it (children lists in /proc; escapees that left
    the tree are not found here, they die with the worker)."""
    out: list[int] = []
    stack = [pid]
    while stack and len(out) < max_pids:
        p = stack.pop()
        out.append(p)
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    stack += [int(c) for c in f.read().split()]
            except (OSError, ValueError):
                continue
    return out


def user_tasks(uid: int) -> int:
    """How many tasks (threads included, as RLIMIT_NPROC counts them) the real uid `uid` runs now."""
    n = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as f:
                real = threads = None
                for line in f:
                    if line.startswith("Uid:"):
                        real = int(line.split()[1])
                    elif line.startswith("Threads:"):
                        threads = int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            continue
        if real == uid and threads:
            n += threads
    return n


def has_worker_cpu_limit(pid: int) -> bool:
    """True if `pid` carries a finite hard RLIMIT_CPU while the grader's own is unlimited.

    Workers get a finite hard CPU limit, which every process they start inherits across fork, exec,
    setsid and a cleared environment, and which an unprivileged process cannot raise: an escaped
    orphan (re-parented to the grader, the subreaper) is recognisable by it even without the token.
    """
    if resource.getrlimit(resource.RLIMIT_CPU)[1] != resource.RLIM_INFINITY:
        return False  # the grader itself is limited: the mark would not tell workers apart
    try:
        with open(f"/proc/{pid}/limits") as f:
            for line in f:
                if line.startswith("Max cpu time"):
                    return line.split()[4] != "unlimited"
    except (OSError, IndexError):
        pass
    return False
