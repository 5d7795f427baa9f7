"""grade_submission(): placeholder report -> prepare the handin -> pytest (in-process) -> scores -> report.

The trusted parent runs pytest on the assignment's tests; the student's code runs only in the
sandboxed worker (client.WorkerClient). The submission is never on sys.path nor under pytest's rootdir.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import pkgutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Sequence

import click
import pytest

from autograder.framework import reports
from autograder.framework.archive import prepare_submission
from autograder.framework.fstree import remove_tree
from autograder.framework.client import WorkerClient
from autograder.framework import sandbox
from autograder.framework.sandbox import Limits
from autograder.framework.errors import SubmissionError
from autograder.framework.harness import Harness, InProcessRunner, outcome_from, short_traceback
from autograder.framework.reference_cache import CachedReference, default_cache_dir, fingerprint
from autograder.framework.rubric import Assignment
from autograder.framework.scoreboard import render
from autograder.framework.scoring import TaskScore, TestOutcome, score_tasks, total, zero_scores
from autograder.framework.text import clean

PLACEHOLDER = ("Grading did not finish: the grader stopped before it could score this task "
               "(time limit or crash). Resubmit once; if it happens again, tell course staff.")
GRADER_FAILED = "Grading failed because of an internal grader error (not your fault, tell course staff)."
REFUSED = ("The grader did not run your code: this grading machine lacks a protection the course requires "
           "(a configuration problem on the course's side, not your fault; tell course staff).")


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
    protections: list[str] = field(default_factory=list)  # staff-only: the sandbox lines (never in the report)


class TrustedInProcess(InProcessRunner):
    """The student's package imported into the grader (`grade --no-sandbox --trusted-code`): pdb works,
    nothing is protected. For staff debugging of code they trust, never for grading a class."""

    _own: dict[str, Any] | None = None  # the student's `<package>*` modules between calls

    def run(self, scenario: str, timeout: float | None = None, **kwargs: Any) -> Any:
        """Run the scenario with the student's modules as `<package>` in sys.modules, the reference's
        otherwise: both packages share one name, and their lazy imports must each find their own."""
        ours = lambda: {m: sys.modules[m] for m in list(sys.modules)  # noqa: E731
                        if m == self.package or m.startswith(self.package + ".")}
        theirs = ours()
        for name in theirs:
            del sys.modules[name]
        sys.modules.update(self._own or {})
        try:
            return super().run(scenario, timeout, **kwargs)
        finally:
            self._own = ours()
            for name in self._own:
                del sys.modules[name]
            sys.modules.update(theirs)

    def close(self) -> None:
        """Nothing to stop: no worker."""


@dataclass
class GradingBackend:
    """The harness's providers in the grader: the sandboxed worker and the in-process reference."""

    student: WorkerClient | TrustedInProcess
    reference: InProcessRunner | CachedReference


