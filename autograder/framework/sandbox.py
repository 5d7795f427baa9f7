"""Starting and killing the worker: fresh exec, setsid, rlimits, uid drop, network namespace.

The worker is always a fresh `exec` of Python (never a fork of the parent, which holds the expected
answers) running copies of worker_main.py and channel.py from a per-worker scratch folder:

    scratch/              root:<worker gid> 0750 (other slots' workers cannot look in)
      worker_main.py      read-only copies of the worker program and the channel
      channel.py
      <scenarios>.py      read-only copy of the scenarios file
      data/<name>         read-only copies of the data files (scenarios find them next to themselves)
      submission/         read-only copy of the submission root (modes normalised: no setuid bits)
      work/               owned by the worker uid: cwd, HOME, TMPDIR

Killing is thorough because students' processes escape: `setsid` leaves the process group, a double
fork leaves the parent. The grader is a child subreaper (orphans re-parent to it), and a kill hits the
process group, every process of the worker uid, the worker's descendants, and any descendant of the
grader that carries this worker's token in its environment.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from autograder.framework import cgroups, landlock, seccomp
from autograder.framework.fstree import REMOVE_MAX_SECONDS, _open_dir, remove_tree
from autograder.framework.errors import SubmissionError

HERE = Path(__file__).resolve().parent
WORKER_FILES = ("worker_main.py", "channel.py", "errors.py")  # the only framework code that enters the sandbox
REQUIREMENTS = ("network", "filesystem", "uid")  # what a course can --require
# Tests only: a comma list of netns, seccomp, landlock, cgroups to leave out (then reported unavailable), so that
# each layer can be shown to hold on its own and the fallbacks behind it can be exercised.
SKIP_ENV = "AUTOGRADER_SANDBOX_SKIP"
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
F_SETPIPE_SZ = 1031
PIPE_BYTES = 1 << 20  # bigger pipes: fewer wakeups when large arrays or floods come through
DEFAULT_UID_BASE = 64000


@dataclass
class Limits:
    """Resource limits of one worker and of each call."""

    memory_bytes: int = 2 * 1024**3  # RLIMIT_AS
    cpu_seconds: int = 120  # RLIMIT_CPU (whole worker life; the client restarts a worker past half of it)
    file_bytes: int = 64 * 1024**2  # RLIMIT_FSIZE
    open_files: int = 256  # RLIMIT_NOFILE
    processes: int | None = 64  # RLIMIT_NPROC with a dedicated uid and a slot cgroup (fork bombs); None: no limit
    # Without a slot cgroup nothing counts the worker's processes together, so fewer of them: the aggregate
    # memory is then at most this many x memory_bytes. Without a dedicated uid, this many more than the
    # grader's user already runs (RLIMIT_NPROC counts every process of the real uid).
    processes_without_cgroup: int = 8
    disk_bytes: int = 256 * 1024**2  # the scratch's work folder, all files together (checked by the client)
    call_timeout: float = 5.0  # default per-call wall-clock deadline
    import_timeout: float = 10.0  # start: interpreter + numpy + importing the student's package
    output_bytes_per_call: int = 64 * 1024  # student stdout+stderr kept per call
    output_bytes_total: int = 1024 * 1024

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Limits":
        """Defaults, with the memory limit from AUTOGRADER_MEMORY_LIMIT_MB when set.

        Gradescope's containers have 768 MB by default: there the worker must hit its own limit
        (a clear "ran out of memory" for one test) before the container is killed (no report at all).
        """
        environ = os.environ if environ is None else environ
        raw = environ.get("AUTOGRADER_MEMORY_LIMIT_MB", "").strip()
        if not raw:
            return cls()
        try:
            megabytes = int(raw)
        except ValueError:
            raise ValueError(f"AUTOGRADER_MEMORY_LIMIT_MB must be a whole number of MiB, not {raw!r}") from None
        if megabytes < 256:
            raise ValueError(f"AUTOGRADER_MEMORY_LIMIT_MB={megabytes} is too small: numpy alone needs ~200 MiB")
        return cls(memory_bytes=megabytes * 1024**2)


@dataclass
class Scratch:
    """The per-worker scratch folder and what is in it."""

    root: Path
    worker_main: Path
    scenarios: Path
    data_dir: Path
    submission: Path
    work: Path


@dataclass
class WorkerProcess:
    """A running worker: its Popen, the parent's ends of the pipes, and what identifies its processes."""

    popen: subprocess.Popen
    req_w: int  # parent -> worker requests
    rep_r: int  # worker -> parent replies
    out_r: int  # worker stdout+stderr
    uid: int | None  # the dedicated uid, or None when running as the grader's own uid
    gid: int | None
    token: str  # in the worker's environment: finds its escaped descendants
    killed_by_us: bool = False
    status: int | None = None  # wait status once reaped
    cpu_seconds: float = 0.0  # user+system time from wait4 once reaped

    @property
    def pid(self) -> int:
        """The worker's pid (also its process group and session id)."""
        return self.popen.pid


