"""`autograder grade` (one handin) and `autograder check` (the pre-deploy check)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import click

from autograder.cli.common import assignment_option, echo, usage_errors, validate_slot
from autograder.framework import reports, sandbox
from autograder.framework.check import run_check
from autograder.framework.grade import GradeOutcome, grade_submission, read_metadata
from autograder.framework.options import parse_require, selection_args
from autograder.framework.pytest_session import collect_tests
from autograder.framework.rubric import Assignment
from autograder.framework.scoreboard import render

GRADE_EXAMPLES = """
\b
Examples:
  autograder grade handin.zip --assignment hw1p1               # scoreboard + results.json
  autograder grade handin.zip --format prairielearn --results /grade/results/results.json
  autograder grade handin/ --test test_2_elementwise_hidden.py::test_div --show-hidden --durations
  autograder grade handin/ --test "div and not 3x1" --show-hidden   # a -k expression
  autograder grade handin/ --test test_div --no-sandbox --trusted-code   # in process: pdb works
  autograder grade handin/ --assignment ~/course/lab3          # an assignment folder outside this repository
"""


def _stop_on_sigterm() -> None:
    """SIGTERM (e.g. from a regrade being stopped or killed) stops grading like Ctrl-C, so the
    sandboxed workers are killed by the normal cleanup rather than left running."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def _print_details(outcome: GradeOutcome, show_hidden: bool, durations: bool) -> None:
    """Staff views: every selected test's full message and output (--show-hidden), timings (--durations)."""
    if show_hidden:
        for t in outcome.tests:
            echo(
                f"{'PASSED' if t.passed else 'FAILED'} {t.nodeid}  [task {t.task}, {t.visibility}, {t.duration:.2f} s]"
            )
            if not t.passed:
                echo("  " + t.message.strip().replace("\n", "\n  "))
            if t.output.strip():
                echo("  printed:\n    " + t.output.rstrip().replace("\n", "\n    "))
        for detail in outcome.internal_errors:
            echo(f"INTERNAL GRADER ERROR: {detail.strip()}")
    if durations:
        slowest = sorted(outcome.tests, key=lambda t: -t.duration)
        echo(f"durations ({len(slowest)} tests, slowest first, total {sum(t.duration for t in slowest):.2f} s):")
        for t in slowest:
            echo(f"  {t.duration:8.3f} s  {t.nodeid}")


