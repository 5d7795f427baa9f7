"""WorkerClient: the only way trusted code runs student code.

    with WorkerClient(submission_root, "mytorch", scenarios_file) as student:
        grads = student.run("mul_backward", a=a, b=b, upstream=up)   # plain data, or a StudentError
        printed = student.take_output()

One persistent sandboxed worker (sandbox.py) serves the calls. It is started when the client is made
(its handshake is awaited by the first call), killed on a deadline, a crash or an out-of-memory error,
and replaced at once by a new one whose import overlaps the grader's own work. Replies are decoded by
channel.decode (data only); nothing the worker sends is ever unpickled or has a method called on it.
Not thread-safe: use one client per thread (and one slot per concurrent client).

Time: a call's `timeout` is counted in CPU seconds of the worker process, so a busy machine does not
fail correct code; code that waits instead of computing (sleeping, blocked) is stopped after
WALL_FACTOR x `timeout` of wall clock not spent waiting for a CPU, and every call after HARD_FACTOR x
`timeout` of plain wall clock. The first worker's import of the package has
`Limits.import_timeout`. After a restart, the new worker's import of the package is part of the next
call and counts against its limits, so a package that imports slowly cannot add its import time to
every check (a timed-out import goes on, and the next call waits for it under its own limits). Only
the interpreter's and numpy's start, before any student code runs, is not charged to the call.
"""

from __future__ import annotations

import ast
import copy
import errno
import math
import os
import select
import time
import weakref
from pathlib import Path
from typing import Any, Sequence

from autograder.framework import channel, sandbox
from autograder.framework.budget import HARD_FACTOR, WALL_FACTOR
from autograder.framework.errors import (
    UNREADABLE,
    BadObservation,
    StudentCrash,
    StudentError,
    StudentException,
    StudentOutOfMemory,
    StudentTimeout,
    format_student_exception,
)
from autograder.framework.sandbox import Limits, WorkerProcess
from autograder.framework.text import cap, clean, clean_tree

__all__ = ["Limits", "WorkerClient", "CappedOutput"]

READ_CHUNK = 1 << 20
DRAIN_AFTER_EXIT_SECONDS = 0.5  # how long to collect output of a dead worker (escapees may hold the pipe)
MESSAGE_BYTES = 16 * 1024  # an error reply's message and traceback, each, as kept by the parent
STRING_BYTES = 64 * 1024  # any other string in a reply
# Error kinds a worker may send once student code can run. "grader" (the scenarios file failed to
# load) is only believed before that; "unknown_scenario" only for a name the scenarios file lacks.
STUDENT_KINDS = frozenset({"exception", "oom", "exit", "import_exception", "import_oom", "import_exit",
                           "bad_result", "unknown_scenario"})
# The worker cannot burn CPU time faster than this many seconds per second (the CPUs it may run on).
CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
DISK_CHECK_COST = 0.05  # the largest share of the parent's time the disk checks during a call may take
COMPUTING = 0.25  # a call stopped by the wall clock that used this part of its CPU limit was computing


class _Expired(Exception):
    """A wait's limit passed: `cpu` when the worker was computing (its CPU limit, or the wall clock
    while it used CPU on a busy machine), False when it was mostly waiting."""

    def __init__(self, cpu: bool = False) -> None:
        super().__init__()
        self.cpu = cpu


