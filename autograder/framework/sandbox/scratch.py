"""The worker's scratch folder, and cleaning up after a worker uid.

scratch/              root:<worker gid> 0750 (other slots' workers cannot look in)
  worker_main.py      read-only copies of the worker program and what it loads by path
  channel.py, errors.py
  <scenarios>.py      read-only copy of the scenarios file
  data/<name>         read-only copies of the data files (scenarios find them next to themselves)
  submission/         read-only copy of the submission root (modes normalised: no setuid bits)
  work/               owned by the worker uid: cwd, HOME, TMPDIR (emptied before every start)
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from autograder.framework.errors import SubmissionError
from autograder.framework.fstree import REMOVE_MAX_SECONDS, remove_tree
from autograder.framework.sandbox import cgroups
from autograder.framework.sandbox.libc import libc
from autograder.framework.sandbox.slots import slot_cgroup_name

FRAMEWORK = Path(__file__).resolve().parent.parent
WORKER_FILES = ("worker_main.py", "channel.py", "errors.py")  # the only framework code that enters the sandbox


@dataclass
class Scratch:
    """The per-worker scratch folder and what is in it."""

    root: Path
    worker_main: Path
    scenarios: Path
    data_dir: Path
    submission: Path
    work: Path


def find_package(submission_root: Path, package: str) -> None:
    """Raise SubmissionError unless `submission_root` holds the package (a folder or a module)."""
    if not ((submission_root / package).is_dir() or (submission_root / f"{package}.py").is_file()):
        raise SubmissionError(
            f"no package '{package}' found in your submission: expected a folder '{package}/' "
            f"(with __init__.py) at the top of your handin"
        )


def prepare_scratch(
    submission_root: Path, scenarios_file: Path, data_files: Sequence[Path], uid: int | None, gid: int | None
) -> Scratch:
    """Create the scratch folder with read-only copies; only `work/` is writable by the worker."""
    root = Path(tempfile.mkdtemp(prefix="ag-worker-"))
    try:
        for name in WORKER_FILES:
            _copy_file(FRAMEWORK / name, root / name)
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
            gid = uid if gid is None else gid
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
        os.chown(scratch.work, uid, uid if gid is None else gid)


def remove_scratch(root: Path) -> None:
    """Delete the scratch folder (bounded, iterative; never raises: see fstree.remove_tree)."""
    remove_tree(root)


SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue")  # a dropped uid can write here


def remove_uid_files(
    uid: int, folders: Sequence[str] = SHARED_WRITABLE, max_seconds: float = REMOVE_MAX_SECONDS
) -> list[str]:
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
