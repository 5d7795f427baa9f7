"""grade_submission(): placeholder report -> prepare the handin -> pytest (in-process) -> scores -> report.

The trusted parent runs pytest on the assignment's tests; the student's code runs only in the
sandboxed worker (client.WorkerClient). The submission is never on sys.path nor under pytest's rootdir.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import json
import os
import pkgutil
import stat
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import click
import pytest

from autograder.framework import reports
from autograder.framework.archive import prepare_submission
from autograder.framework.client import WorkerClient
from autograder.framework.sandbox import Limits
from autograder.framework.errors import SubmissionError
from autograder.framework.harness import Harness, InProcessRunner, outcome_from
from autograder.framework.reference_cache import CachedReference, default_cache_dir, fingerprint
from autograder.framework.rubric import Assignment
from autograder.framework.scoreboard import render
from autograder.framework.scoring import TaskScore, TestOutcome, score_tasks, total, zero_scores

PLACEHOLDER = ("Grading did not finish: the grader stopped before it could score this task "
               "(time limit or crash). Resubmit once; if it happens again, tell course staff.")
GRADER_FAILED = "Grading failed because of an internal grader error (not your fault, tell course staff)."


class GraderFailure(RuntimeError):
    """The grader could not score the submission (a broken test suite, not the student's code)."""


@dataclass
class GradeOutcome:
    """What grading one submission produced (the report has already been written)."""

    score: float
    max_score: float
    tasks: dict[str, float]  # task id -> points earned
    tests: list[TestOutcome]
    report: dict[str, Any]
    internal_errors: list[str] = field(default_factory=list)  # staff-only details
    grader_failed: bool = False  # True when no real scores exist (the report gives 0 everywhere)
    scores: list[TaskScore] = field(default_factory=list)


@dataclass
class GradingBackend:
    """The harness's providers in the grader: the sandboxed worker and the in-process reference."""

    student: WorkerClient
    reference: InProcessRunner | CachedReference


def grade_submission(
    submission: Path, assignment: Assignment, results_path: Path, fmt: str = "gradescope", *,
    slot: int = 0, metadata: dict[str, Any] | None = None, quiet: bool = True,
) -> GradeOutcome:
    """Grade `submission` (folder or archive) and write the `fmt` report to `results_path`.

    A valid report exists at every moment after the first line: a placeholder first, replaced by the
    final report, or by an all-zero "grader failed" one if anything goes wrong (then grader_failed).
    """
    if fmt not in reports.FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(reports.FORMATS)}")
    start = time.monotonic()
    results_path = Path(results_path)
    extra = {"submission_id": metadata["id"]} if metadata and "id" in metadata else {}

    def finish(scores: list[TaskScore], tests: list[TestOutcome], notes: Sequence[str] = (),
               internal: Sequence[str] = (), failed: bool = False) -> GradeOutcome:
        report = reports.build(fmt, scores, execution_time=time.monotonic() - start, notes=notes,
                               gradable=not failed, extra_data=extra)
        reports.write_atomic(results_path, report)
        earned, possible = total(scores)
        return GradeOutcome(earned, possible, {s.task.id: s.score for s in scores}, tests, report,
                            list(internal), failed, scores)

    finish(zero_scores(assignment.tasks, PLACEHOLDER), [], failed=True)
    try:
        protect_grader_files(assignment)
        with tempfile.TemporaryDirectory(prefix="ag-submission-") as tmp:
            try:
                root = prepare_submission(Path(submission), Path(tmp), assignment.package)
            except SubmissionError as exc:
                return finish(zero_scores(assignment.tasks, exc.message), [])
            tests, notes = run_tests(assignment, root, slot=slot, quiet=quiet)
        scores = score_tasks(assignment.tasks, tests)
        internal = [f"{t.nodeid}: {t.message}" for t in tests if t.internal]
        if internal:
            notes.append(f"{len(internal)} check(s) hit an internal grader error (not your fault); "
                         "please tell course staff.")
        return finish(scores, tests, notes, internal)
    except Exception:  # a broken grader must still leave a valid report behind
        detail = traceback.format_exc()
        print(detail, file=sys.stderr)
        return finish(zero_scores(assignment.tasks, GRADER_FAILED), [], internal=[detail], failed=True)


def protect_grader_files(assignment: Assignment) -> None:
    """When root, chmod go-rwx the reference root and the tests dir.

    The worker runs as another, unprivileged uid: without these bits it could read the hidden tests
    and the reference solution. Only the two directories change (their contents become unreachable).
    """
    if os.geteuid() != 0:
        return
    for folder in (assignment.reference_root, assignment.tests_dir):
        if folder.is_dir():
            os.chmod(folder, stat.S_IMODE(folder.stat().st_mode) & ~0o077)


