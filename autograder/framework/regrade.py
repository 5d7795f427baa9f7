"""`autograder regrade EXPORT --out DIR --jobs N`: regrade a whole class from a Gradescope export.

EXPORT is Gradescope's "Export Submissions" zip or its unpacked folder: `submission_metadata.yml`
(keys are Ruby symbols, so they literally start with ':') and one `submission_<id>/` folder each.
Every submission is graded by its own `python -m autograder grade` subprocess, N at a time, each
with a distinct sandbox slot so concurrent sandboxes never collide.

- **Resume by fingerprint.** Each result records what produced it (hashes of the grader's source,
  the assignment's tests, the reference and the handin) in DIR/<id>/status.json. A rerun regrades
  exactly the submissions whose fingerprint changed (and those that failed) and says why; `force`
  regrades all.
- **Interruptible.** Ctrl-C (SIGINT) or SIGTERM stops within a couple of seconds: graders get
  SIGTERM (they stop their sandboxed workers), then SIGKILL, then every process of the slots' uids
  is killed; scores.csv is still written for what is done. A grader never outlives the regrade:
  each is started with PR_SET_PDEATHSIG, so even `kill -9` of the regrade stops them.
- **Private.** An export other uids can read is refused (a handin could copy a classmate's); DIR is
  0700 and the export is staged inside it (DIR/_export), every report, log and CSV is 0600, so no
  worker uid reaches a classmate's handin, the metadata or any result; each grader copies its
  handin privately before grading it.
One bad submission never stops the batch; its status and error go into scores.csv.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

import autograder.framework
from autograder.framework.archive import ExtractionLimits, extract_archive
from autograder.framework.errors import SubmissionError
from autograder.framework.fstree import remove_tree
from autograder.framework.gradebook import Row, Student, parse_time, write_gradebook
from autograder.framework.options import BadOption
from autograder.framework.reference_cache import fingerprint
from autograder.framework.reports import write_atomic, write_private
from autograder.framework.rubric import Assignment

METADATA_FILE = "submission_metadata.yml"
PREFIX = "submission_"
STATUS_FILE = "status.json"
RESULTS_FILE = "results.json"
LOG_FILE = "grader.log"  # the grader's stderr
EXPORT_DIR = "_export"  # the export staged inside OUT (private)
DEFAULT_TIMEOUT = 15 * 60.0  # Gradescope's own default per-submission limit is 10 min
# A whole class's export: far larger than one handin, still bounded against a corrupt zip. No ratio
# limit: one student's well-compressing file must not stop the batch (each handin meets the
# per-handin limits again when it is graded), and the total stays capped.
EXPORT_LIMITS = ExtractionLimits(
    max_files=200_000, max_total_bytes=8 << 30, max_file_bytes=100 << 20, max_ratio=float("inf")
)
STDERR_KEEP = 2_000  # characters of a failed grader's stderr kept in the error column
TERM_GRACE = 1.5  # seconds a grader gets to stop its workers after SIGTERM, before SIGKILL
PR_SET_PDEATHSIG = 1
FINGERPRINT_PARTS = ("grader", "tests", "reference", "handin")

# command(submission_dir, results_path, slot) -> argv; tests and benchmarks may substitute their own.
Command = Callable[[Path, Path, int], Sequence[str]]


@dataclass
class Submission:
    """One row of the export: who handed in what, and what Gradescope scored it."""

    id: str
    folder: Path | None  # None when the export lists it but holds no folder
    names: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    sids: list[str] = field(default_factory=list)
    created_at: str = ""
    old_score: float | None = None


@dataclass
class Result:
    """What regrading one submission produced."""

    id: str
    score: float | None = None
    tasks: dict[str, float] = field(default_factory=dict)
    error: str = ""
    skipped: bool = False  # unchanged since an earlier run: that run's result is reused
    seconds: float = 0.0
    status: str = "graded"  # graded, refused, grader error, timed out, missing, not graded
    reason: str = ""  # why it was (re)graded this time: new, tests changed, handin changed, ...


# ------------------------------------------------------------------------------ reading the export


class _RubyTolerantLoader(yaml.SafeLoader):
    """SafeLoader that reads Ruby-tagged nodes (`!ruby/object:...`, `!ruby/hash:...`) as plain data."""


def _untagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_RubyTolerantLoader.add_multi_constructor("!", _untagged)
_RubyTolerantLoader.add_multi_constructor("tag:yaml.org,2002:", _untagged)


class RegradeError(Exception):
    """The export cannot be regraded (not an export, unreadable, readable by others); the message says why."""


def _key(mapping: Any, name: str) -> Any:
    """mapping[':name'] (Gradescope's Ruby symbols) or mapping['name']; None when absent."""
    if not isinstance(mapping, dict):
        return None
    return mapping.get(f":{name}", mapping.get(name))


def find_export_root(path: Path) -> Path:
    """The folder holding submission_metadata.yml: `path` itself or one level down."""
    candidates = [path] + sorted(p for p in path.iterdir() if p.is_dir())
    for folder in candidates:
        if (folder / METADATA_FILE).is_file():
            return folder
    raise RegradeError(
        f"no {METADATA_FILE} in {path} or its sub-folders: is this a Gradescope 'Export Submissions' archive?"
    )


def read_export(root: Path) -> list[Submission]:
    """Every submission the metadata lists or a `submission_<id>/` folder holds, sorted by id."""
    meta = yaml.load((root / METADATA_FILE).read_text(encoding="utf-8"), Loader=_RubyTolerantLoader) or {}
    if not isinstance(meta, dict):
        raise RegradeError(f"{root / METADATA_FILE} is not a mapping of submissions")
    folders = {p.name[len(PREFIX) :]: p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX)}
    subs: dict[str, Submission] = {}
    for key, record in meta.items():
        sid = str(key)[len(PREFIX) :] if str(key).startswith(PREFIX) else str(key)
        submitters = _key(record, "submitters") or []
        score = _key(record, "score")
        subs[sid] = Submission(
            id=sid,
            folder=folders.get(sid),
            names=[str(_key(s, "name") or "") for s in submitters],
            emails=[str(_key(s, "email") or "") for s in submitters],
            sids=[str(_key(s, "sid") or "") for s in submitters],
            created_at=str(_key(record, "created_at") or ""),
            old_score=float(score) if isinstance(score, (int, float)) else None,
        )
    for sid, folder in folders.items():
        subs.setdefault(sid, Submission(id=sid, folder=folder))
    return sorted(subs.values(), key=lambda s: _id_order(s.id))


