"""Landlock: confine the worker's file system (and, from ABI 4, TCP; from ABI 6, signals) without privilege.

A short ctypes shim over the three syscalls (landlock_create_ruleset, landlock_add_rule,
landlock_restrict_self; the same numbers on every architecture). Why not a binding: the PyPI
`landlock` package is a pre-release, and the worker must keep to the standard library; the kernel
interface is three calls and two packed structs, documented in Documentation/userspace-api/landlock.rst.

The ruleset is built in the grader (paths are opened there) and only `restrict_self` runs in the
child between fork and exec, so the interpreter itself starts confined: from then on the worker and
everything it starts can read only the paths given `READ` (and execute files there), write only
beneath the paths given `WRITE`, open no TCP connection and bind no TCP port (ABI >= 4), and signal
or reach abstract UNIX sockets of no process outside its own domain (ABI >= 6). Rights the running
kernel does not know are left out (best effort by ABI, as the kernel documentation recommends).
"""

from __future__ import annotations

import ctypes
import os
import stat
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15  # ABI 2, 3, 5
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # the only rights a file rule may carry
READ = EXECUTE | READ_FILE | READ_DIR
WRITE = (1 << 16) - 1  # everything (masked down to what the kernel handles)


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def abi_version() -> int:
    """The kernel's Landlock ABI version; 0 when Landlock is missing, disabled or blocked by seccomp."""
    version = _libc.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    return max(0, int(version))


def handled_fs(abi: int) -> int:
    """The file-system rights ABI `abi` can restrict."""
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


@dataclass
class Ruleset:
    """A built ruleset (an fd in this process) and what it enforces, for the staff log."""

    fd: int
    abi: int
    enforces: list[str] = field(default_factory=list)

    def restrict_self(self) -> int:
        """Apply the ruleset to the calling process (needs no_new_privs); 0 or the errno.
        Async-signal-safe enough for a preexec function: one syscall, no allocation."""
        if _libc.syscall(SYS_RESTRICT_SELF, ctypes.c_int(self.fd), ctypes.c_uint32(0)) != 0:
            return ctypes.get_errno() or 1
        return 0

    def close(self) -> None:
        """Release the ruleset's fd (the workers it confined stay confined)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class LandlockError(OSError):
    """The ruleset could not be built."""


def build(read: list[str], write: list[str], read_dir_only: Sequence[str] = ()) -> Ruleset:
    """A ruleset allowing READ beneath `read`, everything beneath `write`, listing beneath
    `read_dir_only`; files (not folders) in these lists get only the rights a file can have.
    Paths that do not exist are skipped. Raises LandlockError when Landlock is unavailable."""
    abi = abi_version()
    if abi < 1:
        raise LandlockError("Landlock is not available in this kernel (needs Linux 5.13+ with the LSM enabled)")
    fs = handled_fs(abi)
    attr = _RulesetAttr(
        fs,
        NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0,
        SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0,
    )
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    fd = _libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if fd < 0:
        raise LandlockError(ctypes.get_errno(), "landlock_create_ruleset failed")
    ruleset = Ruleset(
        int(fd),
        abi,
        ["file system: read only the interpreter, numpy and the worker's copies; write only the worker's scratch"],
    )
    if abi >= 4:
        ruleset.enforces.append("no TCP connect or bind")
    if abi >= 6:
        ruleset.enforces.append("no signals or abstract UNIX sockets outside the worker")
    try:
        for paths, rights in ((read, READ), (write, WRITE), (read_dir_only, READ_DIR)):
            for path in paths:
                _add_path(ruleset.fd, path, rights & fs)
    except BaseException:
        ruleset.close()
        raise
    return ruleset


def _add_path(ruleset_fd: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= FILE_RIGHTS
            if not rights:
                return
        rule = _PathBeneathAttr(rights, fd)
        if (
            _libc.syscall(
                SYS_ADD_RULE,
                ctypes.c_int(ruleset_fd),
                ctypes.c_int(RULE_PATH_BENEATH),
                ctypes.byref(rule),
                ctypes.c_uint32(0),
            )
            != 0
        ):
            raise LandlockError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
    finally:
        os.close(fd)


# ---- what a Python interpreter needs to start and import numpy ------------------------------------

SYSTEM_LIBRARY_DIRS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")


def interpreter_layout() -> dict:
    """Paths the running interpreter reads to start and import numpy: {"read": [...], "read_dir": [...]}.

    Only the interpreter, its shared libraries, the standard library, numpy (and its bundled
    libraries) and the venv's pyvenv.cfg can be read; the site-packages folders can only be listed
    (so that the import system finds numpy there): pytest, the grader and anything else installed
    beside numpy stay unreadable. Run by the grader for its own interpreter, or as
    `python landlock.py` for another worker interpreter (it then prints this as JSON).
    """
    import sysconfig

    paths = sysconfig.get_paths()
    exe = os.path.abspath(sys.executable)
    read = [os.path.realpath(exe), paths["stdlib"], "/etc/ld.so.cache", *SYSTEM_LIBRARY_DIRS]
    dynload = sysconfig.get_config_var("DESTSHARED")
    if dynload:
        read.append(dynload)
    for cfg in (
        os.path.join(os.path.dirname(exe), "pyvenv.cfg"),
        os.path.join(os.path.dirname(exe), "..", "pyvenv.cfg"),
    ):
        read.append(os.path.normpath(cfg))
    try:
        with open("/proc/self/maps") as f:  # e.g. a libpython outside the system folders (pyenv, conda)
            read += sorted({line.split()[-1] for line in f if "/libpython" in line})
    except OSError:
        pass
    read_dir = sorted({paths["purelib"], paths["platlib"]})
    try:
        import numpy

        np_dir = os.path.dirname(os.path.realpath(numpy.__file__))
        read += [np_dir, np_dir + ".libs"]
        read_dir.append(os.path.dirname(np_dir))
    except ImportError:
        pass
    return {"read": sorted({p for p in read if os.path.exists(p)}), "read_dir": read_dir}


if __name__ == "__main__":
    import json

    print(json.dumps(interpreter_layout()))