class _JsonReportCatcher:
    """Keeps pytest-json-report's report object (the plugin drops it at unconfigure)."""

    def __init__(self) -> None:
        self.report: dict[str, Any] | None = None

    @pytest.hookimpl(optionalhook=True)
    def pytest_json_modifyreport(self, json_report: dict[str, Any]) -> None:
        """Store the finished report."""
        self.report = json_report


def isolated_args(tests_dir: Path) -> list[str]:
    """The assignment's tests only, isolated from any ini file, outer conftest.py or cache."""
    return [str(tests_dir), f"--rootdir={tests_dir}", f"--confcutdir={tests_dir}", "-c", os.devnull,
            "-p", "no:cacheprovider", "--import-mode=importlib"]


def pytest_args(tests_dir: Path, quiet: bool) -> list[str]:
    """pytest's command line for grading: isolated_args plus strict marks and the JSON report."""
    return [
        *isolated_args(tests_dir), "--strict-markers",
        # Checks raise CheckFailed, never bare asserts: rewriting ~100 modules per run is wasted time.
        "--assert=plain",
        "--json-report", "--json-report-file=none", "--no-header", "-q",
        *(["-q", "--tb=no", "-rN", "-p", "no:warnings"] if quiet else ["--tb=short"]),
    ]


def run_pytest_isolated(args: list[str], plugins: list[Any]) -> int | pytest.ExitCode:
    """pytest.main with only the plugins grading needs.

    Whatever else is installed (hypothesis's plugin costs ~2 s to import) stays out: plugin
    autoloading is off for this call, and pytest-json-report is loaded by name.
    """
    saved = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        return pytest.main(["-p", "pytest_jsonreport.plugin", *args], plugins=plugins)
    finally:
        if saved is None:
            del os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved


def run_tests(assignment: Assignment, submission_root: Path, *, slot: int = 0,
              quiet: bool = True) -> tuple[list[TestOutcome], list[str]]:
    """Run the assignment's tests against the submission; (one outcome per test, notes for the report)."""
    tests_dir = assignment.tests_dir.resolve()
    client = WorkerClient(submission_root, assignment.package, assignment.scenarios_file,
                          assignment.data_files, limits=Limits.from_env(), slot=slot)
    backend = GradingBackend(client, reference_runner(assignment))
    harness = Harness(assignment, backend, salt=input_salt(submission_root / assignment.package))
    catcher = _JsonReportCatcher()
    try:
        with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
            code = run_pytest_isolated(pytest_args(tests_dir, quiet), [harness, catcher])
        missing = list(client.missing_protections)
    finally:
        client.close()
        forget_modules_under(tests_dir)
    if harness.problems:
        raise GraderFailure("\n".join(harness.problems))
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or catcher.report is None:
        raise GraderFailure(f"pytest exited with {code!r}{collection_errors(catcher.report)}")
    tests = [json_test_outcome(t) for t in catcher.report.get("tests", [])]
    for t in catcher.report.get("tests", []):
        if t.get("metadata", {}).get("traceback"):
            print(f"internal grader error in {t['nodeid']}:\n{t['metadata']['traceback']}", file=sys.stderr)
    notes = [f"Sandbox protections not available on this machine: {', '.join(missing)}."] if missing else []
    return tests, notes


SALT_BUCKETS = 32  # distinct input sets handins are spread over (see input_salt)


def input_salt(package_dir: Path) -> str:
    """The salt of a handin's test inputs: one of SALT_BUCKETS values, picked by a hash of its package's
    regular files (names and bytes).

    Deterministic per handin (a regrade draws the same inputs) and never "" (the handout's recorded
    answers are for unsalted inputs, so replaying them earns nothing). Buckets rather than one salt per
    handin keep the reference cache useful (each answer is computed at most SALT_BUCKETS times, the
    cache stays bounded and can be warmed); two handins share inputs with probability 1/SALT_BUCKETS.
    """
    h = hashlib.sha256(b"handin-inputs\0")
    for folder, dirs, files in os.walk(package_dir):  # does not follow symbolic links
        dirs.sort()
        for name in sorted(files):
            path = Path(folder, name)
            if "__pycache__" in path.parts or path.is_symlink() or not path.is_file():  # regular files only
                continue
            data = path.read_bytes()
            # fsencode: a file name need not be valid UTF-8
            h.update(os.fsencode(path.relative_to(package_dir)) + f"\0{len(data)}\0".encode() + data)
    return f"inputs-{int(h.hexdigest()[:8], 16) % SALT_BUCKETS}"