def _id_order(sid: str) -> tuple[int, int, str]:
    """Numeric ids in numeric order, then anything else alphabetically."""
    return (0, int(sid), "") if sid.isdigit() else (1, 0, sid)


# ------------------------------------------------------------------------------ staging the export


def make_private(folder: Path) -> None:
    """Create `folder` if needed and make it 0700: the worker uids must not look inside."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)


def _export_version(export: Path) -> str:
    """What the staged copy was made from: the zip's path, size and mtime (a changed zip is restaged)."""
    st = export.stat()
    return f"{export.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def reachable_by_others(path: Path) -> bool:
    """Whether a process of another uid (a sandboxed worker: no shared group) can reach `path`:
    every ancestor searchable by others, and the file readable (a folder searchable: ids are guessable)."""
    path = path.resolve()
    for folder in reversed(path.parents):
        if not folder.stat().st_mode & 0o001:
            return False
    return bool(path.stat().st_mode & (0o001 if path.is_dir() else 0o004))


def check_export_private(export: Path) -> None:
    """Refuse an export the workers could read: a handin could then copy a classmate's work."""
    if os.geteuid() == 0 and reachable_by_others(export):  # without root, workers share our uid anyway
        raise RegradeError(
            f"{export} can be read by other users, so a student's code being graded could read classmates' "
            f"handins and the metadata. Make it private first, e.g. `chmod 600 {export}` for a zip or "
            f"`chmod 700 {export}` for a folder (or move it into a private folder), then rerun."
        )


