"""grade_submission(): placeholder report -> prepare the handin -> pytest (in-process) -> scores -> report.

The trusted parent runs pytest on the assignment's tests; the student's code runs only in the
sandboxed worker (client.WorkerClient). The submission is never on sys.path nor under pytest's rootdir.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from autograder.framework import reports, sandbox
from autograder.framework.archive import prepare_submission
from autograder.framework.client import WorkerClient
from autograder.framework.errors import SubmissionError
from autograder.framework.fstree import remove_tree
from autograder.framework.harness import Harness, InProcessRunner, outcome_from, short_traceback
from autograder.framework.pytest_session import (
    JsonReportCatcher,
    collection_errors,
    forget_modules_under,
    pytest_args,
    run_pytest_isolated,
)
from autograder.framework.reference_cache import CachedReference, default_cache_dir, fingerprint
from autograder.framework.rubric import Assignment
from autograder.framework.sandbox import Limits
from autograder.framework.scoring import TaskScore, TestOutcome, score_tasks, total, zero_scores

PLACEHOLDER = (
    "Grading did not finish: the grader stopped before it could score this task "
    "(time limit or crash). Resubmit once; if it happens again, tell course staff."
)
GRADER_FAILED = "Grading failed because of an internal grader error (not your fault, tell course staff)."
REFUSED = (
    "The grader did not run your code: this grading machine lacks a protection the course requires "
    "(a configuration problem on the course's side, not your fault; tell course staff)."
)


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

        def ours() -> dict[str, Any]:
            return {
                m: sys.modules[m] for m in list(sys.modules) if m == self.package or m.startswith(self.package + ".")
            }

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
    submission: Path,
    assignment: Assignment,
    results_path: Path,
    fmt: str = "gradescope",
    *,
    slot: int = 0,
    metadata: dict[str, Any] | None = None,
    quiet: bool = True,
    require: Sequence[str] = (),
    select: Sequence[str] = (),
    use_sandbox: bool = True,
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

    def finish(
        scores: list[TaskScore],
        tests: list[TestOutcome],
        notes: Sequence[str] = (),
        internal: Sequence[str] = (),
        failed: bool = False,
        refused: str = "",
    ) -> GradeOutcome:
        # A refused handin (not gradable as handed in) is no attempt on PrairieLearn: format_errors.
        report = reports.build(
            fmt,
            scores,
            execution_time=time.monotonic() - start,
            notes=notes,
            gradable=not failed and not refused,
            extra_data=extra,
            feedback=assignment.feedback,
            format_errors=[refused] if refused else (),
        )
        reports.write_atomic(results_path, report)
        earned, possible = total(scores)
        return GradeOutcome(
            earned, possible, {s.task.id: s.score for s in scores}, tests, report, list(internal), failed, scores, staff
        )

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
            tests = run_tests(assignment, root, slot=slot, quiet=quiet, select=select, sandbox=use_sandbox)
        finally:
            remove_tree(Path(tmp))  # iterative and never raising, unlike TemporaryDirectory's cleanup
        scores = score_tasks(assignment.tasks, tests, require_all=not select)
        internal = [f"{t.nodeid}: {t.message}" for t in tests if t.internal]
        notes: list[str] = []  # the sandbox's protections are for the staff log only (GradeOutcome.protections)
        if internal:
            notes.append(
                f"{len(internal)} check(s) hit an internal grader error (not your fault); please tell course staff."
            )
        return finish(scores, tests, notes, internal)
    except Exception as exc:  # a broken grader must still leave a valid report behind
        detail = short_traceback(exc)  # no source lines: tests and reference stay out of every output
        print(detail, file=sys.stderr)
        return finish(zero_scores(assignment.tasks, GRADER_FAILED), [], internal=[detail], failed=True)


def run_tests(
    assignment: Assignment,
    submission_root: Path,
    *,
    slot: int = 0,
    quiet: bool = True,
    select: Sequence[str] = (),
    sandbox: bool = True,
) -> list[TestOutcome]:
    """Run the assignment's tests against the submission; one outcome per test."""
    tests_dir = assignment.tests_dir.resolve()
    client = (
        WorkerClient(
            submission_root,
            assignment.package,
            assignment.scenarios_file,
            assignment.data_files,
            limits=Limits.from_env(),
            slot=slot,
        )
        if sandbox
        else TrustedInProcess(submission_root, assignment.package, assignment.scenarios_file, student=True)
    )
    backend = GradingBackend(client, reference_runner(assignment))
    harness = Harness(assignment, backend, salt=input_salt(submission_root / assignment.package))
    catcher = JsonReportCatcher()
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
    return tests


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
    version = fingerprint(
        [assignment.reference_root / assignment.package, assignment.scenarios_file, *assignment.data_files]
    )
    return CachedReference(runner, default_cache_dir() / assignment.name, version)


def json_test_outcome(test: dict[str, Any]) -> TestOutcome:
    """A pytest-json-report test entry (with the harness's metadata) as a TestOutcome."""
    duration = sum(test.get(phase, {}).get("duration", 0.0) for phase in ("setup", "call", "teardown"))
    return outcome_from(test["nodeid"], test["outcome"] == "passed", duration, test["metadata"])


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