def grade_submission(
    submission: Path, assignment: Assignment, results_path: Path, fmt: str = "gradescope", *,
    slot: int = 0, metadata: dict[str, Any] | None = None, quiet: bool = True, require: Sequence[str] = (),
    select: Sequence[str] = (), use_sandbox: bool = True,
) -> GradeOutcome:
    """Grade `submission` (folder or archive) and write the `fmt` report to `results_path`.

    A valid report exists at every moment after the first line: a placeholder first, replaced by the
    final report, or by an all-zero "grader failed" one if anything goes wrong (then grader_failed).
    `require` names properties (sandbox.REQUIREMENTS: network, filesystem, uid) without which no
    student code runs: the report then says the grader refused, and the staff lines say why.
    `select` (staff debugging) runs only the tests pytest selects with those arguments (node ids,
    `-k EXPR`); only their tasks are scored. `use_sandbox=False` runs the student's code in this process
    (trusted code only: a TA's pdb session).
    """
    if fmt not in reports.FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(reports.FORMATS)}")
    start = time.monotonic()
    results_path = Path(results_path)
    extra = {"submission_id": metadata["id"]} if metadata and "id" in metadata else {}
    staff: list[str] = []  # the sandbox lines for the staff log

    def finish(scores: list[TaskScore], tests: list[TestOutcome], notes: Sequence[str] = (),
               internal: Sequence[str] = (), failed: bool = False, refused: str = "") -> GradeOutcome:
        # A refused handin (not gradable as handed in) is no attempt on PrairieLearn: format_errors.
        report = reports.build(fmt, scores, execution_time=time.monotonic() - start, notes=notes,
                               gradable=not failed and not refused, extra_data=extra,
                               feedback=assignment.feedback, format_errors=[refused] if refused else ())
        reports.write_atomic(results_path, report)
        earned, possible = total(scores)
        return GradeOutcome(earned, possible, {s.task.id: s.score for s in scores}, tests, report,
                            list(internal), failed, scores, staff)

    finish(zero_scores(assignment.tasks, PLACEHOLDER), [], failed=True)
    try:
        if use_sandbox:
            plan = sandbox.plan_protections(Limits.from_env(), sandbox.worker_ids(slot)[0], Limits().call_timeout)
            staff += plan.staff_lines()
            lacking = plan.lacking(require)
        else:  # staff debugging of trusted code: nothing is protected, so nothing required is held
            staff.append("sandbox: NONE (--no-sandbox: the handin runs inside the grader)")
            lacking = list(require)
        if lacking:
            why = f"refused to run student code: required {', '.join(lacking)} not held on this machine"
            staff.append(f"sandbox: {why}")
            return finish(zero_scores(assignment.tasks, REFUSED), [], internal=[why], failed=True)
        tmp = tempfile.mkdtemp(prefix="ag-submission-")
        try:
            try:
                root = prepare_submission(Path(submission), Path(tmp), assignment.package)
            except SubmissionError as exc:
                return finish(zero_scores(assignment.tasks, exc.message), [], notes=[exc.message], refused=exc.message)
            tests, notes = run_tests(assignment, root, slot=slot, quiet=quiet, select=select, sandbox=use_sandbox)
        finally:
            remove_tree(Path(tmp))  # iterative and never raising, unlike TemporaryDirectory's cleanup
        scores = score_tasks(assignment.tasks, tests, require_all=not select)
        internal = [f"{t.nodeid}: {t.message}" for t in tests if t.internal]
        if internal:
            notes.append(f"{len(internal)} check(s) hit an internal grader error (not your fault); "
                         "please tell course staff.")
        return finish(scores, tests, notes, internal)
    except Exception as exc:  # a broken grader must still leave a valid report behind
        detail = short_traceback(exc)  # no source lines: tests and reference stay out of every output
        print(detail, file=sys.stderr)
        return finish(zero_scores(assignment.tasks, GRADER_FAILED), [], internal=[detail], failed=True)


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


def collect_tests(assignment: Assignment, select: Sequence[str] = ()) -> tuple[int, Harness, str]:
    """Collect (never run) the assignment's tests, only those `select` picks if given: pytest's exit code,
    the harness (one record per collected test, and any rubric-mark problems) and what pytest printed."""
    tests_dir = assignment.tests_dir.resolve()
    # Fixtures never run when collecting: a backend with neither a student nor a reference will do.
    harness = Harness(assignment, SimpleNamespace(student=None, reference=None))  # type: ignore[arg-type]
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            code = run_pytest_isolated([*pytest_args(tests_dir, False, select), "--collect-only"], [harness])
    finally:
        forget_modules_under(tests_dir)
    return int(code), harness, printed.getvalue()


