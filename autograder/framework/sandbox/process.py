"""The worker process's life: exec in its sandbox, wait, kill with everything it started, reap.

This module is the one owner of `WorkerProcess`: only its functions and methods change a worker's
fields, and `LIVE` is the one registry of this grader's workers (unreaped pids) and of the worker
uids its open sandboxes hold. The worker is always a fresh `exec` of Python (never a fork of the
parent, which holds the expected answers), in its own session, with rlimits, no_new_privs, and the
mechanisms the protections plan chose (slot cgroup, network namespace, uid drop, seccomp, Landlock).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import resource
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from autograder.framework.sandbox import cgroups, landlock, seccomp
from autograder.framework.sandbox.libc import CLONE_NEWNET, PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG, libc
from autograder.framework.sandbox.limits import Limits, process_limit
from autograder.framework.sandbox.procfs import cpu_seconds_used, queued_seconds, user_tasks
from autograder.framework.sandbox.protections import Protections, landlock_ruleset, mechanisms, worker_python
from autograder.framework.sandbox.reaping import find_targets, kill_uid, reap_orphans, reap_uid, set_child_subreaper
from autograder.framework.sandbox.scratch import Scratch, remove_uid_files
from autograder.framework.sandbox.slots import slot_cgroup_name

F_SETPIPE_SZ = 1031
PIPE_BYTES = 1 << 20  # bigger pipes: fewer wakeups when large arrays or floods come through
READ_CHUNK = 1 << 20


@dataclass
class Registry:
    """This grader process's workers: the pids of unreaped workers (any sandbox, any slot; reaping must not
    take them for strays) and the worker uids held by open sandboxes (starting a worker kills every process
    of its uid, so two open sandboxes on one slot would kill each other's workers)."""

    workers: set[int] = field(default_factory=set)
    uids: set[int] = field(default_factory=set)

    def claim_uid(self, uid: int, slot: int) -> None:
        """Hold `uid` for one open sandbox; RuntimeError when another one holds it."""
        if uid in self.uids:
            raise RuntimeError(
                f"slot {slot} is already used by another open WorkerClient in this process; "
                "close it first or use a different slot"
            )
        self.uids.add(uid)


LIVE = Registry()


@dataclass
class WorkerProcess:
    """A running worker: its Popen, the parent's ends of the pipes, and what identifies its processes."""

    popen: subprocess.Popen
    req_w: int  # parent -> worker requests
    rep_r: int  # worker -> parent replies
    out_r: int  # worker stdout+stderr; -1 once it reached its end
    uid: int | None  # the dedicated uid, or None when running as the grader's own uid
    gid: int | None
    token: str  # in the worker's environment: finds its escaped descendants
    status: int | None = None  # wait status once reaped
    cpu_seconds: float = 0.0  # user+system time from wait4 once reaped

    @property
    def pid(self) -> int:
        """The worker's pid (also its process group and session id)."""
        return self.popen.pid

    def cpu_seconds_used(self) -> float:
        """User+system CPU seconds the running worker (its main process) has used so far."""
        return cpu_seconds_used(self.pid)

    def queued_seconds(self) -> float:
        """Seconds the worker's main thread has been runnable but waiting for a CPU."""
        return queued_seconds(self.pid)

    def exit_signal(self) -> str:
        """'SIGSEGV' when the reaped worker ended by a signal, '' otherwise (or while it runs)."""
        return "" if self.status is None else describe_signal(self.status)

    def read_output(self) -> bytes | None:
        """One chunk of what the worker printed: None when nothing is there now, b'' at the end (then
        out_r is -1: stop selecting on it)."""
        try:
            data = os.read(self.out_r, READ_CHUNK)
        except BlockingIOError:
            return None
        except OSError as e:
            if e.errno != errno.EBADF:
                raise
            data = b""
        if not data:
            self.out_r = -1  # the pipe stays open until close_pipes; it is only no longer watched
        return data


def spawn(
    scratch: Scratch, package: str, limits: Limits, uid: int | None, gid: int | None, protections: Protections
) -> WorkerProcess:
    """Exec a fresh worker in its sandbox; returns at once (the worker imports the package meanwhile)."""
    set_child_subreaper()
    if uid is not None:
        kill_uid(uid, gid)  # leftovers of a previous grader that used this slot
        reap_uid(uid, gid, LIVE.workers)
        remove_uid_files(uid)
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    for fd in (req_w, rep_r):
        _grow_pipe(fd)
    token = secrets.token_hex(12)
    config = {
        "req_fd": req_r,
        "rep_fd": rep_w,
        "submission_root": str(scratch.submission),
        "package": package,
        "scenarios": str(scratch.scenarios),
    }
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(scratch.work),
        "TMPDIR": str(scratch.work),
        "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONNOUSERSITE": "1",
        "PYTHONUNBUFFERED": "1",
        "AUTOGRADER_DATA_DIR": str(scratch.data_dir),
        "AUTOGRADER_WORKER_TOKEN": token,
    }
    rlimits = [
        (resource.RLIMIT_AS, limits.memory_bytes, limits.memory_bytes),
        # Soft limit sends SIGXCPU; the hard limit a moment later is a SIGKILL nobody can ignore.
        (resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1),
        (resource.RLIMIT_FSIZE, min(limits.file_bytes, limits.disk_bytes), min(limits.file_bytes, limits.disk_bytes)),
        (resource.RLIMIT_NOFILE, limits.open_files, limits.open_files),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    if limits.processes is not None:
        # With a dedicated uid RLIMIT_NPROC counts only the worker's processes; without one it counts every
        # process of the grader's user, so the worker may add that many to what the user runs now (a
        # fork bomb stops there; the grader's own limit is untouched, so it can still kill and clean up).
        nproc = process_limit(limits, uid, protections.cgroup)
        if uid is None:
            nproc += user_tasks(os.getuid())
        rlimits.append((resource.RLIMIT_NPROC, nproc, nproc))
    # The parent-death signal is tied to the spawning thread; only use it when that is the main thread.
    pdeathsig = threading.current_thread() is threading.main_thread()
    cgroup_procs: list[bytes] = []
    if protections.cgroup and uid is not None:
        group = cgroups.create(slot_cgroup_name(uid), limits.memory_bytes, limits.processes or 64)
        if isinstance(group, str):
            raise RuntimeError(f"grader error: cannot make the worker's cgroup: {group}")
        cgroup_procs = group.procs_files()
    ruleset = landlock_ruleset(scratch) if protections.landlock else None
    syscall_filter = mechanisms().seccomp_filter if protections.seccomp else None
    preexec = _make_preexec(
        rlimits,
        netns=protections.netns,
        uid=uid,
        gid=gid,
        pdeathsig=pdeathsig,
        seccomp_filter=syscall_filter,
        ruleset=ruleset,
        cgroup_procs=cgroup_procs,
    )
    # Not -I: the environment is entirely ours (so nothing leaks in), and -I would ignore PYTHONHASHSEED.
    argv = [worker_python(), "-s", "-B", "-u", str(scratch.worker_main), json.dumps(config)]
    try:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(req_r, rep_w),
            cwd=str(scratch.work),
            env=env,
            start_new_session=True,
            preexec_fn=preexec,
            close_fds=True,
        )
    except BaseException as e:
        for fd in (req_r, req_w, rep_r, rep_w):
            os.close(fd)
        if ruleset is not None:
            ruleset.close()
        if isinstance(e, (OSError, subprocess.SubprocessError)):
            who = f"uid {uid}" if uid is not None else "the grader's uid"
            raise RuntimeError(
                f"grader error: cannot start the worker {argv[0]} as {who}: {e} (the interpreter and its "
                "packages must be readable by other users, e.g. not under /root)"
            ) from e
        raise
    os.close(req_r)
    os.close(rep_w)
    if ruleset is not None:
        ruleset.close()  # the worker holds its domain; the fd is not needed again
    LIVE.workers.add(popen.pid)
    assert popen.stdout is not None  # stdout=PIPE
    out_r = popen.stdout.fileno()
    _grow_pipe(out_r)
    os.set_blocking(req_w, False)
    if protections.netns:
        _check_netns(popen.pid, protections)
    return WorkerProcess(popen, req_w, rep_r, out_r, uid, gid, token)


