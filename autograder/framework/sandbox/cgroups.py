"""Aggregate limits for one worker slot with cgroups: memory, process count and CPU weight shared by
every process the worker starts (rlimits are per process: 60 processes under RLIMIT_AS each, or 60
CPU burners, escape them and starve a neighbour graded on the next slot).

A group is created BENEATH the grader's own cgroup in each hierarchy (nothing is moved out of it, and
its limits keep applying), where the grader may write: cgroup v1 hierarchies (memory, pids, cpu), as
root on a TA's machine, or cgroup v2 with those controllers available in the grader's cgroup. The
worker joins in its preexec function, before exec. Elsewhere (Docker's read-only /sys/fs/cgroup, a
non-root grader without a delegated subtree) `create` says why not and the per-process rlimits remain.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

ROOT = "/sys/fs/cgroup"
V1_CONTROLLERS = ("memory", "pids", "cpu")


@dataclass
class SlotGroup:
    """The cgroup folders of one slot (one per v1 hierarchy, or one v2 folder) and how to join them."""

    kind: str
    dirs: list[str] = field(default_factory=list)

    def procs_files(self) -> list[bytes]:
        """The cgroup.procs paths a preexec function writes "0" to (encoded now: no allocation later)."""
        return [os.fsencode(os.path.join(d, "cgroup.procs")) for d in self.dirs]

    def remove(self) -> None:
        """Remove the folders (they must be empty: call once the worker's processes are dead)."""
        for d in self.dirs:
            try:
                os.rmdir(d)
            except OSError:
                pass


def _own_paths() -> dict[str, str]:
    """Controller (or "" for v2) -> this process's cgroup path, from /proc/self/cgroup."""
    out = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                out[c] = path
    return out


def pids_current(name: str) -> int | None:
    """How many tasks the group `name` beneath this process's cgroups holds now, as its pids controller
    counts them (the figure its pids.max limits); None when there is no such group."""
    try:
        own = _own_paths()
    except OSError:
        return None
    for d in (
        os.path.join(ROOT, "pids", own.get("pids", "").lstrip("/"), name),
        os.path.join(ROOT, own.get("", "").lstrip("/"), name),
    ):
        try:
            with open(os.path.join(d, "pids.current")) as f:
                return int(f.read())
        except (OSError, ValueError):
            continue
    return None


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def create(name: str, memory_bytes: int, pids: int) -> SlotGroup | str:
    """A group `name` limited to `memory_bytes` (page cache, tmpfs and shared memory included), `pids`
    tasks and the default CPU weight; or the reason it cannot be made here."""
    try:
        own = _own_paths()
    except OSError as e:
        return f"cannot read /proc/self/cgroup: {e}"
    if all(os.path.isfile(os.path.join(ROOT, c, "tasks")) for c in V1_CONTROLLERS) and all(
        c in own for c in V1_CONTROLLERS
    ):
        group = SlotGroup("cgroup v1 (memory, pids, cpu)")
        try:
            for c in V1_CONTROLLERS:
                d = os.path.join(ROOT, c, own[c].lstrip("/"), name)
                os.makedirs(d, exist_ok=True)
                group.dirs.append(d)
            _write(os.path.join(group.dirs[0], "memory.limit_in_bytes"), str(memory_bytes))
            memsw = os.path.join(group.dirs[0], "memory.memsw.limit_in_bytes")
            if os.path.exists(memsw):  # swap accounting on: without this the group would swap, not stop
                _write(memsw, str(memory_bytes))
            _write(os.path.join(group.dirs[1], "pids.max"), str(pids))
            _write(os.path.join(group.dirs[2], "cpu.shares"), "1024")
        except OSError as e:
            group.remove()
            return f"cgroup v1 is not writable here ({e.strerror})"
        return group
    if os.path.isfile(os.path.join(ROOT, "cgroup.controllers")) and "" in own:
        base = os.path.join(ROOT, own[""].lstrip("/"))
        d = os.path.join(base, name)
        group = SlotGroup("cgroup v2 (memory, pids, cpu)", [d])
        try:
            with open(os.path.join(base, "cgroup.subtree_control")) as f:
                enabled = f.read().split()
            missing = [c for c in V1_CONTROLLERS if c not in enabled]
            if missing:  # fails when the grader's own cgroup holds processes (v2's no-internal-process rule)
                _write(os.path.join(base, "cgroup.subtree_control"), " ".join("+" + c for c in missing))
            os.makedirs(d, exist_ok=True)
            _write(os.path.join(d, "memory.max"), str(memory_bytes))
            _write(os.path.join(d, "memory.swap.max"), "0")
            _write(os.path.join(d, "pids.max"), str(pids))
        except OSError as e:
            group.remove()
            return f"cgroup v2 controllers are not delegated to the grader's cgroup ({e.strerror})"
        return group
    return "no cgroup hierarchy with memory, pids and cpu controllers"


def remove(name: str) -> None:
    """Remove the (empty) group `name` wherever it exists beneath the grader's cgroups. Never raises."""
    try:
        own = _own_paths()
    except OSError:
        return
    for controller, path in own.items():
        d = os.path.join(ROOT, controller, path.lstrip("/"), name)
        if os.path.isdir(d):
            try:
                os.rmdir(d)
            except OSError:
                pass


def join_in_child(procs_files: list[bytes]) -> None:
    """Move the calling process into the groups (for a preexec function: raises OSError on failure)."""
    for path in procs_files:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)