def pytest_args(tests_dir: Path, quiet: bool, select: Sequence[str] = ()) -> list[str]:
    """pytest's command line for grading: isolated_args plus strict marks and the JSON report.

    `select` (from selection_args): absolute node ids replace the tests folder; options (`-k EXPR`) are added.
    """
    isolated = isolated_args(tests_dir)
    paths = [a for a in select if a.startswith("/")]
    if paths:
        isolated = [*paths, *isolated[1:]]
    return [
        *isolated, *(a for a in select if not a.startswith("/")), "--strict-markers",
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


def run_tests(assignment: Assignment, submission_root: Path, *, slot: int = 0, quiet: bool = True,
              select: Sequence[str] = (), sandbox: bool = True) -> tuple[list[TestOutcome], list[str]]:
    """Run the assignment's tests against the submission; (one outcome per test, notes for the report)."""
    tests_dir = assignment.tests_dir.resolve()
    client = WorkerClient(submission_root, assignment.package, assignment.scenarios_file,
                          assignment.data_files, limits=Limits.from_env(), slot=slot) if sandbox \
        else TrustedInProcess(submission_root, assignment.package, assignment.scenarios_file, student=True)
    backend = GradingBackend(client, reference_runner(assignment))
    harness = Harness(assignment, backend, salt=input_salt(submission_root / assignment.package))
    catcher = _JsonReportCatcher()
    try:
        with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
            code = run_pytest_isolated(pytest_args(tests_dir, quiet, select), [harness, catcher])
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
    return tests, []  # the sandbox's protections are for the staff log only (GradeOutcome.protections)


SALT_BUCKETS = 32  # distinct input sets handins are spread over (see input_salt)


def input_salt(package_dir: Path) -> str:
    """The salt of a handin's test inputs: one of SALT_BUCKETS values, picked by a hash of its package's
    files (names and bytes: reference_cache.fingerprint).

    Deterministic per handin (a regrade draws the same inputs) and never "" (the handout's recorded
    answers are for unsalted inputs, so replaying them earns nothing). Buckets rather than one salt per
    handin keep the reference cache useful (each answer is computed at most SALT_BUCKETS times, the
    cache stays bounded and can be warmed); two handins share inputs with probability 1/SALT_BUCKETS.
    """
    # The submission is a private copy by now (prepare_submission): regular files only, no links.
    return f"inputs-{int(fingerprint([package_dir])[:8], 16) % SALT_BUCKETS}"


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
    """The collection errors in a json report, as text for the staff ('' when none): each module and the
    last line of its error, not pytest's traceback (which quotes the tests' source)."""
    failed = [c for c in (report or {}).get("collectors", []) if c.get("outcome") == "failed"]
    return "".join(f"\n{c['nodeid']}: {_last_line(str(c.get('longrepr', '')))}" for c in failed)


def _last_line(text: str) -> str:
    """The last non-blank line of `text`, without pytest's 'E   ' prefix."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1].removeprefix("E").strip()[:500] if lines else "?"


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


def _echo(text: str, err: bool = False) -> None:
    """click.echo that cannot fail on any text, whatever the stream's encoding (e.g. ASCII under LANG=C)."""
    stream = sys.stderr if err else sys.stdout
    encoding = getattr(stream, "encoding", None) or "utf-8"
    click.echo(clean(text).encode(encoding, "backslashreplace").decode(encoding, "replace"), err=err)


def parse_require(text: str) -> list[str]:
    """'network,uid' -> ['network', 'uid']; unknown names are a usage error."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in sandbox.REQUIREMENTS]
    if unknown:
        raise click.BadParameter(f"unknown {', '.join(unknown)}; choose from {', '.join(sandbox.REQUIREMENTS)}",
                                 param_hint="--require")
    return names


GRADE_EXAMPLES = """
\b
Examples:
  autograder grade handin.zip                                  # scoreboard + results.json
  autograder grade handin.zip --format prairielearn --results /grade/results/results.json
  autograder grade handin/ --test test_2_elementwise_hidden.py::test_div --show-hidden --durations
  autograder grade handin/ --test "div and not 3x1" --show-hidden   # a -k expression
  autograder grade handin/ --test test_div --no-sandbox --trusted-code   # in process: pdb works
"""


def selection_args(tests_dir: Path, test: str) -> list[str]:
    """pytest arguments selecting `test`: a node id or test file (found under tests_dir), else a -k expression."""
    path, sep, rest = test.partition("::")
    if sep or path.endswith(".py"):
        direct = tests_dir / path
        found = [direct] if direct.is_file() else sorted(tests_dir.rglob(Path(path).name))
        if not found:
            raise click.BadParameter(f"no test file {path!r} under {tests_dir}", param_hint="--test")
        if len(found) > 1:
            raise click.BadParameter(f"{path!r} matches {len(found)} files; give its path under {tests_dir}",
                                     param_hint="--test")
        return [str(found[0].resolve()) + sep + rest]
    return ["-k", test]


def _validate_slot(ctx: click.Context, param: click.Parameter, value: int) -> int:
    """click callback: refuse a slot that maps to no safe worker uid."""
    from autograder.framework.slots import check_slot

    return check_slot(value)


def _stop_on_sigterm() -> None:
    """SIGTERM (e.g. from a regrade being stopped or killed) stops grading like Ctrl-C, so the
    sandboxed workers are killed by the normal cleanup rather than left running."""
    import signal

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def _print_details(outcome: GradeOutcome, show_hidden: bool, durations: bool) -> None:
    """Staff views: every selected test's full message and output (--show-hidden), timings (--durations)."""
    if show_hidden:
        for t in outcome.tests:
            _echo(f"{'PASSED' if t.passed else 'FAILED'} {t.nodeid}  [task {t.task}, {t.visibility}, "
                       f"{t.duration:.2f} s]")
            if not t.passed:
                _echo("  " + t.message.strip().replace("\n", "\n  "))
            if t.output.strip():
                _echo("  printed:\n    " + t.output.rstrip().replace("\n", "\n    "))
        for detail in outcome.internal_errors:
            _echo(f"INTERNAL GRADER ERROR: {detail.strip()}")
    if durations:
        slowest = sorted(outcome.tests, key=lambda t: -t.duration)
        _echo(f"durations ({len(slowest)} tests, slowest first, total {sum(t.duration for t in slowest):.2f} s):")
        for t in slowest:
            _echo(f"  {t.duration:8.3f} s  {t.nodeid}")


@click.command("grade", epilog=GRADE_EXAMPLES)
@click.argument("submission", type=click.Path(exists=True, path_type=Path))
@click.option("--results", "results_path", type=click.Path(dir_okay=False, path_type=Path), default=Path("results.json"),
              show_default=True, help="File the report is written to (not a folder). Example: --results out/results.json")
@click.option("--format", "fmt", type=click.Choice(reports.FORMATS), default="gradescope", show_default=True,
              help="Report format: Gradescope results.json, PrairieLearn results.json, or Autolab's scores "
                   "line (printed last on stdout). Example: --format autolab")
@click.option("--assignment", "assignment_name", default="hw1p1", show_default=True,
              help="Assignment package under autograder/assignments/. Example: --assignment hw1p1")
@click.option("--slot", type=int, default=0, show_default=True, callback=_validate_slot,
              help="Sandbox slot, 0-999 (parallel graders use distinct slots; the worker uid is "
                   "AUTOGRADER_WORKER_UID_BASE + slot). Example: --slot 3")
@click.option("--metadata", "metadata_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Gradescope's submission_metadata.json (its id is copied into the report's extra_data). "
                   "Example: --metadata /autograder/submission_metadata.json")
@click.option("--quiet/--verbose", default=True, show_default=True,
              help="--verbose also prints pytest's progress and the failing checks' tracebacks. Example: --verbose")
@click.option("--test", "test", default=None, metavar="ID_OR_EXPR",
              help="Run only these tests (hidden ones included): a node id or test file, else a pytest -k "
                   "expression. Only their tasks are scored. Example: --test test_2_elementwise_hidden.py::test_div")
@click.option("--show-hidden", is_flag=True,
              help="Staff view: print every selected test with its full message, what the code printed and "
                   "internal errors, hidden tests included. Example: --show-hidden")
@click.option("--durations", is_flag=True, help="Print each test's time, slowest first. Example: --durations")
@click.option("--no-sandbox", "no_sandbox", is_flag=True,
              help="Run the handin's code inside this process (pdb and breakpoint() work). Refused unless "
                   "--trusted-code is given too. Example: --no-sandbox --trusted-code")
@click.option("--trusted-code", is_flag=True,
              help="Confirms the handin is trusted (e.g. the reference or your own code): required by --no-sandbox, "
                   "which gives the code your privileges. Example: --trusted-code")
@click.option("--require", "require", default="", metavar="LIST",
              help="Comma-separated sandbox properties (network, filesystem, uid) without which the grader "
                   "refuses to run student code. Example: --require network,filesystem,uid")
def grade_command(submission: Path, results_path: Path, fmt: str, assignment_name: str, slot: int,
                  metadata_path: Path | None, quiet: bool, test: str | None, show_hidden: bool, durations: bool,
                  no_sandbox: bool, trusted_code: bool, require: str) -> None:
    """Grade SUBMISSION (a folder or .zip/.tar/.tgz), print the scoreboard and write the report.

    Exit status 0 whenever grading ran, whatever the score (a refused handin included); 1 when the
    grader itself failed (the report is still valid, with the failure explained).
    """
    if no_sandbox and not trusted_code:
        raise click.UsageError("--no-sandbox runs the handin's code inside the grader with your privileges; "
                               "add --trusted-code if you trust this code (never for students' handins in bulk)")
    _stop_on_sigterm()
    required = parse_require(require)
    assignment = load_assignment(assignment_name)
    select = selection_args(assignment.tests_dir.resolve(), test) if test else []
    if select and not collect_tests(assignment, select)[1].records:
        raise click.UsageError(f"no test matches --test {test!r} (a node id, a test file, or a pytest -k expression)")
    outcome = grade_submission(submission, assignment, results_path, fmt, slot=slot,
                               metadata=read_metadata(metadata_path), quiet=quiet and not no_sandbox,
                               select=select, use_sandbox=not no_sandbox, require=required)
    for line in outcome.protections:  # stdout: staff-only on Gradescope; never in the student's report
        _echo(line)
    refused = not outcome.tests and not outcome.grader_failed and outcome.scores
    if refused:  # one message, not one identical scoreboard line per task
        _echo(f"Handin refused, nothing graded: {outcome.scores[0].outcomes[0].message}")
        _echo(f"TOTAL 0/{outcome.max_score:g}")
    else:
        _echo(render(outcome.scores))
    _print_details(outcome, show_hidden, durations)
    _echo(f"report: {results_path}")
    if not show_hidden:
        for detail in outcome.internal_errors:  # grading ran, so exit 0, but staff must see these
            _echo(f"INTERNAL GRADER ERROR: {detail.strip().splitlines()[0] if detail.strip() else '?'}", err=True)
    if fmt == "autolab":  # Autolab shows students the whole output: the cases, then the scores line last
        details = reports.autolab_feedback(outcome.scores, assignment.feedback)
        if details:
            _echo("\n" + details)
        click.echo(reports.json_line(outcome.report))  # Autolab reads the last stdout line
    if outcome.grader_failed:
        sys.exit(1)