@dataclass
class Protections:
    """The protections a worker gets: human-readable lines for the staff log, which mechanisms to apply,
    and which mechanisms hold each property a course can require (network, filesystem, uid)."""

    applied: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    held: dict[str, list[str]] = field(default_factory=dict)  # property -> mechanisms that hold it
    netns: bool = False
    seccomp: bool = False
    landlock: bool = False
    cgroup: bool = False

    def hold(self, prop: str, mechanism: str) -> None:
        """Record that `mechanism` holds `prop`."""
        self.held.setdefault(prop, []).append(mechanism)

    def lacking(self, required: Sequence[str]) -> list[str]:
        """The required properties no mechanism holds here."""
        return [r for r in required if not self.held.get(r)]

    def staff_lines(self) -> list[str]:
        """The staff log: every protection applied, every one unavailable, and what holds each property."""
        lines = [f"sandbox: applied: {p}" for p in self.applied]
        lines += [f"sandbox: UNAVAILABLE: {p}" for p in self.missing]
        lines.append("sandbox: " + "; ".join(
            f"{prop} held by {', '.join(self.held[prop])}" if self.held.get(prop) else f"{prop} NOT held"
            for prop in REQUIREMENTS))
        return lines


@dataclass
class Mechanisms:
    """What this machine lets the grader use, probed once per process."""

    netns: str | None  # None when unshare(CLONE_NEWNET) works, else why not
    seccomp: str | None
    landlock_abi: int
    landlock: str | None
    layout: dict  # interpreter_layout() of the worker's interpreter (Landlock read rules)
    cgroups: str | None = "not probed"  # None when per-slot cgroups can be made, else why not
    cgroup_kind: str = ""


_mechanisms: Mechanisms | None = None
_filter: seccomp.Filter | None = None


_libc: ctypes.CDLL | None = None
_warned_missing = False
_subreaper_set = False
_LIVE_WORKERS: set[int] = set()  # pids of this process's unreaped workers (any client, any slot)


def libc() -> ctypes.CDLL:
    """The C library, loaded in the parent (the child's preexec_fn must not load libraries)."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def set_child_subreaper() -> bool:
    """Make this process the reaper of orphaned descendants, so escaped worker processes stay findable."""
    global _subreaper_set
    if not _subreaper_set:
        _subreaper_set = libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    return _subreaper_set


def worker_ids(slot: int) -> tuple[int, int] | tuple[None, None]:
    """(uid, gid) for this slot when we can drop privileges (running as root), else (None, None)."""
    if os.geteuid() != 0:
        return None, None
    base = int(os.environ.get("AUTOGRADER_WORKER_UID_BASE", DEFAULT_UID_BASE))
    return base + slot, base + slot


def worker_python() -> str:
    """The interpreter the worker runs: env AUTOGRADER_WORKER_PYTHON, else the grader's own."""
    return os.environ.get("AUTOGRADER_WORKER_PYTHON") or sys.executable