def reference_runner(assignment: Assignment) -> InProcessRunner | CachedReference:
    """The in-process reference, behind a disk cache of its answers when that cache is safe.

    Only when root: the worker then runs as another uid and cannot write the cache (root's home, or
    a 0700 folder). Without the uid drop the worker could poison answers for the next submission.
    """
    runner = InProcessRunner(assignment.reference_root, assignment.package, assignment.scenarios_file)
    if os.geteuid() != 0 and not os.environ.get("AUTOGRADER_CACHE_DIR"):
        return runner
    version = fingerprint([assignment.reference_root / assignment.package, assignment.scenarios_file,
                           *assignment.data_files])
    return CachedReference(runner, default_cache_dir() / assignment.name, version)


def json_test_outcome(test: dict[str, Any]) -> TestOutcome:
    """A pytest-json-report test entry (with the harness's metadata) as a TestOutcome."""
    duration = sum(test.get(phase, {}).get("duration", 0.0) for phase in ("setup", "call", "teardown"))
    return outcome_from(test["nodeid"], test["outcome"] == "passed", duration, test["metadata"])


def collection_errors(report: dict[str, Any] | None) -> str:
    """The collection errors in a json report, as text for the staff ('' when none)."""
    failed = [c for c in (report or {}).get("collectors", []) if c.get("outcome") == "failed"]
    return "".join(f"\n{c['nodeid']}: {c.get('longrepr', '')}" for c in failed)


def forget_modules_under(folder: Path) -> None:
    """Drop modules imported from `folder` so the next in-process session imports fresh copies."""
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve().is_relative_to(folder):
            del sys.modules[name]


def load_assignment(name: str) -> Assignment:
    """autograder.assignments.<name>.assignment.ASSIGNMENT; a bad name lists the known ones."""
    try:
        return importlib.import_module(f"autograder.assignments.{name}.assignment").ASSIGNMENT
    except ModuleNotFoundError as exc:
        import autograder.assignments as pkg

        known = ", ".join(m.name for m in pkgutil.iter_modules(pkg.__path__) if m.ispkg)
        raise click.BadParameter(f"no assignment {name!r} (known: {known})", param_hint="--assignment") from exc


def read_metadata(path: Path | None) -> dict[str, Any] | None:
    """The submission metadata JSON object, or None (with a warning) when it is absent or unreadable."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # metadata is optional: never a reason not to grade
        print(f"warning: ignoring unreadable metadata {path}: {exc}", file=sys.stderr)
        return None
    return data if isinstance(data, dict) else None


@click.command("grade")
@click.argument("submission", type=click.Path(exists=True, path_type=Path))
@click.option("--results", "results_path", type=click.Path(path_type=Path), default=Path("results.json"),
              show_default=True, help="Where the report goes.")
@click.option("--format", "fmt", type=click.Choice(reports.FORMATS), default="gradescope", show_default=True)
@click.option("--assignment", "assignment_name", default="hw1p1", show_default=True)
@click.option("--slot", type=int, default=0, show_default=True, help="Sandbox slot (parallel graders use distinct slots).")
@click.option("--metadata", "metadata_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Gradescope's submission_metadata.json (its id is copied into the report's extra_data).")
@click.option("--quiet/--verbose", default=True, show_default=True,
              help="--verbose also prints pytest's progress and the failing checks' tracebacks.")
def grade_command(submission: Path, results_path: Path, fmt: str, assignment_name: str, slot: int,
                  metadata_path: Path | None, quiet: bool) -> None:
    """Grade SUBMISSION (a folder or .zip/.tar/.tgz), print the scoreboard and write the report.

    Exit status 0 whenever grading ran, whatever the score; 1 when the grader itself failed
    (the report is still valid, with the failure explained).
    """
    assignment = load_assignment(assignment_name)
    outcome = grade_submission(submission, assignment, results_path, fmt, slot=slot,
                               metadata=read_metadata(metadata_path), quiet=quiet)
    click.echo(render(outcome.scores))
    click.echo(f"report: {results_path}")
    for detail in outcome.internal_errors:  # grading ran, so exit 0, but staff must see these
        click.echo(f"INTERNAL GRADER ERROR: {detail.strip().splitlines()[-1] if detail.strip() else '?'}", err=True)
    if fmt == "autolab":
        click.echo(reports.json_line(outcome.report))  # Autolab reads the last stdout line
    if outcome.grader_failed:
        sys.exit(1)
