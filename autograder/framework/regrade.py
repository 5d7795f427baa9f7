"""`autograder regrade EXPORT --out DIR --jobs N`: regrade a whole class from a Gradescope export.

EXPORT is Gradescope's "Export Submissions" zip or its unpacked folder: `submission_metadata.yml`
(keys are Ruby symbols, so they literally start with ':') and one `submission_<id>/` folder each.
Every submission is graded by its own `python -m autograder grade` subprocess, N at a time, each
with a distinct sandbox slot so concurrent sandboxes never collide. The run is resumable: a
submission whose grading finished (DIR/<id>/status.json says so and results.json parses) is
skipped. One bad submission never stops the batch; its error goes into scores.csv.
"""

from __future__ import annotations

import csv
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import click
import yaml

from autograder.framework.archive import Limits, extract_archive
from autograder.framework.errors import SubmissionError
from autograder.framework.reports import write_atomic
from autograder.framework.rubric import Assignment

METADATA_FILE = "submission_metadata.yml"
PREFIX = "submission_"
STATUS_FILE = "status.json"
RESULTS_FILE = "results.json"
LOG_FILE = "grader.log"  # the grader's stderr
DEFAULT_TIMEOUT = 15 * 60.0  # Gradescope's own default per-submission limit is 10 min
# A whole class's export: far larger than one handin, still bounded against a corrupt zip. No ratio
# limit: one student's well-compressing file must not stop the batch (each handin meets the
# per-handin limits again when it is graded), and the total stays capped.
EXPORT_LIMITS = Limits(max_files=200_000, max_total_bytes=8 << 30, max_file_bytes=100 << 20, max_ratio=float("inf"))
STDERR_KEEP = 2_000  # characters of a failed grader's stderr kept in the error column

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
    skipped: bool = False  # already graded by an earlier run
    seconds: float = 0.0


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
    raise click.ClickException(
        f"no {METADATA_FILE} in {path} or its sub-folders: is this a Gradescope 'Export Submissions' archive?"
    )


def read_export(root: Path) -> list[Submission]:
    """Every submission the metadata lists or a `submission_<id>/` folder holds, sorted by id."""
    meta = yaml.load((root / METADATA_FILE).read_text(encoding="utf-8"), Loader=_RubyTolerantLoader) or {}
    if not isinstance(meta, dict):
        raise click.ClickException(f"{root / METADATA_FILE} is not a mapping of submissions")
    folders = {p.name[len(PREFIX):]: p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX)}
    subs: dict[str, Submission] = {}
    for key, record in meta.items():
        sid = str(key)[len(PREFIX):] if str(key).startswith(PREFIX) else str(key)
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


def open_export(export: Path, out: Path) -> Path:
    """The export's root folder; a zip is first extracted (safely) into out/_export, once."""
    if export.is_dir():
        return find_export_root(export)
    unpacked = out / "_export"
    done = out / "_export.done"
    if not done.exists():  # a rerun reuses the extraction; an interrupted one starts it again
        if unpacked.exists():
            shutil.rmtree(unpacked)
        try:
            extract_archive(export, unpacked, EXPORT_LIMITS)
        except SubmissionError as exc:
            raise click.ClickException(f"cannot read the export: {exc.message}") from None
        done.touch()
    return find_export_root(unpacked)


# ------------------------------------------------------------------------------ grading


def grade_command_argv(assignment: str) -> Command:
    """The default command: this interpreter running `autograder grade` on one submission."""

    def argv(folder: Path, results: Path, slot: int) -> list[str]:
        return [sys.executable, "-m", "autograder", "grade", str(folder), "--results", str(results),
                "--slot", str(slot), "--assignment", assignment, "--quiet"]

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
    if isinstance(tests, list) and tests and all(isinstance(t, dict) and isinstance(t.get("score"), (int, float)) for t in tests):
        return report
    return None


