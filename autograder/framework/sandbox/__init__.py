"""The sandbox student code runs in: one module per job.

    limits.py       Limits (what one worker and each call may use), the disk and output budgets, human_bytes
    slots.py        slot -> worker uid, the cross-process slot lock, which slots a TA may give
    protections.py  which mechanisms this machine allows (probed once), the plan a worker gets, the staff
                    log, the properties a course can --require (REQUIREMENTS)
    scratch.py      the per-worker scratch folder (read-only copies, writable work/); cleanup after a uid
    disk.py         the disk budget: measuring the work folder and open deleted files, and when
    process.py      WorkerProcess and its one owner: exec, wait, kill, reap; the registry of live workers
    reaping.py      finding every process a worker started (escapees too) and killing and reaping them
    procfs.py       what /proc says about processes (state, parent, CPU and waiting time, children)
    output.py       the worker's stdout/stderr, kept within bounds
    session.py      WorkerSandbox: one client's slot, scratch, plan, output and current worker
    seccomp.py, landlock.py, cgroups.py, libc.py   the kernel mechanisms, through ctypes

Calls flow one way: client.py (the protocol) uses this package; nothing here imports the client.
The names below are what the rest of the grader imports.
"""

from autograder.framework.fstree import remove_tree
from autograder.framework.sandbox.disk import DiskFull, DiskUse, DiskWatch, disk_use
from autograder.framework.sandbox.limits import (
    DISK_CHECK_SECONDS,
    DISK_MAX_ENTRIES,
    OUTPUT_BYTES_PER_CALL,
    OUTPUT_BYTES_TOTAL,
    Limits,
    human_bytes,
    process_limit,
)
from autograder.framework.sandbox.output import CappedOutput
from autograder.framework.sandbox.process import (
    LIVE,
    WorkerProcess,
    close_pipes,
    describe_signal,
    kill_worker,
    spawn,
    wait_worker,
)
from autograder.framework.sandbox.procfs import cpu_seconds_used, worker_pids
from autograder.framework.sandbox.protections import (
    REQUIREMENTS,
    SKIP_ENV,
    Mechanisms,
    Protections,
    mechanisms,
    plan_protections,
    warn_missing_once,
)
from autograder.framework.sandbox.reaping import kill_uid, reap_uid
from autograder.framework.sandbox.scratch import (
    WORKER_FILES,
    Scratch,
    find_package,
    prepare_scratch,
    remove_scratch,
    remove_uid_files,
    reset_work_dir,
)
from autograder.framework.sandbox.session import WorkerSandbox
from autograder.framework.sandbox.slots import (
    DEFAULT_UID_BASE,
    acquire_slot,
    release_slot,
    slot_cgroup_name,
    worker_ids,
)

__all__ = [
    "CappedOutput",
    "DEFAULT_UID_BASE",
    "DISK_CHECK_SECONDS",
    "DISK_MAX_ENTRIES",
    "DiskFull",
    "DiskUse",
    "DiskWatch",
    "LIVE",
    "Limits",
    "Mechanisms",
    "OUTPUT_BYTES_PER_CALL",
    "OUTPUT_BYTES_TOTAL",
    "Protections",
    "REQUIREMENTS",
    "SKIP_ENV",
    "Scratch",
    "WORKER_FILES",
    "WorkerProcess",
    "WorkerSandbox",
    "acquire_slot",
    "close_pipes",
    "cpu_seconds_used",
    "describe_signal",
    "disk_use",
    "find_package",
    "human_bytes",
    "kill_uid",
    "kill_worker",
    "mechanisms",
    "plan_protections",
    "prepare_scratch",
    "process_limit",
    "reap_uid",
    "release_slot",
    "remove_scratch",
    "remove_tree",
    "remove_uid_files",
    "reset_work_dir",
    "slot_cgroup_name",
    "spawn",
    "wait_worker",
    "warn_missing_once",
    "worker_ids",
    "worker_pids",
]