class _Limit:
    """When a wait must end: a plain wall-clock deadline and, once `count_cpu` is called, limits on
    what the worker process does from then on: `cpu_seconds` of CPU time, and `active_seconds` of wall
    clock not spent waiting for a CPU (so a sleeping or blocked worker is stopped, a starved one is not)."""

    def __init__(self, wall_end: float, cpu_seconds: float = math.inf, active_seconds: float = math.inf) -> None:
        self.wall_end, self.cpu_seconds, self.active_seconds = wall_end, cpu_seconds, active_seconds
        self._pid = 0
        self._start = self._cpu_start = self._queued_start = 0.0
        self._check_at = math.inf  # neither limit can have been reached before this time

    def count_cpu(self, pid: int) -> None:
        """Count what process `pid` does from now on."""
        self._pid, self._start = pid, time.monotonic()
        self._cpu_start, self._queued_start = sandbox.cpu_seconds_used(pid), _queued_seconds(pid)
        self._check_at = self._start + min(self.cpu_seconds / CPUS, self.active_seconds)

    def wait(self) -> float:
        """How long a select may sleep before the limits must be checked again; _Expired once one has passed."""
        now = time.monotonic()
        if now >= self.wall_end:
            raise _Expired(cpu=self._cpu_used() >= COMPUTING * self.cpu_seconds)
        if now >= self._check_at:
            used = self._cpu_used()
            if used >= self.cpu_seconds:
                raise _Expired(cpu=True)
            active = now - self._start - (_queued_seconds(self._pid) - self._queued_start)
            if active >= self.active_seconds:
                raise _Expired(cpu=used >= COMPUTING * self.cpu_seconds)
            self._check_at = now + min((self.cpu_seconds - used) / CPUS, self.active_seconds - active)
        return min(self.wall_end, self._check_at) - now

    def _cpu_used(self) -> float:
        return sandbox.cpu_seconds_used(self._pid) - self._cpu_start if self._pid else 0.0


def _queued_seconds(pid: int) -> float:
    """Seconds the main thread of `pid` has spent runnable but waiting for a CPU (0.0 if unknown)."""
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


class _Died(Exception):
    """The worker closed the channel (exited, crashed, or closed its end)."""


class _DiskFull(Exception):
    """The worker's files passed its disk budget (sandbox.disk_use); `use` is what was measured."""

    def __init__(self, use: sandbox.DiskUse) -> None:
        super().__init__()
        self.use = use


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


# Worker uids in use by live clients of this process: starting a worker kills every process of its uid,
# so two live clients on one slot would kill each other's workers. Refuse that loudly instead.
_LIVE_UIDS: set[int] = set()


class _State:
    """What the finalizer needs to clean up, kept apart from the client so the client can be collected."""

    def __init__(self, scratch: sandbox.Scratch, uid: int | None, slot_lock: int | None) -> None:
        self.scratch = scratch
        self.uid = uid
        self.slot_lock = slot_lock
        self.proc: WorkerProcess | None = None


def _cleanup(state: _State) -> None:
    """Kill the worker tree and delete the scratch folder (runs at close() or interpreter exit)."""
    if state.proc is not None:
        sandbox.kill_worker(state.proc)
        sandbox.close_pipes(state.proc)
        state.proc = None
    if state.uid is not None:  # drop what the worker uid left in /tmp and the like, once it is dead
        sandbox.kill_uid(state.uid, state.uid)
        sandbox.remove_uid_files(state.uid)
    sandbox.remove_scratch(state.scratch.root)
    if state.slot_lock is not None:
        sandbox.release_slot(state.slot_lock)
        state.slot_lock = None
    _LIVE_UIDS.discard(state.uid)


