"""The sandbox's figures: what one worker and each call may use (`Limits`), and the fixed budgets beside it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DISK_MAX_ENTRIES = 10_000  # files and folders in the work folder: past this the worker is over its budget
DISK_CHECK_SECONDS = 0.02  # how often a running call's files are measured (less often for big folders)
# Student stdout+stderr the grader keeps while draining the worker's pipe. These bound the grader's
# memory (a print flood cannot fill it) and what a "the worker did not start" grader error can quote;
# they are deliberately larger than what students are shown per test (the harness caps that, and the
# reports cap it again per failing case), which is cut from this.
OUTPUT_BYTES_PER_CALL = 64 * 1024
OUTPUT_BYTES_TOTAL = 1024 * 1024  # over one client's whole life


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
    disk_bytes: int = 256 * 1024**2  # the scratch's work folder, all files together (checked during calls)
    call_timeout: float = 5.0  # default per-call wall-clock deadline
    import_timeout: float = 10.0  # start: interpreter + numpy + importing the student's package
    output_bytes_per_call: int = OUTPUT_BYTES_PER_CALL  # student stdout+stderr kept per call
    output_bytes_total: int = OUTPUT_BYTES_TOTAL

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
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


def process_limit(limits: Limits, uid: int | None, cgroup: bool) -> int:
    """How many processes the worker may add: `processes` with a slot cgroup (which counts them and
    their memory together), else `processes_without_cgroup` (aggregate memory <= that x RLIMIT_AS)."""
    assert limits.processes is not None
    return limits.processes if uid is not None and cgroup else min(limits.processes, limits.processes_without_cgroup)


def human_bytes(n: int) -> str:
    """1073741824 -> '1 GiB'."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"