def secret_paths() -> list[Path]:
    """What a read rule must never cover: the grader's package (framework, assignments, hidden tests,
    sample handins) and its folder (a checkout: reference, git objects), and the reference cache."""
    from autograder.framework.reference_cache import default_cache_dir

    package = HERE.parent
    out = [package, default_cache_dir()]
    if (package.parent / "pyproject.toml").exists() or (package.parent / ".git").exists():
        out.append(package.parent)  # a checkout (editable install), not site-packages
    return out


def _fork_probe(action) -> int:
    """Run `action()` (returns an errno, 0 for success) in a throw-away child; its result."""
    pid = os.fork()
    if pid == 0:
        try:
            code = action()
        except BaseException:
            code = 255
        os._exit(min(max(code, 0), 255))
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _unshare_net() -> int:
    return 0 if libc().unshare(CLONE_NEWNET) == 0 else (ctypes.get_errno() or 1)


def _covers(rule: str, secret: Path) -> bool:
    try:
        secret = secret.resolve()
        rule_path = Path(rule).resolve()
    except OSError:
        return False
    return secret == rule_path or rule_path in secret.parents


def mechanisms() -> Mechanisms:
    """Probe (once) which confinement mechanisms this machine allows."""
    global _mechanisms, _filter
    if _mechanisms is not None:
        return _mechanisms
    netns = None if os.geteuid() == 0 and _fork_probe(_unshare_net) == 0 else (
        "needs root with CAP_SYS_ADMIN" if os.geteuid() == 0 else "needs root")
    why_not = seccomp.available()
    if why_not is None:
        _filter = seccomp.Filter()
        code = seccomp.probe(_filter)
        why_not = None if code == 0 else f"installing it failed: {os.strerror(code) if code < 255 else 'error'}"
    abi = landlock.abi_version()
    layout: dict = {}
    why_ll = None if abi >= 1 else "the kernel has no Landlock (needs Linux 5.13+ with the LSM enabled)"
    if why_ll is None:
        try:
            layout = _worker_layout()
        except (OSError, ValueError, subprocess.SubprocessError) as e:
            why_ll = f"cannot find what the worker interpreter reads: {e}"
    if why_ll is None:
        exposed = [(r, s) for r in layout["read"] for s in secret_paths() if _covers(r, s)]
        if exposed:
            why_ll = f"the interpreter's folder {exposed[0][0]} contains the grader's {exposed[0][1]}"
    _mechanisms = Mechanisms(netns, why_not, abi, why_ll, layout)
    if os.geteuid() != 0:
        _mechanisms.cgroups = "needs root"
    else:
        probe = cgroups.create(f"autograder-probe-{os.getpid()}", 1 << 30, 64)
        if isinstance(probe, str):
            _mechanisms.cgroups = probe
        else:
            probe.remove()
            _mechanisms.cgroups, _mechanisms.cgroup_kind = None, probe.kind
    return _mechanisms


def _worker_layout() -> dict:
    """landlock.interpreter_layout() of the worker's interpreter (asked in a subprocess when it is not ours)."""
    python = worker_python()
    if os.path.realpath(python) == os.path.realpath(sys.executable) and \
            os.path.abspath(python) == os.path.abspath(sys.executable):
        return landlock.interpreter_layout()
    out = subprocess.run([python, "-s", "-B", str(HERE / "landlock.py")], capture_output=True, text=True,
                         timeout=60, check=True, env={"PATH": "/usr/bin:/bin"}).stdout
    return json.loads(out)