@click.command("grade", epilog=GRADE_EXAMPLES)
@click.argument("submission", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--results",
    "results_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("results.json"),
    show_default=True,
    help="File the report is written to (not a folder). Example: --results out/results.json",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(reports.FORMATS),
    default="gradescope",
    show_default=True,
    help="Report format: Gradescope results.json, PrairieLearn results.json, or Autolab's scores "
    "line (printed last on stdout). Example: --format autolab",
)
@assignment_option
@click.option(
    "--slot",
    type=int,
    default=0,
    show_default=True,
    callback=validate_slot,
    help="Sandbox slot, 0-999 (parallel graders use distinct slots; the worker uid is "
    "AUTOGRADER_WORKER_UID_BASE + slot). Example: --slot 3",
)
@click.option(
    "--metadata",
    "metadata_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Gradescope's submission_metadata.json (its id is copied into the report's extra_data). "
    "Example: --metadata /autograder/submission_metadata.json",
)
@click.option(
    "--quiet/--verbose",
    default=True,
    show_default=True,
    help="--verbose also prints pytest's progress and the failing checks' tracebacks. Example: --verbose",
)
@click.option(
    "--test",
    "test",
    default=None,
    metavar="ID_OR_EXPR",
    help="Run only these tests (hidden ones included): a node id or test file, else a pytest -k "
    "expression. Only their tasks are scored. Example: --test test_2_elementwise_hidden.py::test_div",
)
@click.option(
    "--show-hidden",
    is_flag=True,
    help="Staff view: print every selected test with its full message, what the code printed and "
    "internal errors, hidden tests included. Example: --show-hidden",
)
@click.option("--durations", is_flag=True, help="Print each test's time, slowest first. Example: --durations")
@click.option(
    "--no-sandbox",
    "no_sandbox",
    is_flag=True,
    help="Run the handin's code inside this process (pdb and breakpoint() work). Refused unless "
    "--trusted-code is given too. Example: --no-sandbox --trusted-code",
)
@click.option(
    "--trusted-code",
    is_flag=True,
    help="Confirms the handin is trusted (e.g. the reference or your own code): required by --no-sandbox, "
    "which gives the code your privileges. Example: --trusted-code",
)
@click.option(
    "--require",
    "require",
    default="",
    metavar="LIST",
    help="Comma-separated sandbox properties (network, filesystem, uid) without which the grader "
    "refuses to run student code. Example: --require network,filesystem,uid",
)
@usage_errors
def grade_command(
    submission: Path,
    results_path: Path,
    fmt: str,
    assignment: Assignment,
    slot: int,
    metadata_path: Path | None,
    quiet: bool,
    test: str | None,
    show_hidden: bool,
    durations: bool,
    no_sandbox: bool,
    trusted_code: bool,
    require: str,
) -> None:
    """Grade SUBMISSION (a folder or .zip/.tar/.tgz), print the scoreboard and write the report.

    Exit status 0 whenever grading ran, whatever the score (a refused handin included); 1 when the
    grader itself failed (the report is still valid, with the failure explained).
    """
    if no_sandbox and not trusted_code:
        raise click.UsageError(
            "--no-sandbox runs the handin's code inside the grader with your privileges; "
            "add --trusted-code if you trust this code (never for students' handins in bulk)"
        )
    _stop_on_sigterm()
    required = parse_require(require, sandbox.REQUIREMENTS)
    select = selection_args(assignment.tests_dir.resolve(), test) if test else []
    if select and not collect_tests(assignment, select)[1].records:
        raise click.UsageError(f"no test matches --test {test!r} (a node id, a test file, or a pytest -k expression)")
    outcome = grade_submission(
        submission,
        assignment,
        results_path,
        fmt,
        slot=slot,
        metadata=read_metadata(metadata_path),
        quiet=quiet and not no_sandbox,
        select=select,
        use_sandbox=not no_sandbox,
        require=required,
    )
    for line in outcome.protections:  # stdout: staff-only on Gradescope; never in the student's report
        echo(line)
    refused = not outcome.tests and not outcome.grader_failed and outcome.scores
    if refused:  # one message, not one identical scoreboard line per task
        echo(f"Handin refused, nothing graded: {outcome.scores[0].outcomes[0].message}")
        echo(f"TOTAL 0/{outcome.max_score:g}")
    else:
        echo(render(outcome.scores))
    _print_details(outcome, show_hidden, durations)
    echo(f"report: {results_path}")
    if not show_hidden:
        for detail in outcome.internal_errors:  # grading ran, so exit 0, but staff must see these
            echo(f"INTERNAL GRADER ERROR: {detail.strip().splitlines()[0] if detail.strip() else '?'}", err=True)
    if fmt == "autolab":  # Autolab shows students the whole output: the cases, then the scores line last
        details = reports.autolab_feedback(outcome.scores, assignment.feedback)
        if details:
            echo("\n" + details)
        click.echo(reports.json_line(outcome.report))  # Autolab reads the last stdout line
    if outcome.grader_failed:
        sys.exit(1)


@click.command(
    "check",
    epilog="""
\b
Examples:
  autograder check --assignment hw1p1   # before make gradescope / make handout (they run it first)
  autograder check --slot 3 --assignment ~/course/lab3
""",
)
@assignment_option
@click.option(
    "--slot",
    type=int,
    default=0,
    show_default=True,
    callback=validate_slot,
    help="Sandbox slot for the check's grades (0-999). Example: --slot 3",
)
def check_command(assignment: Assignment, slot: int) -> None:
    """Check the grader before deploying it: tests collect with rubric marks, the reference earns
    full marks, the bare handout 0. Exit status 1 on any problem."""
    problems = run_check(assignment, slot, click.echo)
    if problems:
        click.echo(f"check FAILED: {len(problems)} problem(s); fix them before shipping the grader", err=True)
        sys.exit(1)
    click.echo("check passed")