def open_export(export: Path, out: Path) -> Path:
    """The export's root folder, staged privately in out/_export (a zip extracted safely, a folder copied).

    A folder export is copied on every run (a handin the TA replaced must be seen); a zip is
    extracted once and again only when the zip changed. A zip that is not an export leaves no
    _export behind.
    """
    staged, done = out / EXPORT_DIR, out / (EXPORT_DIR + ".done")
    if export.is_dir():
        root = find_export_root(export)  # refuse a non-export before copying anything
        _remove(staged, done)
        try:
            shutil.copytree(root, staged, symlinks=True)
        except (OSError, shutil.Error) as exc:
            _remove(staged, done)
            raise RegradeError(f"cannot copy the export {root}: {exc}") from None
        os.chmod(staged, 0o700)  # classmates' handins: no worker uid may look in
        return staged
    version = _export_version(export)
    if not (done.is_file() and done.read_text(encoding="utf-8") == version):
        _remove(staged, done)
        try:
            extract_archive(export, staged, EXPORT_LIMITS)
        except SubmissionError as exc:
            _remove(staged, done)
            raise RegradeError(f"cannot read the export: {exc.message}") from None
        write_private(done, version.encode("utf-8"))  # 0600 like everything in OUT: it names the export
    os.chmod(staged, 0o700)  # classmates' handins: no worker uid may look in
    try:
        return find_export_root(staged)
    except RegradeError:
        _remove(staged, done)
        raise


def _remove(*paths: Path) -> None:
    """Delete files or folders, whichever they are; missing ones are fine."""
    for path in paths:
        remove_tree(path)  # iterative: a deep tree in a classmate's handin cannot raise RecursionError


# ------------------------------------------------------------------------------ fingerprints


def grader_fingerprint(assignment: Assignment) -> dict[str, str]:
    """Hashes of what grades every handin: the grader's source (framework, scenarios, data, tasks),
    the assignment's tests and the reference."""
    framework = Path(autograder.framework.__file__).resolve().parent
    # Every setting of the assignment (tasks and points, budget, feedback, likely causes, ...), as its repr.
    settings = repr(replace(assignment, source="")).encode()
    grader = fingerprint([framework, assignment.scenarios_file, *assignment.data_files])
    return {
        "grader": hashlib.sha256(grader.encode() + settings).hexdigest(),
        "tests": fingerprint([assignment.tests_dir]),
        "reference": fingerprint([assignment.reference_root / assignment.package]),
    }


def handin_fingerprint(folder: Path) -> str:
    """A hash of a handin folder's names and contents (symbolic links by their target, never followed)."""
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix().encode("utf-8", "surrogateescape")
        if path.is_symlink():
            h.update(b"L" + rel + b"\0" + os.readlink(path).encode("utf-8", "surrogateescape") + b"\0")
        elif path.is_file():
            h.update(b"F" + rel + b"\0")
            with path.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            h.update(b"\0")
        else:
            h.update(b"D" + rel + b"\0")
    return h.hexdigest()


def why_regrade(previous: dict[str, Any] | None, now: dict[str, str]) -> str:
    """'' when the earlier result still stands, else why this submission must be graded again."""
    if previous is None:
        return "new"
    if previous.get("returncode") != 0:
        return "failed before"
    before = previous.get("fingerprint")
    if not isinstance(before, dict):
        return "no fingerprint (graded by an older version)"
    changed = [f"{k} changed" for k in FINGERPRINT_PARTS if before.get(k) != now.get(k)]
    return ", ".join(changed)


# ------------------------------------------------------------------------------ grading


def grade_command_argv(assignment: str) -> Command:
    """The default command: this interpreter running `autograder grade` on one submission
    (`assignment`: a registered name or an assignment folder's path, as the CLI takes it)."""

    def argv(folder: Path, results: Path, slot: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            str(folder),
            "--results",
            str(results),
            "--slot",
            str(slot),
            "--assignment",
            assignment,
            "--quiet",
        ]

    return argv