def plan_protections(limits: Limits, uid: int | None, call_timeout: float) -> Protections:
    """The protections a worker started with these settings gets on this machine.

    Every mechanism planned here is applied strictly at spawn (a failure stops the worker from
    starting), so the plan is what holds: what the staff log prints and what --require checks.
    """
    m = mechanisms()
    skip = {n.strip() for n in os.environ.get(SKIP_ENV, "").split(",") if n.strip()}
    skipped = f"left out by {SKIP_ENV}"
    p = Protections()
    p.applied += [
        "fresh interpreter (exec, not fork), own session and process group",
        f"address space limited to {human_bytes(limits.memory_bytes)}",
        f"CPU time limited to {limits.cpu_seconds} s per worker",
        f"files limited to {human_bytes(limits.file_bytes)}, {limits.open_files} open files, no core dumps",
        f"wall-clock deadline per call ({call_timeout:g} s by default)",
        "data-only channel (npz + JSON, never unpickled)",
        f"student output capped at {human_bytes(limits.output_bytes_per_call)} per call",
        "no_new_privs (no setuid gains)",
    ]
    if uid is not None:
        p.applied.append(f"runs as uid {uid} / gid {uid} with no supplementary groups")
        p.hold("uid", f"uid drop to {uid}")
    else:
        p.missing.append("privilege drop (grader not running as root: student code runs as the grader's uid)")
    if uid is not None and m.netns is None and "netns" not in skip:
        p.netns = True
        p.applied.append("no network (own network namespace)")
        p.hold("network", "network namespace")
    else:
        p.missing.append(f"network namespace ({skipped if 'netns' in skip else m.netns or 'needs root'})")
    if m.seccomp is None and "seccomp" not in skip:
        p.seccomp = True
        p.applied.append("seccomp filter: no sockets but AF_UNIX; no ptrace, process_vm_*, personality, keyctl, "
                         "mount family, unshare/setns/namespaces, SysV IPC, POSIX message queues, io_uring, bpf, memfd")
        p.hold("network", "seccomp socket filter")
    else:
        p.missing.append(f"seccomp filter ({skipped if 'seccomp' in skip else m.seccomp})")
    if m.landlock is None and "landlock" not in skip:
        p.landlock = True
        ruleset_abi = m.landlock_abi
        p.applied.append(f"Landlock (ABI {ruleset_abi}): read only the interpreter, numpy and the worker's "
                         "copies; write only its scratch" + ("; no TCP" if ruleset_abi >= 4 else "")
                         + ("; no signals outside the worker" if ruleset_abi >= 6 else ""))
        p.hold("filesystem", "Landlock")
        if ruleset_abi >= 4:
            p.hold("network", "Landlock TCP rules")
    else:
        p.missing.append(f"file-system confinement (Landlock: {skipped if 'landlock' in skip else m.landlock})")
    if uid is not None and m.cgroups is None and "cgroups" not in skip:
        p.cgroup = True
        p.applied.append(f"{m.cgroup_kind}: memory {human_bytes(limits.memory_bytes)} and "
                         f"{limits.processes or 64} tasks for all the worker's processes together, an equal CPU share")
    else:
        p.missing.append(f"aggregate limits (cgroups: {skipped if 'cgroups' in skip else m.cgroups or 'needs root'})")
    if limits.processes is not None:
        n = process_limit(limits, uid, p.cgroup)
        p.applied.append(
            f"at most {n} processes (fork bombs)" if uid is not None and p.cgroup else
            f"at most {n} processes, so at most {human_bytes(n * limits.memory_bytes)} of memory together"
            if uid is not None else
            f"at most {n} processes more than the grader's user runs (RLIMIT_NPROC counts all of them), so at "
            f"most {human_bytes(n * limits.memory_bytes)} of memory together")
    p.applied.append(f"files in the work folder limited to {human_bytes(limits.disk_bytes)} and "
                     f"{DISK_MAX_ENTRIES} entries together, deleted files still open included (checked after each "
                     f"call and every {DISK_CHECK_SECONDS:g} s during one)")
    return p


DISK_CHECK_SECONDS = 0.02  # how often a running call's files are measured (WorkerClient; less often for big folders)