def _grow_pipe(fd: int) -> None:
    """Best effort: a 1 MiB pipe buffer (the kernel may refuse; then 64 KiB it is)."""
    try:
        fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_BYTES)
    except OSError:
        pass


def _make_preexec(
    rlimits: list[tuple[int, int, int]],
    netns: bool,
    uid: int | None,
    gid: int | None,
    pdeathsig: bool,
    seccomp_filter: seccomp.Filter | None = None,
    ruleset: landlock.Ruleset | None = None,
    cgroup_procs: Sequence[bytes] = (),
):
    """The function run in the child between fork and exec, as the grader's user (root when dropping).

    Order: no_new_privs first; the slot's cgroups; rlimits; the network namespace (needs CAP_SYS_ADMIN, and the seccomp
    filter forbids unshare afterwards); the uid drop; then the seccomp filter and the Landlock domain,
    which need no privilege. Each planned mechanism must succeed: an exception here makes Popen fail,
    so a worker never runs with less than the staff log and --require were told.
    """
    lib = libc()  # loaded now, in the parent

    def preexec() -> None:
        if lib.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        cgroups.join_in_child(list(cgroup_procs))  # while still root: the slot's aggregate limits
        for res, soft, hard in rlimits:
            resource.setrlimit(res, (soft, hard))
        if netns and lib.unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed")
        if uid is not None:
            os.setgroups([])  # without this root's supplementary group 0 would leak
            os.setgid(uid if gid is None else gid)
            os.setuid(uid)
        if pdeathsig:
            lib.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # after setuid, which clears it
        if seccomp_filter is not None:
            code = seccomp_filter.install()
            if code:
                raise OSError(code, "installing the seccomp filter failed")
        if ruleset is not None:
            code = ruleset.restrict_self()
            if code:
                raise OSError(code, "landlock_restrict_self failed")
        os.umask(0o077)

    return preexec