def load_results(path: Path) -> dict[str, Any] | None:
    """The parsed results.json if it is a usable Gradescope report (a score or scored tests), else None."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(report, dict):
        return None
    if isinstance(report.get("score"), (int, float)):
        return report
    tests = report.get("tests")
    if (
        isinstance(tests, list)
        and tests
        and all(isinstance(t, dict) and isinstance(t.get("score"), (int, float)) for t in tests)
    ):
        return report
    return None


def read_status(out_dir: Path) -> dict[str, Any] | None:
    """DIR/<id>/status.json of an earlier run (written after its grader exited), or None."""
    try:
        status = json.loads((out_dir / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return status if isinstance(status, dict) else None


class Batch:
    """The running graders of one regrade, so an interrupt can stop every one of them."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen] = set()
        self.slots_used: set[int] = set()

    def start(self, argv: list[str], slot: int) -> subprocess.Popen | None:
        """Start a grader (None once the batch is stopping); it dies with the thread that started it."""
        with self._lock:
            if self.stop.is_set():
                return None
            self.slots_used.add(slot)
            # Own session: a terminal's Ctrl-C reaches only the regrade, which stops graders in order.
            proc = subprocess.Popen(
                argv,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
                preexec_fn=_die_with_parent(os.getpid()),
            )
            self._procs.add(proc)
            return proc

    def done(self, proc: subprocess.Popen) -> None:
        """Forget a grader that exited."""
        with self._lock:
            self._procs.discard(proc)

    def terminate(self, grace: float = TERM_GRACE) -> None:
        """Stop every grader: SIGTERM (a grader then stops its workers), SIGKILL after `grace` s."""
        with self._lock:
            self.stop.set()
            procs = list(self._procs)
        for proc in procs:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(proc, signal.SIGKILL)
        kill_slot_uids(self.slots_used)


_LIBC: ctypes.CDLL | None = None


def _die_with_parent(parent: int) -> Callable[[], None]:
    """A preexec_fn: the grader gets SIGTERM when the thread that started it dies (kill -9 included)."""
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here: the child must not load libraries
    libc = _LIBC

    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the regrade died before prctl took effect
            os._exit(1)

    return preexec


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Send `sig` to the grader's whole session (it is the group leader)."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def kill_slot_uids(slots: Sequence[int] | set[int]) -> None:
    """When root, kill every process of these slots' worker uids (what a killed grader left behind)."""
    from autograder.framework import sandbox  # only here: the regrade itself never starts workers

    for slot in sorted(slots):
        uid, gid = sandbox.worker_ids(slot)
        if uid is not None:
            sandbox.kill_uid(uid, gid)


def grade_one(
    sub: Submission,
    out: Path,
    slot: int,
    command: Command,
    timeout: float,
    versions: dict[str, str] | None = None,
    *,
    force: bool = False,
    batch: Batch | None = None,
) -> Result:
    """Grade one submission in a subprocess, unless its earlier result still stands.

    Every failure becomes Result.error (with a status), never an exception.
    """
    batch = batch or Batch()
    sub_dir = out / sub.id
    sub_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    results = sub_dir / RESULTS_FILE
    if sub.folder is None:
        return Result(sub.id, error="submission folder missing from the export", status="missing")
    now = {**(versions or {}), "handin": handin_fingerprint(sub.folder)}
    previous = read_status(sub_dir)
    reason = "forced" if force else why_regrade(previous, now)
    if not reason:
        report = load_results(results)
        if report is not None:
            return _result(sub.id, report, skipped=True)
        reason = "report missing or damaged"
    # A retry starts clean: a report or log left by an earlier, failed run must not pass for this run's.
    for stale in (STATUS_FILE, RESULTS_FILE, LOG_FILE):
        (sub_dir / stale).unlink(missing_ok=True)
    start = time.monotonic()
    argv = list(command(sub.folder, results, slot))
    try:
        proc = batch.start(argv, slot)
    except OSError as exc:
        return Result(sub.id, error=f"could not start the grader: {exc}", status="grader error", reason=reason)
    if proc is None:
        return _not_graded(sub.id)
    try:
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            kill_slot_uids([slot])
            _, err = proc.communicate()
            _write_log(sub_dir, err)  # what the grader printed before it was stopped
            return Result(
                sub.id,
                error=f"grader timed out after {timeout:g} s",
                seconds=time.monotonic() - start,
                status="timed out",
                reason=reason,
            )
    finally:
        batch.done(proc)
    seconds = time.monotonic() - start
    stderr = _write_log(sub_dir, err)
    if batch.stop.is_set():  # stopped by an interrupt: whatever it wrote is not a grade
        results.unlink(missing_ok=True)
        return _not_graded(sub.id)
    if results.exists():  # whatever wrote it, a report is for staff only
        os.chmod(results, 0o600)
    report = load_results(results)
    status = {"returncode": proc.returncode, "seconds": round(seconds, 3), "argv": argv, "fingerprint": now}
    write_atomic(sub_dir / STATUS_FILE, status)  # a rerun must never see half a status file
    if report is None:
        return Result(
            sub.id,
            error=f"grader exited with {proc.returncode} and no usable results.json: {_tail(stderr)}",
            seconds=seconds,
            status="grader error",
            reason=reason,
        )
    result = _result(sub.id, report, seconds=seconds)
    result.reason = reason
    if proc.returncode != 0:  # e.g. an internal grader error: scores exist but a rerun should retry
        result.error = f"grader exited with {proc.returncode}: {_tail(stderr)}"
        result.status = "grader error"
    return result


