"""Helpers shared by test_hostile/test_broken/test_determinism: a small test suite, graders in
subprocesses on slots 5 and 6, and the checks every hostile result must pass."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.assignments.hw1p1.assignment import ASSIGNMENT

from .corpus import MARK, REPO, SLEEP_MARK

HW = REPO / "autograder" / "assignments" / "hw1p1"
SLOTS = (5, 6)  # this suite's sandbox slots: other suites use other worker uids
RUNNER = Path(__file__).resolve().parent / "run_grade.py"
MINI_FILES = ("public/test_2_elementwise.py", "hidden/test_2_elementwise_hidden.py")
MINI_TASKS = ("2.1", "2.2", "2.3", "2.4")  # 18 points: unbroadcast and the elementwise ops
GRADE_TIMEOUT = 90.0  # a grade past this is a hang (the worst case here is ~10 s)
NOBODY = 65534
# Docker's default capability set (no CAP_SYS_ADMIN), as Gradescope and PrairieLearn run the grader.
DOCKER_CAPS = [
    "setpriv",
    "--bounding-set=-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,"
    "+net_bind_service,+net_raw,+sys_chroot,+mknod,+audit_write,+setfcap",
    "--inh-caps=-all",
    "--",
]
UID_BASE = int(os.environ.get("AUTOGRADER_WORKER_UID_BASE", 64000))


def points(task_id: str) -> float:
    """The points of hw1p1 task `task_id`."""
    return ASSIGNMENT.task(task_id).points


MINI_MAX = sum(points(t) for t in MINI_TASKS)


def make_mini_tests(dest: Path) -> Path:
    """dest/tests: hw1p1's conftest, shared checks and the task-2 test files (a 1-2 s suite)."""
    tests = dest / "tests"
    for rel in ("conftest.py", "public/hw1p1_checks.py", *MINI_FILES):
        (tests / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HW / "tests" / rel, tests / rel)
    return tests


@dataclass
class Graded:
    """One grading run in a subprocess: its report (None if unreadable), timing and output."""

    case: str
    report: dict[str, Any] | None
    raw: str
    seconds: float
    returncode: int
    stdout: str
    stderr: str
    results: Path

    @property
    def score(self) -> float:
        """The report's total (the top-level score, else the sum of the tests)."""
        if self.report is None:
            return float("nan")
        if "score" in self.report:
            return float(self.report["score"])
        return sum(t.get("score", 0) for t in self.report.get("tests", []))

    def task_score(self, task_id: str) -> float:
        """Points earned on one task."""
        return sum(t["score"] for t in self.report["tests"] if t.get("number") == task_id)

    def task_output(self, task_id: str) -> str:
        """The student-facing text of one task's entry."""
        return "\n".join(t.get("output", "") for t in self.report["tests"] if t.get("number") == task_id)

    def text(self) -> str:
        """Everything in the report as one string."""
        return self.raw

    def held(self, prop: str) -> str:
        """Which mechanisms held `prop` (network, filesystem, uid), from the grader's staff log."""
        for line in self.stdout.splitlines():
            if line.startswith("sandbox: network "):
                for part in line[len("sandbox: ") :].split("; "):
                    if part.startswith(prop + " "):
                        return part[len(prop) + 1 :]
        return "?"

    @property
    def peak_mib(self) -> float:
        """The grading process's peak resident memory (run_grade.py's last stdout line), nan if unknown."""
        try:
            return float(json.loads(self.stdout.strip().splitlines()[-1])["maxrss_mib"])
        except (ValueError, KeyError, IndexError, TypeError):
            return float("nan")


def grade(
    case: str,
    submission: Path,
    workdir: Path,
    slot: int,
    *,
    tests_dir: Path | None = None,
    tasks: Sequence[str] = MINI_TASKS,
    user: int | None = None,
    pythonpath: Path | None = None,
    reference_root: Path | None = None,
    timeout: float = GRADE_TIMEOUT,
    docker: bool = False,
) -> Graded:
    """Grade `submission` in a subprocess whose cwd is `workdir` (results.json lands there)."""
    cmd = [
        sys.executable,
        str(RUNNER if pythonpath is None else pythonpath / "tests/hostile/run_grade.py"),
        str(submission),
        "--results",
        "results.json",
        "--slot",
        str(slot),
    ]
    if tests_dir is not None:
        cmd += ["--tests-dir", str(tests_dir), "--tasks", ",".join(tasks)]
    if reference_root is not None:
        cmd += ["--reference-root", str(reference_root)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "--"] + cmd
    if docker:
        cmd = DOCKER_CAPS + cmd
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, timeout=timeout)
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = -999, e.stdout or b"", e.stderr or b""
    seconds = time.monotonic() - start
    results = workdir / "results.json"
    raw = results.read_text(errors="replace") if results.exists() else ""
    try:
        report = json.loads(raw)
    except ValueError:
        report = None
    return Graded(
        case,
        report,
        raw,
        seconds,
        rc,
        out.decode(errors="replace")[-2_000_000:],
        err.decode(errors="replace")[-2_000_000:],
        results,
    )