def process_limit(limits: Limits, uid: int | None, cgroup: bool) -> int:
    """How many processes the worker may add: `processes` with a slot cgroup (which counts them and
    their memory together), else `processes_without_cgroup` (aggregate memory <= that x RLIMIT_AS)."""
    assert limits.processes is not None
    return limits.processes if uid is not None and cgroup else min(limits.processes, limits.processes_without_cgroup)


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


def slot_cgroup_name(uid: int) -> str:
    """The cgroup of a worker uid's slot."""
    return f"autograder-{uid}"


def landlock_ruleset(scratch: Scratch) -> landlock.Ruleset:
    """The worker's ruleset: read the interpreter, numpy and the scratch copies; write its work folder."""
    layout = mechanisms().layout
    return landlock.build(read=[*layout["read"], str(scratch.root)],
                          write=[str(scratch.work), *landlock.DEVICES], read_dir_only=layout["read_dir"])


def warn_missing_once(missing: Sequence[str]) -> None:
    """Print ONE line naming missing protections, once per process."""
    global _warned_missing
    if missing and not _warned_missing:
        _warned_missing = True
        print("autograder: sandbox protections missing: " + "; ".join(missing), file=sys.stderr)


def human_bytes(n: int) -> str:
    """1073741824 -> '1 GiB'."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"


# ---- slot locks ----------------------------------------------------------------------------------

def acquire_slot(uid: int, timeout: float = 300.0) -> int:
    """Hold an exclusive lock for a worker uid across processes (starting a worker kills every process
    of its uid, so two graders on one slot would kill each other's workers). Waits for a busy slot;
    returns the lock fd (release_slot closes it; the kernel releases it if we die)."""
    import fcntl

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
                raise RuntimeError(f"grader error: worker uid {uid} is still in use by process {holder or '?'} "
                                   f"after {timeout:g} s; give concurrent graders distinct slots") from None
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


# ---- scratch folder ------------------------------------------------------------------------------

def find_package(submission_root: Path, package: str) -> None:
    """Raise SubmissionError unless `submission_root` holds the package (a folder or a module)."""
    if not ((submission_root / package).is_dir() or (submission_root / f"{package}.py").is_file()):
        raise SubmissionError(
            f"no package '{package}' found in your submission: expected a folder '{package}/' "
            f"(with __init__.py) at the top of your handin"
        )


def prepare_scratch(submission_root: Path, scenarios_file: Path, data_files: Sequence[Path],
                    uid: int | None, gid: int | None) -> Scratch:
    """Create the scratch folder with read-only copies; only `work/` is writable by the worker."""
    root = Path(tempfile.mkdtemp(prefix="ag-worker-"))
    try:
        for name in WORKER_FILES:
            _copy_file(HERE / name, root / name)
        scenarios = root / scenarios_file.name
        _copy_file(scenarios_file, scenarios)
        data_dir = root / "data"
        data_dir.mkdir()
        for f in data_files:
            _copy_file(Path(f), data_dir / Path(f).name)
        submission = root / "submission"
        _copy_tree(submission_root, submission)
        work = root / "work"
        work.mkdir(mode=0o700)
        data_dir.chmod(0o555)
        if uid is not None:
            os.chown(work, uid, gid)
            os.chown(root, 0, gid)  # only this worker's gid (and root) may enter
            root.chmod(0o750)
        else:
            root.chmod(0o700)
    except BaseException:
        remove_scratch(root)
        raise
    return Scratch(root, root / "worker_main.py", scenarios, data_dir, submission, work)


def _copy_file(src: Path, dst: Path) -> None:
    """Copy contents only (no mode bits: a setuid bit must never survive), then make it read-only."""
    shutil.copyfile(src, dst, follow_symlinks=True)
    dst.chmod(0o444)


def _copy_tree(src: Path, dst: Path) -> None:
    """Copy a submission: regular files read-only, folders 0555, symlinks as links, nothing else."""
    dst.mkdir()
    for entry in os.scandir(src):
        target = dst / entry.name
        if entry.name == "__pycache__":
            continue
        if entry.is_symlink():
            # Kept as a link: the worker resolves it with its own (unprivileged) rights.
            os.symlink(os.readlink(entry.path), target)
        elif entry.is_dir(follow_symlinks=False):
            _copy_tree(Path(entry.path), target)
        elif entry.is_file(follow_symlinks=False):
            _copy_file(Path(entry.path), target)
    dst.chmod(0o555)


def reset_work_dir(scratch: Scratch, uid: int | None, gid: int | None) -> None:
    """Empty `work/` before a (re)start, so a new worker never sees files from the last one."""
    remove_tree(scratch.work)  # iterative: a worker's 3,000-deep tree cannot raise RecursionError
    scratch.work.mkdir(mode=0o700)
    if uid is not None:
        os.chown(scratch.work, uid, gid)


DISK_MAX_ENTRIES = 10_000  # files and folders in the work folder: past this the worker is over its budget


@dataclass
class DiskUse:
    """What a worker keeps on disk: bytes allocated in its work folder plus deleted files its processes hold
    open, and how many entries the folder has (counting stops past DISK_MAX_ENTRIES)."""

    bytes: int
    entries: int


def disk_use(work: Path, pids: Sequence[int] = (), max_entries: int = DISK_MAX_ENTRIES,
             uid: int | None = None) -> DiskUse:
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
        fd = _open_dir(str(work), None)
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
                    sub = _open_dir(name, fd)
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


def worker_pids(pid: int, max_pids: int = 256) -> list[int]:
    """The worker and its descendants still attached to it (children lists in /proc; escapees that left
    the tree are not found here, they die with the worker)."""
    out, stack = [], [pid]
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


def remove_scratch(root: Path) -> None:
    """Delete the scratch folder (bounded, iterative; never raises: see fstree.remove_tree)."""
    remove_tree(root)


# ---- start ---------------------------------------------------------------------------------------

def spawn(scratch: Scratch, package: str, limits: Limits, uid: int | None, gid: int | None,
          protections: Protections) -> WorkerProcess:
    """Exec a fresh worker in its sandbox; returns at once (the worker imports the package meanwhile)."""
    set_child_subreaper()
    if uid is not None:
        kill_uid(uid, gid)  # leftovers of a previous grader that used this slot
        reap_uid(uid, gid)
        remove_uid_files(uid)
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    for fd in (req_w, rep_r):
        _grow_pipe(fd)
    token = secrets.token_hex(12)
    config = {"req_fd": req_r, "rep_fd": rep_w, "submission_root": str(scratch.submission),
              "package": package, "scenarios": str(scratch.scenarios)}
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
    group = None
    if protections.cgroup and uid is not None:
        group = cgroups.create(slot_cgroup_name(uid), limits.memory_bytes, limits.processes or 64)
        if isinstance(group, str):
            raise RuntimeError(f"grader error: cannot make the worker's cgroup: {group}")
    ruleset = landlock_ruleset(scratch) if protections.landlock else None
    preexec = _make_preexec(rlimits, netns=protections.netns, uid=uid, gid=gid, pdeathsig=pdeathsig,
                            seccomp_filter=_filter if protections.seccomp else None, ruleset=ruleset,
                            cgroup_procs=group.procs_files() if group is not None else ())
    # Not -I: the environment is entirely ours (so nothing leaks in), and -I would ignore PYTHONHASHSEED.
    argv = [worker_python(), "-s", "-B", "-u", str(scratch.worker_main), json.dumps(config)]
    try:
        popen = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            pass_fds=(req_r, rep_w), cwd=str(scratch.work), env=env, start_new_session=True,
            preexec_fn=preexec, close_fds=True,
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
    _LIVE_WORKERS.add(popen.pid)
    out_r = popen.stdout.fileno()
    _grow_pipe(out_r)
    os.set_blocking(req_w, False)
    if protections.netns:
        _check_netns(popen.pid, protections)
    return WorkerProcess(popen, req_w, rep_r, out_r, uid, gid, token)


SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue")  # a dropped uid can write here


def remove_uid_files(uid: int, folders: Sequence[str] = SHARED_WRITABLE,
                     max_seconds: float = REMOVE_MAX_SECONDS) -> list[str]:
    """Delete what `uid` created directly inside world-writable folders, and its System V IPC objects;
    returns what was removed.

    The worker's uid is dedicated to one slot, so everything it owns there is student output that
    must not outlive the grading (a forged results file in /tmp, answers for the next submission to
    find). Call only once the uid's processes are dead. Links are removed, never followed; trees are
    removed iteratively and within bounds (remove_tree). Never raises.
    """
    removed = []
    deadline = time.monotonic() + max_seconds  # what is left is retried before the uid's next worker starts
    for folder in folders:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if st.st_uid == uid and remove_tree(path, max_seconds=max(0.0, deadline - time.monotonic())):
                removed.append(path)
    removed += remove_uid_ipc(uid)
    if os.geteuid() == 0:
        cgroups.remove(slot_cgroup_name(uid))  # the slot's cgroups, empty now
    return removed


IPC_RMID = 0


def remove_uid_ipc(uid: int) -> list[str]:
    """Remove the System V shared memory, message queues and semaphores owned by `uid` (root only;
    the seccomp filter already forbids creating them where it applies). Never raises.

    The removal runs in a helper that becomes `uid` (an owner may remove its objects): root without
    CAP_SYS_ADMIN, as in Docker, may not remove another uid's objects."""
    if os.geteuid() != 0:
        return []
    found = _uid_ipc(uid)
    if not found:
        return []
    lib = libc()
    pid = os.fork()
    if pid == 0:  # child: only syscalls, then _exit
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            for kind, ipc_id in found:
                if kind == "sem":
                    lib.semctl(ipc_id, 0, IPC_RMID, None)
                else:
                    getattr(lib, kind + "ctl")(ipc_id, IPC_RMID, None)
        except BaseException:
            pass
        os._exit(0)
    os.waitpid(pid, 0)
    left = set(_uid_ipc(uid))
    return [f"System V {kind} {ipc_id}" for kind, ipc_id in found if (kind, ipc_id) not in left]


def _uid_ipc(uid: int) -> list[tuple[str, int]]:
    """(kind, id) of the System V IPC objects owned or created by `uid`."""
    found = []
    for kind in ("shm", "msg", "sem"):
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                header = f.readline().split()
                rows = [line.split() for line in f]
        except OSError:
            continue
        try:
            id_col = header.index({"shm": "shmid", "msg": "msqid", "sem": "semid"}[kind])
            owners = (header.index("uid"), header.index("cuid"))
        except ValueError:
            continue
        for row in rows:
            try:
                if uid not in (int(row[owners[0]]), int(row[owners[1]])):
                    continue
                found.append((kind, int(row[id_col])))
            except (IndexError, ValueError):
                continue
    return found


def _grow_pipe(fd: int) -> None:
    """Best effort: a 1 MiB pipe buffer (the kernel may refuse; then 64 KiB it is)."""
    try:
        import fcntl

        fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_BYTES)
    except OSError:
        pass