def _not_graded(sid: str) -> Result:
    """The result of a submission the interrupted regrade did not finish."""
    return Result(
        sid, error="the regrade was interrupted before this submission was graded; rerun to finish", status="not graded"
    )


def _result(sid: str, report: dict[str, Any], *, skipped: bool = False, seconds: float = 0.0) -> Result:
    """A Result from a Gradescope report: the total and the points per task."""
    tests = report.get("tests") or []
    score = report.get("score")
    if not isinstance(score, (int, float)):
        score = sum(t.get("score", 0) for t in tests)
    tasks: dict[str, float] = {}
    extra = (report.get("extra_data") or {}).get("tasks")
    if isinstance(extra, dict):
        tasks = {str(k): float(v) for k, v in extra.items()}
    else:  # a report without the task map: one entry per task (or per task and visibility)
        for t in tests:
            if t.get("number") is not None:
                tasks[str(t["number"])] = tasks.get(str(t["number"]), 0.0) + float(t.get("score", 0))
    problem = _submission_problem(tests, score)
    return Result(
        sid,
        float(score),
        tasks,
        error=problem,
        skipped=skipped,
        seconds=seconds,
        status="refused" if problem else "graded",
    )


def _submission_problem(tests: list[dict[str, Any]], score: float) -> str:
    """The message of a handin refused as a whole (every task 0 with one same message), else ''.

    The grader reports an unusable handin (broken archive, package missing) by failing every task
    with the same student-facing message; the TA sees it in scores.csv without opening the report.
    """
    outputs = {str(t.get("output", "")).strip() for t in tests}
    if score == 0 and len(tests) > 1 and len(outputs) == 1 and "checks passed" not in next(iter(outputs)):
        return next(iter(outputs))
    return ""


def _write_log(sub_dir: Path, err: bytes | None) -> str:
    """Save the grader's stderr as <sub_dir>/grader.log (0600); return it as text."""
    stderr = (err or b"").decode("utf-8", "replace").strip()
    write_private(sub_dir / LOG_FILE, (stderr + "\n").encode("utf-8"))
    return stderr


def _tail(text: str) -> str:
    """The end of a grader's stderr, on one line, for the error column."""
    text = " | ".join(line for line in text.splitlines() if line.strip())
    return text[-STDERR_KEEP:] if text else "(no output)"


class Interrupted(Exception):
    """The regrade was stopped (SIGINT/SIGTERM); scores.csv holds what was done."""

    def __init__(self, results: list[Result]) -> None:
        super().__init__("interrupted")
        self.results = results