class WorkerClient:
    """Runs scenario functions on the student's package inside the sandbox."""

    def __init__(self, submission_root: Path, package: str, scenarios_file: Path,
                 data_files: Sequence[Path] = (), limits: Limits = Limits(), slot: int = 0) -> None:
        self.submission_root = Path(submission_root).resolve()
        self.package = package
        self.limits = limits
        self.slot = slot
        sandbox.find_package(self.submission_root, package)
        self._scenario_names = scenario_names(Path(scenarios_file))
        self._uid, self._gid = sandbox.worker_ids(slot)
        if self._uid is not None and self._uid in _LIVE_UIDS:
            raise RuntimeError(f"slot {slot} is already used by another open WorkerClient in this process; "
                               "close it first or use a different slot")
        plan = sandbox.plan_protections(limits, self._uid, limits.call_timeout)
        self.protections: list[str] = plan.applied
        self.missing_protections: list[str] = plan.missing
        self._plan = plan
        if self._uid is None:
            sandbox.warn_missing_once(plan.missing)
        # Other grader processes on this machine may use the same slot: wait for it to be free.
        lock = sandbox.acquire_slot(self._uid) if self._uid is not None else None
        try:
            scratch = sandbox.prepare_scratch(self.submission_root, Path(scenarios_file), data_files,
                                              self._uid, self._gid)
        except BaseException:
            if lock is not None:
                sandbox.release_slot(lock)
            raise
        self._state = _State(scratch, self._uid, lock)
        if self._uid is not None:
            _LIVE_UIDS.add(self._uid)
        self._finalizer = weakref.finalize(self, _cleanup, self._state)
        self._output = CappedOutput(limits.output_bytes_per_call, limits.output_bytes_total)
        self._import_failure: BaseException | None = None
        self._starts = 0
        self._handshake_pending = False
        self._loaded = False  # the current worker sent its first frame (numpy loaded, no student code run yet)
        self._imported_once = False  # some worker of this client imported the package
        self.first_import_seconds: float | None = None  # how long the first worker's import of the package took
        self._rx = bytearray()  # reply bytes read so far (a wait cut by a deadline resumes where it stopped)
        self._disk_check_at = 0.0  # when a running call's files are measured next (_disk_wait)
        try:
            self._spawn()  # start now: numpy and the package import while the grader collects its tests
        except BaseException:
            self._finalizer()
            raise

    # ---- public API ---------------------------------------------------------------------------------
    def run(self, scenario: str, *, timeout: float | None = None, **kwargs: Any) -> Any:
        """Run `scenarios.<scenario>(lib, **kwargs)` in the worker; plain data back, or a StudentError."""
        if not self._finalizer.alive:
            raise RuntimeError("WorkerClient is closed")
        limit = self.limits.call_timeout if timeout is None else float(timeout)
        request = channel.frame({"op": "call", "scenario": scenario, "kwargs": kwargs})  # bad kwargs fail here
        self._output.new_call()
        self._disk_check_at = time.monotonic() + sandbox.DISK_CHECK_SECONDS  # checked after the call anyway
        # The limits cover a restarted worker's import, too.
        call = _Limit(time.monotonic() + HARD_FACTOR * limit, limit, WALL_FACTOR * limit)
        proc = self._ensure_worker(call, limit)
        try:
            self._send(proc, request, call)
            reply = self._receive(proc, call)
        except _Expired as e:
            self._stop(proc, respawn=True)
            raise StudentTimeout(_timeout_message(limit, e.cpu)) from None
        except _Died:
            raise self._death(proc, f"while running scenario {scenario!r}") from None
        except channel.ChannelError as e:
            self._stop(proc, respawn=True)
            raise BadObservation(
                f"{UNREADABLE} while running scenario {scenario!r}: {cap(str(e), MESSAGE_BYTES)} "
                "(did your code write to the grader's channel?)"
            ) from None
        except _DiskFull as e:
            raise self._disk_full(proc, e.use, f"while running scenario {scenario!r}") from None
        self._drain(proc)
        try:
            self._check_disk(proc)  # what the call left behind (children may still be writing: the next check)
        except _DiskFull as e:
            raise self._disk_full(proc, e.use, f"while running scenario {scenario!r}") from None
        if sandbox.cpu_seconds_used(proc.pid) > self.limits.cpu_seconds / 2:
            self._stop(proc, respawn=True)  # restart before the CPU limit would kill it in the middle of a later call
        result, error = self._result(reply, scenario, proc)
        del reply  # a raised error keeps this frame alive as long as pytest keeps the failure
        if error is not None:
            raise error
        return result

    def take_output(self) -> str:
        """Student stdout/stderr captured since the last take (capped, marked "[... N bytes cut]")."""
        if self._state.proc is not None:
            self._drain(self._state.proc)
        return self._output.take()

    def restart(self) -> None:
        """Kill the worker now and start a fresh one (import failures stay remembered)."""
        if self._state.proc is not None:
            self._stop(self._state.proc, respawn=True)

    def close(self) -> None:
        """Kill the worker and everything it started, and remove the scratch folder."""
        if self._state.proc is not None:
            self._drain(self._state.proc)
        self._finalizer()

    def __enter__(self) -> "WorkerClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def worker_pid(self) -> int | None:
        """The pid of the running worker, if any (for tests and diagnostics)."""
        return self._state.proc.pid if self._state.proc is not None else None

    # ---- worker life ----------------------------------------------------------------------------------
    def _spawn(self) -> WorkerProcess:
        """Exec a new worker now; it imports numpy and the package while the grader goes on working.
        Its handshake is read by _ensure_worker when a call needs the worker."""
        scratch = self._state.scratch
        if self._starts:
            sandbox.reset_work_dir(scratch, self._uid, self._gid)
        proc = sandbox.spawn(scratch, self.package, self.limits, self._uid, self._gid, self._plan)
        self._starts += 1
        self._state.proc = proc
        self._handshake_pending = True
        self._loaded = False
        self._rx.clear()
        if self.missing_protections:
            sandbox.warn_missing_once(self.missing_protections)
        return proc

    def _ensure_worker(self, call: _Limit, limit: float) -> WorkerProcess:
        """The running worker, started and its package imported if needed; `call` starts counting its CPU.

        Waiting for the interpreter and numpy (no student code yet) moves the call's wall deadline by
        the wait. Waiting for a restarted worker's import of the package counts against the call's
        limits: on expiry the call times out and the import goes on for the next call. The first
        import has import_timeout; import failures are remembered.
        """
        if self._import_failure is not None:
            raise copy.copy(self._import_failure)
        proc = self._state.proc or self._spawn()
        if not self._handshake_pending:
            call.count_cpu(proc.pid)
            return proc
        t = self.limits.import_timeout
        if not self._loaded:
            started = time.monotonic()
            self._await_loaded(proc, _Limit(started + t))
            self._loaded = True
            call.wall_end += time.monotonic() - started
        first = not self._imported_once
        started = time.monotonic()
        if first:
            wait = _Limit(started + t)
        else:
            wait = call
            call.count_cpu(proc.pid)
        context = f"while importing your package {self.package!r}"
        try:
            reply = self._receive(proc, wait)
        except _Expired as e:
            if not first:  # the worker keeps importing: the next call waits for it under its own limits
                raise StudentTimeout(_timeout_message(
                    limit, e.cpu, f" {context}: the worker had been restarted (after a timeout, a crash or running "
                                  f"out of memory) and your package had not finished importing"
                                  f"{self._first_import_note()}", "slow code at import time? keep module level cheap"
                )) from None
            self._handshake_pending = False
            self._stop(proc)
            failure: BaseException = StudentTimeout(
                f"timed out after {t:g} s {context} (an infinite loop or a long computation at import time?)"
            )
        except _Died:
            failure = self._death(proc, context, importing=True)
        except channel.ChannelError as e:
            self._stop(proc)
            failure = BadObservation(f"{UNREADABLE} {context}: {cap(str(e), MESSAGE_BYTES)}")
        except _DiskFull as e:
            failure = self._disk_full(proc, e.use, context, respawn=False)
        else:
            self._handshake_pending = False
            if isinstance(reply, dict) and reply.get("ok") is True and reply.get("ready") is True:
                if first:  # the first import has its own allowance: the call starts now
                    self.first_import_seconds = time.monotonic() - started
                    call.wall_end += self.first_import_seconds
                    call.count_cpu(proc.pid)
                self._imported_once = True
                return proc
            self._stop(proc)
            failure = self._reply_error(reply, context, importing=True)
        self._import_failure = failure
        raise copy.copy(failure)

    def _first_import_note(self) -> str:
        """'; its first import took 2.3 s' when known."""
        t = self.first_import_seconds
        return "" if t is None else f"; its first import took {t:.1f} s"

    def _await_loaded(self, proc: WorkerProcess, deadline: _Limit) -> None:
        """Wait for the worker's first frame (sent before any student code runs); failures are the grader's."""
        try:
            reply = self._receive(proc, deadline)
        except (_Expired, _Died, channel.ChannelError, _DiskFull) as e:
            self._stop(proc)
            status = "" if proc.status is None else (sandbox.describe_signal(proc.status)
                                                     or f"status {os.waitstatus_to_exitcode(proc.status)}")
            why = {_Expired: "no sign of life before the deadline", _Died: f"it exited, {status}"}.get(type(e), str(e))
            raise RuntimeError(
                f"grader error: the worker did not start ({why}); its output:\n{self._output.peek()[-2000:]}"
            ) from None
        if not (isinstance(reply, dict) and reply.get("ok") is True and reply.get("loaded") is True):
            self._stop(proc)
            raise self._reply_error(reply, "while starting the worker", importing=False, trusted=True)

    def _stop(self, proc: WorkerProcess, respawn: bool = False) -> None:
        """Kill the worker tree, keep what it printed, forget it; with `respawn`, start the next worker
        at once (it imports while the grader works on, so the next call does not wait for a start)."""
        sandbox.kill_worker(proc)
        self._drain(proc, until_eof=True)
        sandbox.close_pipes(proc)
        if self._state.proc is proc:
            self._state.proc = None
            self._handshake_pending = False
            self._rx.clear()
        if respawn and self._import_failure is None and self._finalizer.alive:
            self._spawn()

    # ---- the channel, with a deadline -------------------------------------------------------------------
    def _send(self, proc: WorkerProcess, data: bytes, limit: _Limit) -> None:
        """Write a request frame, draining student output meanwhile; _Expired / _Died on failure."""
        view = memoryview(data)
        while view:
            left = min(limit.wait(), self._disk_wait(proc))
            readable, writable, _ = select.select([proc.out_r] if proc.out_r >= 0 else [], [proc.req_w], [], left)
            if readable:
                self._read_output(proc)
            if writable:
                try:
                    n = os.write(proc.req_w, view[:READ_CHUNK])
                except BlockingIOError:
                    continue
                except BrokenPipeError:
                    raise _Died from None
                view = view[n:]

    def _receive(self, proc: WorkerProcess, limit: _Limit) -> Any:
        """Read one reply frame (size-checked before reading) and decode it, every string cleaned and
        capped (text.clean_tree); _Expired / _Died on failure.

        Bytes read before a deadline expired stay in self._rx, so a later wait on the same worker
        (a restarted worker's import, resumed by the next call) goes on from there."""
        size = channel.HEADER.size
        self._fill(proc, size, limit)
        (length,) = channel.HEADER.unpack(bytes(self._rx[:size]))
        if length > channel.MAX_FRAME_BYTES:
            raise channel.ChannelError(
                f"a reply of {length} bytes is larger than the limit of {sandbox.human_bytes(channel.MAX_FRAME_BYTES)}"
            )
        self._fill(proc, size + length, limit)
        frame = bytes(self._rx[size:size + length])
        del self._rx[:size + length]
        try:
            tree = channel.decode(frame, channel.MAX_FRAME_BYTES)
        except channel.ChannelError as e:
            problem = str(e)
        else:
            return clean_tree(tree, STRING_BYTES)
        finally:
            del frame
        # Raised afresh, outside the handler: the error must not hold decode's frames (and with them the
        # refused frame, up to MAX_FRAME_BYTES) alive for as long as pytest keeps the failure.
        raise channel.ChannelError(problem)

    def _fill(self, proc: WorkerProcess, n: int, limit: _Limit) -> None:
        """Read reply bytes until self._rx holds `n` (never more), draining student output meanwhile;
        _Expired / _Died on failure."""
        while len(self._rx) < n:
            remaining = min(limit.wait(), self._disk_wait(proc))
            fds = [proc.rep_r] + ([proc.out_r] if proc.out_r >= 0 else [])
            readable, _, _ = select.select(fds, [], [], remaining)
            if proc.out_r in readable:
                self._read_output(proc)
            if proc.rep_r in readable:
                chunk = os.read(proc.rep_r, min(n - len(self._rx), READ_CHUNK))
                if not chunk:
                    raise _Died
                self._rx += chunk

    def _read_output(self, proc: WorkerProcess) -> bool:
        """Read one chunk of student output into the capped buffer; False at EOF (stops watching it)."""
        try:
            data = os.read(proc.out_r, READ_CHUNK)
        except BlockingIOError:
            return True
        except OSError as e:
            if e.errno != errno.EBADF:
                raise
            data = b""
        if not data:
            proc.out_r = -1  # the pipe stays open until close_pipes; just stop selecting on it
            return False
        self._output.feed(data)
        return True

    def _drain(self, proc: WorkerProcess, until_eof: bool = False) -> None:
        """Collect output already in the pipe (bounded, so a flooding background thread cannot stall us)."""
        end = time.monotonic() + (DRAIN_AFTER_EXIT_SECONDS if until_eof else 0.05)
        for _ in range(1024):
            if proc.out_r < 0:
                return
            wait = max(0.0, end - time.monotonic()) if until_eof else 0.0
            readable, _, _ = select.select([proc.out_r], [], [], wait)
            if not readable or not self._read_output(proc):
                return
            if time.monotonic() > end:
                return

    # ---- the disk budget -------------------------------------------------------------------------------
    def _disk_wait(self, proc: WorkerProcess) -> float:
        """Measure the worker's files when a check is due; seconds until the next one (_DiskFull when over)."""
        now = time.monotonic()
        if now >= self._disk_check_at:
            self._check_disk(proc)
            took = time.monotonic() - now
            # Often (what a worker can write between two checks is what it gets past the budget), but a
            # big folder, slow to measure, is measured less often: at most 1/DISK_CHECK_COST of the time.
            self._disk_check_at = now + took + max(sandbox.DISK_CHECK_SECONDS, took / DISK_CHECK_COST)
        return max(0.0, self._disk_check_at - time.monotonic())

    def _check_disk(self, proc: WorkerProcess) -> None:
        """_DiskFull when the work folder plus the deleted files the worker's processes hold open pass
        Limits.disk_bytes, or the folder has more than sandbox.DISK_MAX_ENTRIES entries."""
        use = sandbox.disk_use(self._state.scratch.work, sandbox.worker_pids(proc.pid), uid=self._uid)
        if use.bytes > self.limits.disk_bytes or use.entries > sandbox.DISK_MAX_ENTRIES:
            raise _DiskFull(use)

    def _disk_full(self, proc: WorkerProcess, use: sandbox.DiskUse, context: str,
                   respawn: bool = True) -> StudentCrash:
        """Stop the worker (its files are deleted before the next one starts) and explain."""
        self._stop(proc, respawn=respawn)
        if not respawn:
            sandbox.reset_work_dir(self._state.scratch, self._uid, self._gid)
        if use.entries > sandbox.DISK_MAX_ENTRIES:
            what = f"more than {sandbox.DISK_MAX_ENTRIES:,} files and folders"
        else:
            what = f"{use.bytes / 2**20:.0f} MiB of files"
        return StudentCrash(
            f"your code wrote {what} {context}, more than the grader allows "
            f"({sandbox.human_bytes(self.limits.disk_bytes)} and {sandbox.DISK_MAX_ENTRIES:,} entries in all); "
            "the worker was stopped and its files deleted (large files, many files, or files written in a loop?)")

    # ---- turning replies and deaths into StudentErrors ---------------------------------------------------
    def _result(self, reply: Any, scenario: str, proc: WorkerProcess) -> tuple[Any, BaseException | None]:
        """(the result of a good reply, None), or (None, the StudentError an error reply stands for)."""
        if isinstance(reply, dict) and reply.get("ok") is True and "result" in reply:
            return reply["result"], None
        error = self._reply_error(reply, f"in scenario {scenario!r}", importing=False, scenario=scenario)
        if isinstance(error, StudentOutOfMemory):
            self._stop(proc, respawn=True)  # memory may be fragmented or half-built objects left behind: start clean
        return None, error

    def _reply_error(self, reply: Any, context: str, importing: bool, *, trusted: bool = False,
                     scenario: str | None = None) -> BaseException:
        """Map an error reply to the exception to raise (grader bugs are not StudentErrors).

        Once student code can run, the worker says what the student's code lets it say: a reply that
        does not fit the protocol (wrong types, a missing field, an unknown kind, or a grader error
        only the grader could have) is the student's failure, never an internal grader error.
        `trusted`: only grader code ran so far (the first frame), so a "grader" error is believed.
        """
        err = reply.get("error") if isinstance(reply, dict) and reply.get("ok") is False else None
        fields = ("kind", "type", "message", "traceback")
        if not isinstance(err, dict) or not all(isinstance(err.get(k), str) for k in fields):
            return BadObservation(f"{UNREADABLE} {context}: a reply that is neither a result nor an error "
                                  "(did your code write to the grader's channel?)")
        kind, exc_type = cap(err["kind"], 64), cap(err["type"], 256)
        message, tb = cap(err["message"], MESSAGE_BYTES), cap(err["traceback"], MESSAGE_BYTES)
        if kind == "grader" and trusted:
            return RuntimeError(f"grader error in the worker: {message}\n{tb}")
        if kind == "unknown_scenario" and scenario is not None and scenario not in self._scenario_names:
            return LookupError(f"grader error: {message}")
        if kind not in STUDENT_KINDS or kind == "unknown_scenario":
            return BadObservation(f"{UNREADABLE} {context}: the reply claims {kind!r}, which the worker does not "
                                  "send at this point (did your code write to the grader's channel?)")
        shown = format_student_exception(exc_type, message, tb)
        if kind == "bad_result":
            return BadObservation(message)
        if kind.endswith("oom"):
            return StudentOutOfMemory(
                f"ran out of memory (limit {sandbox.human_bytes(self.limits.memory_bytes)}) {context} "
                f"(a huge array, or a graph that keeps every intermediate alive?)\n{shown}"
            )
        if kind.endswith("exit"):
            if importing:
                return StudentCrash(f"your package exited while being imported (sys.exit / os._exit at import "
                                    f"time?): {message}")
            return StudentCrash(f"your code called {message} {context}; it must return or raise instead")
        if importing:
            return StudentException(f"importing your package {self.package!r} failed: {shown}",
                                    exc_type=exc_type, exc_message=message, traceback=tb)
        return StudentException(shown, exc_type=exc_type, exc_message=message, traceback=tb)

    def _death(self, proc: WorkerProcess, context: str, importing: bool = False) -> StudentError:
        """The worker closed the channel: find out how it ended, clean up, and explain."""
        respawn = not importing
        if not sandbox.wait_worker(proc, timeout=2.0):
            self._stop(proc, respawn)  # alive but closed its channel end
            return StudentCrash(f"your code closed the grader's channel {context} (do not close file descriptors "
                                f"you did not open)")
        self._stop(proc, respawn)  # leftovers: children, escapees
        status = proc.status if proc.status is not None else 0
        sig = sandbox.describe_signal(status)
        cpu_limit = self.limits.cpu_seconds
        if sig == "SIGXCPU" or (sig == "SIGKILL" and proc.cpu_seconds >= cpu_limit - 0.5):
            return StudentCrash(f"used more than {cpu_limit} s of CPU {context} (an infinite loop, or very slow "
                                f"code?); the worker was stopped")
        if sig == "SIGKILL":
            return StudentCrash(f"the worker running your code was killed (SIGKILL) {context}; usually this "
                                f"means the machine ran out of memory")
        if sig:
            hint = {
                "SIGSEGV": " (a stack overflow from very deep recursion?)",
                "SIGXFSZ": f" (wrote a file larger than {sandbox.human_bytes(self.limits.file_bytes)}?)",
                "SIGABRT": " (a failed assertion inside a C library, or running out of memory?)",
            }.get(sig, "")
            what = "your package crashed while being imported" if importing else f"your code crashed {context}"
            return StudentCrash(f"{what}: killed by {sig}{hint}")
        code = os.waitstatus_to_exitcode(status)
        if importing:
            return StudentCrash(f"your package exited while being imported (sys.exit / os._exit at import "
                                f"time?) with status {code}")
        return StudentCrash(f"your code exited (status {code}) {context} (os._exit or sys.exit in your code?)")


def scenario_names(scenarios_file: Path) -> frozenset[str]:
    """Every name the scenarios file binds at its top level (functions, assignments, imports), read
    without running it: the parent's own list, against which an "unknown scenario" reply is checked."""
    try:
        tree = ast.parse(Path(scenarios_file).read_bytes())
    except (OSError, SyntaxError, ValueError):
        return frozenset()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:
            names.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    return frozenset(names)


def _timeout_message(limit: float, cpu: bool, context: str = "",
                     hint: str = "an infinite loop, or a traversal that revisits nodes?") -> str:
    """What a student reads when a call (or a restarted worker's import) ran out of time: of CPU time
    (computing too long), or of wall-clock time while using little CPU (waiting)."""
    if cpu:
        return f"timed out after {limit:.3g} s{context} ({hint})"
    return (f"timed out after {WALL_FACTOR * limit:.3g} s of wall-clock time{context}, using little CPU: waiting, "
            f"sleeping or blocked (on input, a lock, a child process?) instead of computing")
