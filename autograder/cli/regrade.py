"""`autograder regrade`: regrade a whole class from a Gradescope export (framework/regrade.py does the work)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from autograder.cli.common import assignment_option, usage_errors
from autograder.framework.regrade import DEFAULT_TIMEOUT, Interrupted, RegradeError, parse_due, regrade, summary_lines
from autograder.framework.rubric import Assignment
from autograder.framework.sandbox.slots import parse_slots

EXAMPLES = """
\b
Examples:
  autograder regrade export.zip --assignment hw1p1 --out regrade-out --jobs 2
  autograder regrade export.zip --assignment hw1p1 --out regrade-out --force   # regrade everything again
  autograder regrade export/ --assignment hw1p1 --out out --jobs 4 --slots 8-11   # beside another regrade on 0-3
  autograder regrade export.zip --assignment hw1p1 --out out --due 2026-02-14T23:59-05:00
"""


def _progress_bar(count: int) -> Any:
    """click's progress bar for `count` submissions."""
    return click.progressbar(length=count, label=f"Regrading {count} submissions")


@click.command("regrade", epilog=EXAMPLES)
@click.argument("export", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for scores.csv, gradescope_scores.csv, report.html and <id>/results.json; reused "
    "by a rerun, made private (0700). Example: --out regrade-out",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Submissions graded at once (about one per core). Example: --jobs 4",
)
@click.option(
    "--slots",
    "slots_text",
    default=None,
    metavar="A-B|BASE",
    help="Sandbox slots for the jobs: a range with at least JOBS slots, or a first slot "
    "[default: 0-(JOBS-1)]. Two regrades on one machine need disjoint slots. Example: --slots 4-7",
)
@click.option(
    "--force",
    is_flag=True,
    help="Regrade every submission, even those whose fingerprint "
    "(grader, tests, reference, handin) is unchanged. Example: --force",
)
@assignment_option
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds one submission may take before its grader is killed. Example: --timeout 600",
)
@click.option(
    "--due",
    default=None,
    metavar="DATETIME",
    help="Due date for the lateness columns (ISO 8601 with its time-zone offset, which is required), "
    "overriding the assignment's. "
    "Example: --due 2026-02-14T23:59:00-05:00",
)
@click.option(
    "--report/--no-report",
    default=True,
    show_default=True,
    help="Write the class report (report.html, report.md) after grading. Example: --no-report",
)
@usage_errors
def regrade_command(
    export: Path,
    out: Path,
    jobs: int,
    slots_text: str | None,
    force: bool,
    assignment: Assignment,
    timeout: float,
    due: str | None,
    report: bool,
) -> None:
    """Regrade every submission of a Gradescope export (zip or folder) into OUT.

    A rerun regrades only what changed (and says why); Ctrl-C stops within seconds and still writes
    OUT/scores.csv. Exit status: 0 when every submission was graded, 1 when some could not be,
    130 when interrupted.
    """
    slots = parse_slots(slots_text, jobs) if slots_text is not None else None
    due_at = parse_due(due) if due is not None else None
    start = time.monotonic()
    try:
        results = regrade(
            export,
            out,
            assignment,
            jobs=jobs,
            timeout=timeout,
            slots=slots,
            force=force,
            due=due_at,
            progress=_progress_bar,
        )
    except RegradeError as exc:
        raise click.ClickException(str(exc)) from None
    except Interrupted as stop:
        done = sum(r.status != "not graded" for r in stop.results)
        click.echo(
            f"\ninterrupted: every grader stopped; {done} of {len(stop.results)} submissions have a "
            f"result in {out / 'scores.csv'}; rerun the same command to finish",
            err=True,
        )
        sys.exit(130)
    for line in summary_lines(results):
        click.echo(line)
    click.echo(f"in {time.monotonic() - start:.1f} s; wrote {out / 'scores.csv'} and {out / 'gradescope_scores.csv'}")
    if report:
        from autograder.framework.class_report import write_class_report  # TA-only; matplotlib optional

        for line in write_class_report(out, assignment):
            click.echo(line)
    if any(r.score is None for r in results):
        sys.exit(1)