def _check_netns(pid: int, protections: Protections) -> None:
    """Record whether the worker really got its own network namespace."""
    try:
        isolated = os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
    except OSError:
        isolated = False
    label = "no network (own network namespace)"
    missing = "network isolation (unshare of a network namespace failed)"
    if isolated:
        if label not in protections.applied:
            protections.applied.append(label)
        if missing in protections.missing:
            protections.missing.remove(missing)
    elif missing not in protections.missing:
        protections.missing.append(missing)
        if label in protections.applied:
            protections.applied.remove(label)


def wait_worker(proc: WorkerProcess, timeout: float) -> bool:
    """Reap the worker if it exits within `timeout` seconds; records status and CPU time."""
    if proc.status is not None:
        return True
    deadline = time.monotonic() + timeout
    while True:
        try:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere (e.g. by Popen): rebuild a wait status from its returncode
            LIVE.workers.discard(proc.pid)
            code = proc.popen.returncode or 0
            proc.status = -code if code < 0 else (code & 0xFF) << 8  # Popen: -N for signal N, else the exit code
            return True
        if pid:
            LIVE.workers.discard(proc.pid)
            proc.status = status
            proc.cpu_seconds = usage.ru_utime + usage.ru_stime
            proc.popen.returncode = os.waitstatus_to_exitcode(status)  # so Popen never waits again
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.002)


def kill_worker(proc: WorkerProcess) -> None:
    """SIGKILL the worker and everything it started, and reap (pipes stay open: drain, then close_pipes)."""
    my_pid = os.getpid()
    seen: set[int] = set()
    for _ in range(50):
        targets = find_targets(proc.pid, proc.uid, proc.token, LIVE.workers, my_pid)
        if proc.uid is not None:
            kill_uid(proc.uid, proc.gid)
        for pid in targets:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        seen |= targets
        if not targets:
            break
        time.sleep(0.001)
    # The worker itself is reaped by wait_worker; its orphans re-parent to us and are reaped here.
    reap_orphans(my_pid, seen - {proc.pid}, dying=seen | {proc.pid}, timeout=1.0)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    wait_worker(proc, timeout=5.0)


def close_pipes(proc: WorkerProcess) -> None:
    """Close the parent's ends of the worker's pipes (idempotent)."""
    for fd in (proc.req_w, proc.rep_r):
        try:
            os.close(fd)
        except OSError:
            pass
    proc.req_w = proc.rep_r = proc.out_r = -1
    if proc.popen.stdout is not None:
        proc.popen.stdout.close()


def describe_signal(status: int) -> str:
    """'SIGSEGV' for a wait status that ended by a signal, '' otherwise."""
    if os.WIFSIGNALED(status):
        try:
            return signal.Signals(os.WTERMSIG(status)).name
        except ValueError:
            return f"signal {os.WTERMSIG(status)}"
    return ""
