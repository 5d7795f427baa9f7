"""WorkerClient: the only way trusted code runs student code.

    with WorkerClient(submission_root, "package_name", scenarios_file) as student:
        grads = student.run("mul_backward", a=a, b=b, upstream=up)   # plain data, or a StudentError
        printed = student.take_output()

This module is the protocol only: frames over the worker's pipes (channel.py), replies checked
against what the worker may say at that point, and the deadlines as policy. One persistent worker,
run by the sandbox package (sandbox.WorkerSandbox: slot, scratch, process life, output, disk budget),
serves the calls. It is started when the client is made (its handshake is awaited by the first call),
stopped on a deadline, a crash or an out-of-memory error, and replaced at once by a new one whose
import overlaps the grader's own work. Replies are decoded by channel.decode (data only); nothing the
worker sends is ever unpickled or has a method called on it. Calls flow one way: client -> sandbox.
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
import math
import os
import select
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autograder.framework import channel
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
from autograder.framework.sandbox import (
    DISK_MAX_ENTRIES,
    DiskFull,
    DiskUse,
    Limits,
    WorkerProcess,
    WorkerSandbox,
    human_bytes,
    wait_worker,
)
from autograder.framework.text import cap, clean_tree

__all__ = ["Limits", "WorkerClient"]

READ_CHUNK = 1 << 20
MESSAGE_BYTES = 16 * 1024  # an error reply's message and traceback, each, as kept by the parent
STRING_BYTES = 64 * 1024  # any other string in a reply
# Error kinds a worker may send once student code can run. "grader" (the scenarios file failed to
# load) is only believed before that; "unknown_scenario" only for a name the scenarios file lacks.
STUDENT_KINDS = frozenset(
    {"exception", "oom", "exit", "import_exception", "import_oom", "import_exit", "bad_result", "unknown_scenario"}
)
# The worker cannot burn CPU time faster than this many seconds per second (the CPUs it may run on).
CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
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
        self._proc: WorkerProcess | None = None
        self._start = self._cpu_start = self._queued_start = 0.0
        self._check_at = math.inf  # neither limit can have been reached before this time

    def count_cpu(self, proc: WorkerProcess) -> None:
        """Count what the worker `proc` does from now on."""
        self._proc, self._start = proc, time.monotonic()
        self._cpu_start, self._queued_start = proc.cpu_seconds_used(), proc.queued_seconds()
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
            assert self._proc is not None  # _check_at is finite only once count_cpu was called
            active = now - self._start - (self._proc.queued_seconds() - self._queued_start)
            if active >= self.active_seconds:
                raise _Expired(cpu=used >= COMPUTING * self.cpu_seconds)
            self._check_at = now + min((self.cpu_seconds - used) / CPUS, self.active_seconds - active)
        return min(self.wall_end, self._check_at) - now

    def _cpu_used(self) -> float:
        return self._proc.cpu_seconds_used() - self._cpu_start if self._proc is not None else 0.0


class _Died(Exception):
    """The worker closed the channel (exited, crashed, or closed its end)."""


class WorkerClient:
    """Runs scenario functions on the student's package inside the sandbox."""

    def __init__(
        self,
        submission_root: Path,
        package: str,
        scenarios_file: Path,
        data_files: Sequence[Path] = (),
        limits: Limits | None = None,
        slot: int = 0,
    ) -> None:
        self.submission_root = Path(submission_root).resolve()
        self.package = package
        self.limits = limits = limits if limits is not None else Limits()
        self.slot = slot
        self._scenario_names = scenario_names(Path(scenarios_file))
        self.sandbox = WorkerSandbox(self.submission_root, package, Path(scenarios_file), data_files, limits, slot)
        self.protections: list[str] = self.sandbox.plan.applied
        self.missing_protections: list[str] = self.sandbox.plan.missing
        self._import_failure: BaseException | None = None
        self._handshake_pending = False
        self._loaded = False  # the current worker sent its first frame (numpy loaded, no student code run yet)
        self._imported_once = False  # some worker of this client imported the package
        self.first_import_seconds: float | None = None  # how long the first worker's import of the package took
        self._rx = bytearray()  # reply bytes read so far (a wait cut by a deadline resumes where it stopped)
        try:
            self._spawn()  # start now: numpy and the package import while the grader collects its tests
        except BaseException:
            self.sandbox.close()
            raise

    # ---- public API ---------------------------------------------------------------------------------
    def run(self, scenario: str, *, timeout: float | None = None, **kwargs: Any) -> Any:
        """Run `scenarios.<scenario>(lib, **kwargs)` in the worker; plain data back, or a StudentError."""
        if not self.sandbox.alive:
            raise RuntimeError("WorkerClient is closed")
        limit = self.limits.call_timeout if timeout is None else float(timeout)
        request = channel.frame({"op": "call", "scenario": scenario, "kwargs": kwargs})  # bad kwargs fail here
        self.sandbox.begin_call()  # a new output budget; files measured during the call, and after it
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
        except DiskFull as e:
            raise self._disk_full(proc, e.use, f"while running scenario {scenario!r}") from None
        try:
            self.sandbox.end_call(proc)  # what the call printed and left on disk
        except DiskFull as e:
            raise self._disk_full(proc, e.use, f"while running scenario {scenario!r}") from None
        if proc.cpu_seconds_used() > self.limits.cpu_seconds / 2:
            self._stop(proc, respawn=True)  # restart before the CPU limit would kill it in the middle of a later call
        result, error = self._result(reply, scenario, proc)
        del reply  # a raised error keeps this frame alive as long as pytest keeps the failure
        if error is not None:
            raise error
        return result

    def take_output(self) -> str:
        """Student stdout/stderr captured since the last take (capped, marked "[... N bytes cut]")."""
        return self.sandbox.take_output()

    def restart(self) -> None:
        """Kill the worker now and start a fresh one (import failures stay remembered)."""
        if self.sandbox.proc is not None:
            self._stop(self.sandbox.proc, respawn=True)

    def close(self) -> None:
        """Kill the worker and everything it started, and remove the scratch folder."""
        self.sandbox.close()

    def __enter__(self) -> WorkerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def worker_pid(self) -> int | None:
        """The pid of the running worker, if any (for tests and diagnostics)."""
        return self.sandbox.proc.pid if self.sandbox.proc is not None else None

    # ---- worker life ----------------------------------------------------------------------------------
    def _spawn(self) -> WorkerProcess:
        """Exec a new worker now; it imports numpy and the package while the grader goes on working.
        Its handshake is read by _ensure_worker when a call needs the worker."""
        proc = self.sandbox.start()
        self._handshake_pending = True
        self._loaded = False
        self._rx.clear()
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
        proc = self.sandbox.proc or self._spawn()
        if not self._handshake_pending:
            call.count_cpu(proc)
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
            call.count_cpu(proc)
        context = f"while importing your package {self.package!r}"
        try:
            reply = self._receive(proc, wait)
        except _Expired as e:
            if not first:  # the worker keeps importing: the next call waits for it under its own limits
                raise StudentTimeout(
                    _timeout_message(
                        limit,
                        e.cpu,
                        f" {context}: the worker had been restarted (after a timeout, a crash or running "
                        f"out of memory) and your package had not finished importing"
                        f"{self._first_import_note()}",
                        "slow code at import time? keep module level cheap",
                    )
                ) from None
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
        except DiskFull as e:
            failure = self._disk_full(proc, e.use, context, respawn=False)
        else:
            self._handshake_pending = False
            if isinstance(reply, dict) and reply.get("ok") is True and reply.get("ready") is True:
                if first:  # the first import has its own allowance: the call starts now
                    self.first_import_seconds = time.monotonic() - started
                    call.wall_end += self.first_import_seconds
                    call.count_cpu(proc)
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
        except (_Expired, _Died, channel.ChannelError, DiskFull) as e:
            self._stop(proc)
            status = (
                ""
                if proc.status is None
                else (proc.exit_signal() or f"status {os.waitstatus_to_exitcode(proc.status)}")
            )
            why = {_Expired: "no sign of life before the deadline", _Died: f"it exited, {status}"}.get(type(e), str(e))
            raise RuntimeError(
                f"grader error: the worker did not start ({why}); its output:\n{self.sandbox.output.peek()[-2000:]}"
            ) from None
        if not (isinstance(reply, dict) and reply.get("ok") is True and reply.get("loaded") is True):
            self._stop(proc)
            raise self._reply_error(reply, "while starting the worker", importing=False, trusted=True)

    def _stop(self, proc: WorkerProcess, respawn: bool = False) -> None:
        """Have the sandbox stop the worker (it keeps what it printed) and forget its replies; with `respawn`,
        start the next worker at once (it imports while the grader works on, so the next call does not wait)."""
        if self.sandbox.stop(proc):
            self._handshake_pending = False
            self._rx.clear()
        if respawn and self._import_failure is None and self.sandbox.alive:
            self._spawn()

    # ---- the channel, with a deadline -------------------------------------------------------------------
    def _send(self, proc: WorkerProcess, data: bytes, limit: _Limit) -> None:
        """Write a request frame, draining student output meanwhile; _Expired / _Died on failure."""
        view = memoryview(data)
        while view:
            left = min(limit.wait(), self.sandbox.disk.wait(proc.pid))
            readable, writable, _ = select.select([proc.out_r] if proc.out_r >= 0 else [], [proc.req_w], [], left)
            if readable:
                self.sandbox.pump_output(proc)
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
                f"a reply of {length} bytes is larger than the limit of {human_bytes(channel.MAX_FRAME_BYTES)}"
            )
        self._fill(proc, size + length, limit)
        frame = bytes(self._rx[size : size + length])
        del self._rx[: size + length]
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
            remaining = min(limit.wait(), self.sandbox.disk.wait(proc.pid))
            fds = [proc.rep_r] + ([proc.out_r] if proc.out_r >= 0 else [])
            readable, _, _ = select.select(fds, [], [], remaining)
            if proc.out_r in readable:
                self.sandbox.pump_output(proc)
            if proc.rep_r in readable:
                chunk = os.read(proc.rep_r, min(n - len(self._rx), READ_CHUNK))
                if not chunk:
                    raise _Died
                self._rx += chunk

    # ---- the disk budget -------------------------------------------------------------------------------
    def _disk_full(self, proc: WorkerProcess, use: DiskUse, context: str, respawn: bool = True) -> StudentCrash:
        """Stop the worker (its files are deleted before the next one starts) and explain."""
        self._stop(proc, respawn=respawn)
        if not respawn:
            self.sandbox.reset_work()
        if use.entries > DISK_MAX_ENTRIES:
            what = f"more than {DISK_MAX_ENTRIES:,} files and folders"
        else:
            what = f"{use.bytes / 2**20:.0f} MiB of files"
        return StudentCrash(
            f"your code wrote {what} {context}, more than the grader allows "
            f"({human_bytes(self.limits.disk_bytes)} and {DISK_MAX_ENTRIES:,} entries in all); "
            "the worker was stopped and its files deleted (large files, many files, or files written in a loop?)"
        )

    # ---- turning replies and deaths into StudentErrors ---------------------------------------------------
    def _result(self, reply: Any, scenario: str, proc: WorkerProcess) -> tuple[Any, BaseException | None]:
        """(the result of a good reply, None), or (None, the StudentError an error reply stands for)."""
        if isinstance(reply, dict) and reply.get("ok") is True and "result" in reply:
            return reply["result"], None
        error = self._reply_error(reply, f"in scenario {scenario!r}", importing=False, scenario=scenario)
        if isinstance(error, StudentOutOfMemory):
            self._stop(proc, respawn=True)  # memory may be fragmented or half-built objects left behind: start clean
        return None, error

    def _reply_error(
        self, reply: Any, context: str, importing: bool, *, trusted: bool = False, scenario: str | None = None
    ) -> BaseException:
        """Map an error reply to the exception to raise (grader bugs are not StudentErrors).

        Once student code can run, the worker says what the student's code lets it say: a reply that
        does not fit the protocol (wrong types, a missing field, an unknown kind, or a grader error
        only the grader could have) is the student's failure, never an internal grader error.
        `trusted`: only grader code ran so far (the first frame), so a "grader" error is believed.
        """
        err = reply.get("error") if isinstance(reply, dict) and reply.get("ok") is False else None
        fields = ("kind", "type", "message", "traceback")
        if not isinstance(err, dict) or not all(isinstance(err.get(k), str) for k in fields):
            return BadObservation(
                f"{UNREADABLE} {context}: a reply that is neither a result nor an error "
                "(did your code write to the grader's channel?)"
            )
        kind, exc_type = cap(err["kind"], 64), cap(err["type"], 256)
        message, tb = cap(err["message"], MESSAGE_BYTES), cap(err["traceback"], MESSAGE_BYTES)
        if kind == "grader" and trusted:
            return RuntimeError(f"grader error in the worker: {message}\n{tb}")
        if kind == "unknown_scenario" and scenario is not None and scenario not in self._scenario_names:
            return LookupError(f"grader error: {message}")
        if kind not in STUDENT_KINDS or kind == "unknown_scenario":
            return BadObservation(
                f"{UNREADABLE} {context}: the reply claims {kind!r}, which the worker does not "
                "send at this point (did your code write to the grader's channel?)"
            )
        shown = format_student_exception(exc_type, message, tb)
        if kind == "bad_result":
            return BadObservation(message)
        if kind.endswith("oom"):
            return StudentOutOfMemory(
                f"ran out of memory (limit {human_bytes(self.limits.memory_bytes)}) {context} "
                f"(a huge array, or a graph that keeps every intermediate alive?)\n{shown}"
            )
        if kind.endswith("exit"):
            if importing:
                return StudentCrash(
                    f"your package exited while being imported (sys.exit / os._exit at import time?): {message}"
                )
            return StudentCrash(f"your code called {message} {context}; it must return or raise instead")
        if importing:
            return StudentException(
                f"importing your package {self.package!r} failed: {shown}",
                exc_type=exc_type,
                exc_message=message,
                traceback=tb,
            )
        return StudentException(shown, exc_type=exc_type, exc_message=message, traceback=tb)

    def _death(self, proc: WorkerProcess, context: str, importing: bool = False) -> StudentError:
        """The worker closed the channel: find out how it ended, clean up, and explain."""
        respawn = not importing
        if not wait_worker(proc, timeout=2.0):
            self._stop(proc, respawn)  # alive but closed its channel end
            return StudentCrash(
                f"your code closed the grader's channel {context} (do not close file descriptors you did not open)"
            )
        self._stop(proc, respawn)  # leftovers: children, escapees
        status = proc.status if proc.status is not None else 0
        sig = proc.exit_signal()
        cpu_limit = self.limits.cpu_seconds
        if sig == "SIGXCPU" or (sig == "SIGKILL" and proc.cpu_seconds >= cpu_limit - 0.5):
            return StudentCrash(
                f"used more than {cpu_limit} s of CPU {context} (an infinite loop, or very slow "
                f"code?); the worker was stopped"
            )
        if sig == "SIGKILL":
            return StudentCrash(
                f"the worker running your code was killed (SIGKILL) {context}; usually this "
                f"means the machine ran out of memory"
            )
        if sig:
            hint = {
                "SIGSEGV": " (a stack overflow from very deep recursion?)",
                "SIGXFSZ": f" (wrote a file larger than {human_bytes(self.limits.file_bytes)}?)",
                "SIGABRT": " (a failed assertion inside a C library, or running out of memory?)",
            }.get(sig, "")
            what = "your package crashed while being imported" if importing else f"your code crashed {context}"
            return StudentCrash(f"{what}: killed by {sig}{hint}")
        code = os.waitstatus_to_exitcode(status)
        if importing:
            return StudentCrash(
                f"your package exited while being imported (sys.exit / os._exit at import time?) with status {code}"
            )
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


def _timeout_message(
    limit: float, cpu: bool, context: str = "", hint: str = "an infinite loop, or a traversal that revisits nodes?"
) -> str:
    """What a student reads when a call (or a restarted worker's import) ran out of time: of CPU time
    (computing too long), or of wall-clock time while using little CPU (waiting)."""
    if cpu:
        return f"timed out after {limit:.3g} s{context} ({hint})"
    return (
        f"timed out after {WALL_FACTOR * limit:.3g} s of wall-clock time{context}, using little CPU: waiting, "
        f"sleeping or blocked (on input, a lock, a child process?) instead of computing"
    )