def _make_preexec(rlimits: list[tuple[int, int, int]], netns: bool, uid: int | None, gid: int | None,
                  pdeathsig: bool, seccomp_filter: seccomp.Filter | None = None,
                  ruleset: landlock.Ruleset | None = None, cgroup_procs: Sequence[bytes] = ()):
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
            os.setgid(gid)
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


# ---- stop ----------------------------------------------------------------------------------------

def wait_worker(proc: WorkerProcess, timeout: float) -> bool:
    """Reap the worker if it exits within `timeout` seconds; records status and CPU time."""
    if proc.status is not None:
        return True
    deadline = time.monotonic() + timeout
    while True:
        try:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere (e.g. by Popen): rebuild a wait status from its returncode
            _LIVE_WORKERS.discard(proc.pid)
            code = proc.popen.returncode or 0
            proc.status = -code if code < 0 else (code & 0xFF) << 8  # Popen: -N for signal N, else the exit code
            return True
        if pid:
            _LIVE_WORKERS.discard(proc.pid)
            proc.status = status
            proc.cpu_seconds = usage.ru_utime + usage.ru_stime
            proc.popen.returncode = os.waitstatus_to_exitcode(status)  # so Popen never waits again
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.002)


def kill_worker(proc: WorkerProcess) -> None:
    """SIGKILL the worker and everything it started, and reap (pipes stay open: drain, then close_pipes)."""
    if proc.status is None:
        proc.killed_by_us = True
    my_pid = os.getpid()
    seen: set[int] = set()
    for _ in range(50):
        targets = _find_targets(proc, my_pid)
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
    _reap_orphans(my_pid, seen - {proc.pid}, dying=seen | {proc.pid}, timeout=1.0)
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


