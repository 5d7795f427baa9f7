"""One client's sandbox: its slot (worker uid and lock), scratch folder, protections plan, disk watch, the
student output drained from its workers, and the worker currently running in it.

The client (client.py) speaks the protocol and decides when a worker must go; this object starts,
stops and reaps workers, and cleans up after them (at close(), or at interpreter exit).
"""

from __future__ import annotations

import select
import time
import weakref
from collections.abc import Sequence
from pathlib import Path

from autograder.framework.sandbox.disk import DiskWatch
from autograder.framework.sandbox.limits import Limits
from autograder.framework.sandbox.output import CappedOutput
from autograder.framework.sandbox.process import LIVE, WorkerProcess, close_pipes, kill_worker, spawn
from autograder.framework.sandbox.protections import plan_protections, warn_missing_once
from autograder.framework.sandbox.reaping import kill_uid
from autograder.framework.sandbox.scratch import (
    Scratch,
    find_package,
    prepare_scratch,
    remove_scratch,
    remove_uid_files,
    reset_work_dir,
)
from autograder.framework.sandbox.slots import acquire_slot, release_slot, worker_ids

DRAIN_AFTER_EXIT_SECONDS = 0.5  # how long to collect output of a dead worker (escapees may hold the pipe)


class _State:
    """What the finalizer needs to clean up, kept apart from the sandbox so that it can be collected."""

    def __init__(self, scratch: Scratch, uid: int | None, gid: int | None, slot_lock: int | None) -> None:
        self.scratch = scratch
        self.uid, self.gid = uid, gid
        self.slot_lock = slot_lock
        self.proc: WorkerProcess | None = None


def _cleanup(state: _State) -> None:
    """Kill the worker tree, clean up after the worker uid, delete the scratch folder, free the slot."""
    if state.proc is not None:
        kill_worker(state.proc)
        close_pipes(state.proc)
        state.proc = None
    if state.uid is not None:  # drop what the worker uid left in /tmp and the like, once it is dead
        kill_uid(state.uid, state.gid)
        remove_uid_files(state.uid)
    remove_scratch(state.scratch.root)
    if state.slot_lock is not None:
        release_slot(state.slot_lock)
        state.slot_lock = None
    if state.uid is not None:
        LIVE.uids.discard(state.uid)


class WorkerSandbox:
    """The sandbox one WorkerClient runs its workers in (one worker at a time)."""

    def __init__(
        self,
        submission_root: Path,
        package: str,
        scenarios_file: Path,
        data_files: Sequence[Path],
        limits: Limits,
        slot: int,
    ) -> None:
        find_package(submission_root, package)
        self.package, self.limits, self.slot = package, limits, slot
        ids = worker_ids(slot)
        self.uid: int | None = ids[0]
        self.gid: int | None = ids[1]
        self.plan = plan_protections(limits, self.uid, limits.call_timeout)
        if self.uid is None:
            warn_missing_once(self.plan.missing)
        else:
            LIVE.claim_uid(self.uid, slot)
        lock = None
        try:
            # Other grader processes on this machine may use the same slot: wait for it to be free.
            lock = acquire_slot(self.uid) if self.uid is not None else None
            scratch = prepare_scratch(submission_root, scenarios_file, data_files, self.uid, self.gid)
        except BaseException:
            if lock is not None:
                release_slot(lock)
            if self.uid is not None:
                LIVE.uids.discard(self.uid)
            raise
        self._state = _State(scratch, self.uid, self.gid, lock)
        self._finalizer = weakref.finalize(self, _cleanup, self._state)
        self.output = CappedOutput(limits.output_bytes_per_call, limits.output_bytes_total)
        self.disk = DiskWatch(scratch.work, limits.disk_bytes, self.uid)
        self._starts = 0

    @property
    def alive(self) -> bool:
        """False once closed."""
        return self._finalizer.alive

    @property
    def proc(self) -> WorkerProcess | None:
        """The running (or not yet reaped) worker, if any."""
        return self._state.proc

    @property
    def scratch(self) -> Scratch:
        """The scratch folder (for tests and diagnostics)."""
        return self._state.scratch

    def start(self) -> WorkerProcess:
        """Exec a new worker now, in an emptied work folder; it imports numpy and the package meanwhile."""
        if self._starts:
            reset_work_dir(self._state.scratch, self.uid, self.gid)
        proc = spawn(self._state.scratch, self.package, self.limits, self.uid, self.gid, self.plan)
        self._starts += 1
        self._state.proc = proc
        if self.plan.missing:
            warn_missing_once(self.plan.missing)
        return proc

    def stop(self, proc: WorkerProcess) -> bool:
        """Kill the worker tree, keep what it printed, close its pipes; True when it was the current worker."""
        kill_worker(proc)
        self.drain(proc, until_eof=True)
        close_pipes(proc)
        if self._state.proc is proc:
            self._state.proc = None
            return True
        return False

    def begin_call(self) -> None:
        """A call starts: a new output budget, and its files are measured from DISK_CHECK_SECONDS on."""
        self.output.new_call()
        self.disk.start_call()

    def end_call(self, proc: WorkerProcess) -> None:
        """A call answered: collect what it printed, and measure what it left on disk (DiskFull when over the
        budget; children may still be writing: the next call's checks see that)."""
        self.drain(proc)
        self.disk.check(proc.pid)

    def reset_work(self) -> None:
        """Empty the work folder now (normally done before the next start)."""
        reset_work_dir(self._state.scratch, self.uid, self.gid)

    def pump_output(self, proc: WorkerProcess) -> bool:
        """Read one chunk of the worker's output into the capped buffer; False at its end."""
        data = proc.read_output()
        if data is None:
            return True
        if not data:
            return False
        self.output.feed(data)
        return True

    def drain(self, proc: WorkerProcess, until_eof: bool = False) -> None:
        """Collect output already in the pipe (bounded, so a flooding background thread cannot stall us)."""
        end = time.monotonic() + (DRAIN_AFTER_EXIT_SECONDS if until_eof else 0.05)
        for _ in range(1024):
            if proc.out_r < 0:
                return
            wait = max(0.0, end - time.monotonic()) if until_eof else 0.0
            readable, _, _ = select.select([proc.out_r], [], [], wait)
            if not readable or not self.pump_output(proc):
                return
            if time.monotonic() > end:
                return

    def take_output(self) -> str:
        """Student output captured since the last take (capped, marked "[... N bytes cut]")."""
        if self._state.proc is not None:
            self.drain(self._state.proc)
        return self.output.take()

    def close(self) -> None:
        """Kill the worker and everything it started, clean up after its uid, remove the scratch folder."""
        if self._state.proc is not None:
            self.drain(self._state.proc)
        self._finalizer()