def grade_many(jobs: Sequence[tuple[str, Path, Path, dict[str, Any]]]) -> dict[str, Graded]:
    """Grade (name, submission, workdir, kwargs) jobs two at a time, one per slot."""
    free = list(SLOTS)
    import threading

    lock = threading.Lock()

    def run(job: tuple[str, Path, Path, dict[str, Any]]) -> Graded:
        with lock:
            slot = free.pop()
        try:
            return grade(job[0], job[1], job[2], slot, **job[3])
        finally:
            with lock:
                free.append(slot)

    with ThreadPoolExecutor(max_workers=len(SLOTS)) as pool:
        return {g.case: g for g in pool.map(run, jobs)}


# ---- what a hostile run must leave behind ---------------------------------------------------------


def secret_lines() -> set[str]:
    """Distinctive lines of the hidden tests and of the reference's solution code.

    Only lines a student cannot already see: lines also present in the handout (docstrings,
    signatures) or in the public tests are not secrets.
    """
    public: set[str] = set()
    for f in list((REPO / "handouts" / "hw1p1").rglob("*.py")) + list((HW / "tests" / "public").rglob("*.py")):
        public |= {ln.strip() for ln in f.read_text(errors="replace").splitlines()}
    secret: set[str] = set()
    for f in (HW / "tests" / "hidden").rglob("*.py"):
        secret |= {ln.strip() for ln in f.read_text().splitlines()}
    for f in (REPO / "solutions" / "hw1p1" / "mytorch").rglob("*.py"):
        inside = False
        for ln in f.read_text().splitlines():
            if "BEGIN SOLUTION" in ln or "END SOLUTION" in ln:
                inside = "BEGIN" in ln
            elif inside:
                secret.add(ln.strip())
    # Short or generic lines ("return out", ")") would match by chance.
    return {s for s in secret - public if len(s) >= 30 and not s.startswith("#")}


def leaked_lines(text: str, secrets: set[str]) -> list[str]:
    """Secret lines found in `text` (JSON-escaped text is unescaped first)."""
    plain = text.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
    return sorted(s for s in secrets if s in plain)


def marked_files(roots: Sequence[Path]) -> list[str]:
    """Files whose name carries MARK under `roots` (an attack managed to create them)."""
    found = []
    for root in roots:
        if not root.exists():
            continue
        for dirpath, dirnames, files in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in (".git", ".venv", "node_modules")]
            found += [os.path.join(dirpath, f) for f in files + dirnames if MARK in f]
    return found


def shallow_marked(dirs: Sequence[Path]) -> list[str]:
    """MARK-named entries directly inside `dirs` (for /tmp-like folders shared with other jobs)."""
    out = []
    for d in dirs:
        try:
            out += [str(d / n) for n in os.listdir(d) if MARK in n]
        except OSError:
            pass
    return out


def leftover_processes(uids: Sequence[int]) -> list[str]:
    """Live processes owned by `uids`, or running our `sleep SLEEP_MARK` (escaped attack children)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            uid = os.stat(f"/proc/{name}").st_uid
            with open(f"/proc/{name}/stat", "rb") as f:
                state = f.read().decode(errors="replace").rsplit(")", 1)[1].split()[0]
            cmd = open(f"/proc/{name}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        if state in ("Z", "X"):
            continue
        if uid in uids or SLEEP_MARK in cmd:
            out.append(f"pid {name} uid {uid}: {cmd[:120]}")
    return out


def messages(report: dict[str, Any]) -> str:
    """All student-facing text in a report."""
    return "\n".join([report.get("output", "")] + [t.get("output", "") for t in report.get("tests", [])])


_WORD = re.compile(r"\s+")