def reap_uid(uid: int, gid: int | None, timeout: float = 2.0) -> int:
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
            if not name.isdigit() or int(name) in _LIVE_WORKERS:
                continue
            try:
                if os.stat(f"/proc/{name}").st_uid != uid:
                    continue
            except OSError:
                continue
            fields = _stat_fields(int(name))
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


def _find_targets(proc: WorkerProcess, my_pid: int) -> set[int]:
    """Live processes that belong to this worker (zombies are left to reaping)."""
    table = _proc_table()
    targets = set()
    for pid, (ppid, uid, pgid, sid, state) in table.items():
        if pid in (my_pid, 1) or state in ("Z", "X"):
            continue
        if pgid == proc.pid or sid == proc.pid or (proc.uid is not None and uid == proc.uid):
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

    for pid in descendants(proc.pid):
        if table[pid][4] not in ("Z", "X"):
            targets.add(pid)
    token = f"AUTOGRADER_WORKER_TOKEN={proc.token}".encode()
    for pid in descendants(my_pid):
        if pid in targets or table[pid][4] in ("Z", "X"):
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if token in f.read().split(b"\0"):
                    targets.add(pid)
        except OSError:
            pass
    if proc.uid is None:  # no dedicated uid to kill by: also find escapees that dropped the token
        others = set()
        for pid in _LIVE_WORKERS - {proc.pid}:
            others |= {pid, *descendants(pid)}
        for pid in descendants(my_pid):
            if pid not in targets and pid not in others and table[pid][4] not in ("Z", "X") \
                    and _has_worker_cpu_limit(pid):
                targets.add(pid)
    targets.discard(my_pid)
    return targets


