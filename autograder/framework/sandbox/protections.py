"""The protections plan: which confinement mechanisms this machine allows (probed once), which a worker
gets, the staff log that names them, and the properties a course can --require (REQUIREMENTS).

Every mechanism planned here is applied strictly at spawn (process.py: a failure stops the worker from
starting), so the plan is what holds.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from autograder.framework.sandbox import cgroups, landlock, seccomp
from autograder.framework.sandbox.libc import CLONE_NEWNET, libc
from autograder.framework.sandbox.limits import DISK_CHECK_SECONDS, DISK_MAX_ENTRIES, Limits, human_bytes, process_limit
from autograder.framework.sandbox.scratch import Scratch
from autograder.framework.sandbox.seccomp import Filter as SyscallFilter

PACKAGE = Path(__file__).resolve().parents[2]  # the installed `autograder` package
REQUIREMENTS = ("network", "filesystem", "uid")  # what a course can --require
# Tests only: a comma list of netns, seccomp, landlock, cgroups to leave out (then reported unavailable), so that
# each layer can be shown to hold on its own and the fallbacks behind it can be exercised.
SKIP_ENV = "AUTOGRADER_SANDBOX_SKIP"


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
        lines.append(
            "sandbox: "
            + "; ".join(
                f"{prop} held by {', '.join(self.held[prop])}" if self.held.get(prop) else f"{prop} NOT held"
                for prop in REQUIREMENTS
            )
        )
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
    seccomp_filter: SyscallFilter | None = None  # built once when seccomp is available


_mechanisms: Mechanisms | None = None
_warned_missing = False


def worker_python() -> str:
    """The interpreter the worker runs: env AUTOGRADER_WORKER_PYTHON, else the grader's own."""
    return os.environ.get("AUTOGRADER_WORKER_PYTHON") or sys.executable


def secret_paths() -> list[Path]:
    """What a read rule must never cover: the grader's package (framework, assignments, hidden tests,
    sample handins) and its folder (a checkout: reference, git objects), and the reference cache."""
    from autograder.framework.reference_cache import default_cache_dir

    package = PACKAGE
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
    global _mechanisms
    if _mechanisms is not None:
        return _mechanisms
    netns = (
        None
        if os.geteuid() == 0 and _fork_probe(_unshare_net) == 0
        else ("needs root with CAP_SYS_ADMIN" if os.geteuid() == 0 else "needs root")
    )
    why_not = seccomp.available()
    syscall_filter = None
    if why_not is None:
        syscall_filter = seccomp.Filter()
        code = _fork_probe(syscall_filter.install)
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
    _mechanisms = Mechanisms(netns, why_not, abi, why_ll, layout, seccomp_filter=syscall_filter)
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
    if os.path.realpath(python) == os.path.realpath(sys.executable) and os.path.abspath(python) == os.path.abspath(
        sys.executable
    ):
        return landlock.interpreter_layout()
    out = subprocess.run(
        [python, "-s", "-B", landlock.__file__],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout
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
        p.applied.append(
            "seccomp filter: no sockets but AF_UNIX; no ptrace, process_vm_*, personality, keyctl, "
            "mount family, unshare/setns/namespaces, SysV IPC, POSIX message queues, io_uring, bpf, memfd"
        )
        p.hold("network", "seccomp socket filter")
    else:
        p.missing.append(f"seccomp filter ({skipped if 'seccomp' in skip else m.seccomp})")
    if m.landlock is None and "landlock" not in skip:
        p.landlock = True
        ruleset_abi = m.landlock_abi
        p.applied.append(
            f"Landlock (ABI {ruleset_abi}): read only the interpreter, numpy and the worker's "
            "copies; write only its scratch"
            + ("; no TCP" if ruleset_abi >= 4 else "")
            + ("; no signals outside the worker" if ruleset_abi >= 6 else "")
        )
        p.hold("filesystem", "Landlock")
        if ruleset_abi >= 4:
            p.hold("network", "Landlock TCP rules")
    else:
        p.missing.append(f"file-system confinement (Landlock: {skipped if 'landlock' in skip else m.landlock})")
    if uid is not None and m.cgroups is None and "cgroups" not in skip:
        p.cgroup = True
        p.applied.append(
            f"{m.cgroup_kind}: memory {human_bytes(limits.memory_bytes)} and "
            f"{limits.processes or 64} tasks for all the worker's processes together, an equal CPU share"
        )
    else:
        p.missing.append(f"aggregate limits (cgroups: {skipped if 'cgroups' in skip else m.cgroups or 'needs root'})")
    if limits.processes is not None:
        n = process_limit(limits, uid, p.cgroup)
        p.applied.append(
            f"at most {n} processes (fork bombs)"
            if uid is not None and p.cgroup
            else f"at most {n} processes, so at most {human_bytes(n * limits.memory_bytes)} of memory together"
            if uid is not None
            else f"at most {n} processes more than the grader's user runs (RLIMIT_NPROC counts all of them), so at "
            f"most {human_bytes(n * limits.memory_bytes)} of memory together"
        )
    p.applied.append(
        f"files in the work folder limited to {human_bytes(limits.disk_bytes)} and "
        f"{DISK_MAX_ENTRIES} entries together, deleted files still open included (checked after each "
        f"call and every {DISK_CHECK_SECONDS:g} s during one)"
    )
    return p


def landlock_ruleset(scratch: Scratch) -> landlock.Ruleset:
    """The worker's ruleset: read the interpreter, numpy and the scratch copies; write its work folder."""
    layout = mechanisms().layout
    return landlock.build(
        read=[*layout["read"], str(scratch.root)],
        write=[str(scratch.work), *landlock.DEVICES],
        read_dir_only=layout["read_dir"],
    )


def warn_missing_once(missing: Sequence[str]) -> None:
    """Print ONE line naming missing protections, once per process."""
    global _warned_missing
    if missing and not _warned_missing:
        _warned_missing = True
        print("autograder: sandbox protections missing: " + "; ".join(missing), file=sys.stderr)