def finished(out_dir: Path) -> dict[str, Any] | None:
    """The results of an earlier run that completed (status ok and a usable results.json), else None.

    grade.py writes a placeholder results.json before grading starts, so results.json alone does
    not prove grading finished: status.json, written after the grader exits, does.
    """
    try:
        status = json.loads((out_dir / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(status, dict) or status.get("returncode") != 0:
        return None
    return load_results(out_dir / RESULTS_FILE)


def grade_one(sub: Submission, out: Path, slot: int, command: Command, timeout: float) -> Result:
    """Grade one submission in a subprocess; every failure becomes Result.error, never an exception."""
    sub_dir = out / sub.id
    sub_dir.mkdir(parents=True, exist_ok=True)
    results = sub_dir / RESULTS_FILE
    previous = finished(sub_dir)
    if previous is not None:
        return _result(sub.id, previous, skipped=True)
    if sub.folder is None:
        return Result(sub.id, error="submission folder missing from the export")
    # A retry starts clean: a report or log left by an earlier, failed run must not pass for this run's.
    for stale in (STATUS_FILE, RESULTS_FILE, LOG_FILE):
        (sub_dir / stale).unlink(missing_ok=True)
    start = time.monotonic()
    argv = list(command(sub.folder, results, slot))
    try:
        # Own session: on timeout we kill the grader and everything it started.
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            _, err = proc.communicate()
            _write_log(sub_dir, err)  # what the grader printed before it was stopped
            return Result(sub.id, error=f"grader timed out after {timeout:g} s", seconds=time.monotonic() - start)
    except OSError as exc:
        return Result(sub.id, error=f"could not start the grader: {exc}")
    seconds = time.monotonic() - start
    stderr = _write_log(sub_dir, err)
    report = load_results(results)
    status = {"returncode": proc.returncode, "seconds": round(seconds, 3), "argv": argv}
    write_atomic(sub_dir / STATUS_FILE, status)  # a rerun must never see half a status file
    if report is None:
        return Result(sub.id, error=f"grader exited with {proc.returncode} and no usable results.json: "
                                    f"{_tail(stderr)}", seconds=seconds)
    result = _result(sub.id, report, seconds=seconds)
    if proc.returncode != 0:  # e.g. an internal grader error: scores exist but a rerun should retry
        result.error = f"grader exited with {proc.returncode}: {_tail(stderr)}"
    return result


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
    return Result(sid, float(score), tasks, error=_submission_problem(tests, score), skipped=skipped, seconds=seconds)


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
    """Save the grader's stderr as <sub_dir>/grader.log; return it as text."""
    stderr = (err or b"").decode("utf-8", "replace").strip()
    (sub_dir / LOG_FILE).write_text(stderr + "\n", encoding="utf-8")
    return stderr


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the grader's whole session."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _tail(text: str) -> str:
    """The end of a grader's stderr, on one line, for the error column."""
    text = " | ".join(line for line in text.splitlines() if line.strip())
    return text[-STDERR_KEEP:] if text else "(no output)"


def regrade(
    export: Path, out: Path, assignment: Assignment, *, jobs: int = 2, command: Command | None = None,
    timeout: float = DEFAULT_TIMEOUT, progress: bool = True,
) -> list[Result]:
    """Grade every submission of `export` into `out`, `jobs` at a time; write out/scores.csv; return the results."""
    out.mkdir(parents=True, exist_ok=True)
    subs = read_export(open_export(export, out))
    command = command or grade_command_argv(assignment.name)
    slots: queue.Queue[int] = queue.Queue()
    for k in range(max(1, jobs)):
        slots.put(k)

    def run(sub: Submission) -> Result:
        slot = slots.get()  # a slot is held by one grader at a time: sandboxes never share one
        try:
            return grade_one(sub, out, slot, command, timeout)
        except Exception as exc:  # a bug here must not stop the batch either
            return Result(sub.id, error=f"regrade failed: {type(exc).__name__}: {exc}")
        finally:
            slots.put(slot)

    results: dict[str, Result] = {}
    bar_cm = click.progressbar(length=len(subs), label=f"Regrading {len(subs)} submissions") if progress else _NoBar()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool, bar_cm as bar:
        futures = {pool.submit(run, s): s for s in subs}
        for future in as_completed(futures):
            r = future.result()
            results[r.id] = r
            bar.update(1)
    ordered = [results[s.id] for s in subs]
    write_scores(out / "scores.csv", subs, ordered, assignment)
    return ordered


class _NoBar:
    """Stands in for click's progress bar when none is wanted (tests, benchmarks)."""

    def __enter__(self) -> "_NoBar":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        """Ignore progress."""


def write_scores(path: Path, subs: Sequence[Submission], results: Sequence[Result], assignment: Assignment) -> None:
    """scores.csv: one row per submission (sorted by id), identities, old and new score, one column per task."""
    task_ids = [t.id for t in assignment.tasks]
    header = ["submission_id", "names", "emails", "sids", "created_at", "old_score", "new_score", "error"]
    header += [f"task {t}" for t in task_ids]
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for s, r in zip(subs, results):
            w.writerow([
                s.id, "; ".join(s.names), "; ".join(s.emails), "; ".join(s.sids), s.created_at,
                _num(s.old_score), _num(r.score), r.error,
                *(_num(r.tasks.get(t)) for t in task_ids),
            ])
    tmp.replace(path)


def _num(x: float | None) -> str:
    """A score for the CSV: '' when unknown, no trailing '.0' noise."""
    return "" if x is None else f"{x:g}"


@click.command("regrade")
@click.argument("export", type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for scores.csv and <submission_id>/results.json (reused on a rerun).")
@click.option("--jobs", type=click.IntRange(min=1), default=2, show_default=True, help="Submissions graded at once.")
@click.option("--assignment", "assignment_name", default="hw1p1", show_default=True)
@click.option("--timeout", type=float, default=DEFAULT_TIMEOUT, show_default=True, help="Seconds per submission.")
def regrade_command(export: Path, out: Path, jobs: int, assignment_name: str, timeout: float) -> None:
    """Regrade every submission of a Gradescope export (zip or folder) and write OUT/scores.csv."""
    from autograder.framework.grade import load_assignment  # the grader's own lookup, one source of truth

    assignment = load_assignment(assignment_name)
    start = time.monotonic()
    results = regrade(export, out, assignment, jobs=jobs, timeout=timeout)
    graded = [r for r in results if not r.skipped and r.score is not None]
    done = [r for r in results if r.skipped]
    errors = [r for r in results if r.error]
    click.echo(f"{len(results)} submissions: {len(graded)} graded, {len(done)} already done, "
               f"{len(errors)} with errors, in {time.monotonic() - start:.1f} s")
    for r in errors[:20]:
        click.echo(f"  {r.id}: {r.error[:200]}", err=True)
    click.echo(f"wrote {out / 'scores.csv'}")