def _has_worker_cpu_limit(pid: int) -> bool:
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


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, session, ...];
    [] when the process is gone. The name is skipped up to its last ')': it may hold spaces and ')'."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("ascii", "replace")
    except OSError:
        return []
    return raw[raw.rfind(")") + 2:].split()


def _proc_table() -> dict[int, tuple[int, int, int, int, str]]:
    """pid -> (ppid, uid, pgid, sid, state) for every process we can see."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = _stat_fields(int(name))
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


def _reap_orphans(my_pid: int, candidates: set[int], dying: set[int], timeout: float) -> None:
    """Reap those of `candidates` that became our children (re-parented to us, the subreaper)."""
    deadline = time.monotonic() + timeout
    pending = set(candidates)
    while pending:
        for pid in list(pending):
            fields = _stat_fields(pid)
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


def cpu_seconds_used(pid: int) -> float:
    """User+system CPU seconds of a live process (0.0 if it cannot be read)."""
    fields = _stat_fields(pid)
    try:
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (IndexError, ValueError):
        return 0.0


def describe_signal(status: int) -> str:
    """'SIGSEGV' for a wait status that ended by a signal, '' otherwise."""
    if os.WIFSIGNALED(status):
        try:
            return signal.Signals(os.WTERMSIG(status)).name
        except ValueError:
            return f"signal {os.WTERMSIG(status)}"
    return ""