def regrade(
    export: Path,
    out: Path,
    assignment: Assignment,
    *,
    jobs: int = 2,
    command: Command | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Callable[[int], Any] | None = None,
    slots: Sequence[int] | None = None,
    force: bool = False,
    versions: dict[str, str] | None = None,
    due: datetime | None = None,
) -> list[Result]:
    """Grade every submission of `export` into `out`, `jobs` at a time on `slots` (default 0..jobs-1).

    Writes out/scores.csv and out/gradescope_scores.csv and returns the results in id order. An
    interrupt (KeyboardInterrupt, or SIGTERM when called from the main thread) stops every grader,
    writes the CSVs for what is done and raises Interrupted. `progress(n)`, given the number of
    submissions, returns a context manager whose `update(1)` is called per result (the CLI's progress bar).
    """
    check_export_private(export)
    make_private(out)
    subs = read_export(open_export(export, out))
    command = command or grade_command_argv(assignment.source or assignment.name)
    versions = versions if versions is not None else grader_fingerprint(assignment)
    jobs = max(1, jobs)
    free: queue.Queue[int] = queue.Queue()
    for k in (list(slots) if slots else list(range(jobs)))[:jobs]:
        free.put(k)
    batch = Batch()

    def run(sub: Submission) -> Result:
        if batch.stop.is_set():
            return _not_graded(sub.id)
        slot = free.get()  # a slot is held by one grader at a time: sandboxes never share one
        try:
            return grade_one(sub, out, slot, command, timeout, versions, force=force, batch=batch)
        except Exception as exc:  # a bug here must not stop the batch either
            return Result(sub.id, error=f"regrade failed: {type(exc).__name__}: {exc}", status="grader error")
        finally:
            free.put(slot)

    results: dict[str, Result] = {}
    interrupted = False
    restore = _sigterm_as_interrupt()
    pool = ThreadPoolExecutor(max_workers=jobs)
    bar_cm = progress(len(subs)) if progress else _NoBar()
    try:
        with bar_cm as bar:
            pending: set[Future] = {pool.submit(run, s) for s in subs}
            while pending:
                finished_now, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in finished_now:
                    r = future.result()
                    results[r.id] = r
                    bar.update(1)
    except KeyboardInterrupt:
        interrupted = True
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        try:
            batch.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
            for future in pending:
                if future.done() and not future.cancelled():
                    r = future.result()
                    results[r.id] = r
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    finally:
        pool.shutdown(wait=not interrupted)
        restore()
    ordered = [results.get(s.id) or _not_graded(s.id) for s in subs]
    write_gradebook(out, [_row(s, r) for s, r in zip(subs, ordered)], assignment, due)
    if interrupted:
        raise Interrupted(ordered)
    return ordered


def _sigterm_as_interrupt() -> Callable[[], None]:
    """In the main thread, treat SIGTERM like Ctrl-C (stop cleanly); return the undo function."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)

    def undo() -> None:
        signal.signal(signal.SIGTERM, previous)

    return undo


def _row(sub: Submission, r: Result) -> Row:
    """The gradebook's view of one submission and its result."""
    count = max(len(sub.names), len(sub.emails), len(sub.sids))
    pick = lambda xs, i: xs[i] if i < len(xs) else ""  # noqa: E731
    students = [Student(pick(sub.names, i), pick(sub.sids, i), pick(sub.emails, i)) for i in range(count)]
    return Row(sub.id, students, sub.created_at, sub.old_score, r.score, r.status, r.error, r.tasks)


class _NoBar:
    """Stands in for a progress bar when none is wanted (tests, benchmarks)."""

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        """Ignore progress."""


def summary_lines(results: Sequence[Result]) -> list[str]:
    """The TA's summary: how many were graded and why, how many reused, how many failed."""
    graded = [r for r in results if not r.skipped and r.status in ("graded", "refused", "grader error", "timed out")]
    reasons: dict[str, int] = {}
    for r in graded:
        for why in (r.reason or "new").split(", "):
            reasons[why] = reasons.get(why, 0) + 1
    why = f" ({', '.join(f'{k}: {v}' for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]))})" if reasons else ""
    reused = sum(r.skipped for r in results)
    failed = [r for r in results if r.score is None]
    lines = [
        f"{len(results)} submissions: {len(graded)} graded{why}, {reused} unchanged (already done), "
        f"{len(failed)} not graded, {sum(r.status == 'refused' for r in results)} refused handins"
    ]
    lines += [f"  {r.id}: {r.status}: {r.error[:200]}" for r in results if r.error][:20]
    return lines


def parse_due(text: str) -> datetime:
    """A due date given by the TA (ISO 8601 with its time-zone offset, which is required), or BadOption."""
    due_at = parse_time(text)
    if due_at is None:
        raise BadOption(f"{text!r} is not a date and time such as 2026-02-14T23:59:00-05:00", "--due")
    if not re.search(r"(Z|[+-]\d{2}:?\d{2})\s*$", text.strip()):  # a due date is local: never guess its zone
        raise BadOption(f"{text!r} has no time-zone offset: add one, e.g. {text.strip()}-05:00 (or Z for UTC)", "--due")
    return due_at
