"""`python -m tools.bench`: run every measurement of this package, print the table, write bench.json."""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click

from autograder.cli.common import assignment_option
from autograder.framework.rubric import Assignment

Figure = dict  # {"name": str, "value": float, "unit": str, "target": str, ...}


def grade_time(assignment: Assignment, repeats: int = 5) -> list[Figure]:
    """Wall time to grade the reference end to end (sandbox on, every test), median of `repeats`."""
    from autograder.framework.grade import grade_submission

    times, outcome = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            start = time.perf_counter()
            outcome = grade_submission(assignment.reference_root, assignment, Path(tmp) / f"r{i}.json")
            times.append(time.perf_counter() - start)
    cases = len(outcome.tests) if outcome is not None else 0
    return [
        {
            "name": "grade_reference_wall",
            "value": round(statistics.median(times), 3),
            "unit": "s",
            "target": "<= 2",
            "detail": f"{cases} test cases, score {outcome.score}/{outcome.max_score}",
        },
    ]


def _figures(assignment: Assignment) -> list[tuple[str, Callable[[], Figure | list[Figure]]]]:
    """The measurements, in the order the table shows them (imported lazily: each may be slow)."""
    from tools.bench import budget, engine, gradcheck, regrade, worker

    return [
        ("grade time", lambda: grade_time(assignment)),
        ("worker overhead", worker.worker_overhead),
        ("gradient check cost", gradcheck.gradcheck_cost),
        ("regrade throughput", lambda: regrade.regrade_throughput(assignment)),
        ("engine overhead", lambda: engine.engine_overhead(assignment)),
        ("time budget", lambda: budget.budget_figures(assignment)),
    ]


def _as_list(result: Figure | list[Figure]) -> list[Figure]:
    return result if isinstance(result, list) else [result]


@click.command()
@assignment_option
@click.option(
    "--json",
    "json_path",
    type=click.Path(path_type=Path),
    default=Path("bench.json"),
    show_default=True,
    help="Where to write the figures.",
)
def main(assignment: Assignment, json_path: Path) -> None:
    """Measure every figure, print the table, write JSON."""
    figures: list[Figure] = []
    for label, measure in _figures(assignment):
        click.echo(f"measuring {label} ...", err=True)
        try:
            figures.extend(_as_list(measure()))
        except Exception as exc:  # one broken benchmark must not hide the others
            figures.append({"name": label, "value": None, "unit": "", "target": "", "error": repr(exc)})
    width = max(len(f["name"]) for f in figures)
    click.echo(f"{'figure':<{width}}  {'value':>10}  {'unit':<6}  target")
    for f in figures:
        value = "ERROR" if f.get("value") is None else f"{f['value']:>10.4g}"
        note = f"  ({f['detail']})" if f.get("detail") else ""
        note += f"  {f['error']}" if f.get("error") else ""
        click.echo(f"{f['name']:<{width}}  {value:>10}  {f['unit']:<6}  {f['target']}{note}")
    json_path.write_text(json.dumps(figures, indent=2) + "\n")
    click.echo(f"wrote {json_path}", err=True)
    if any(f.get("value") is None for f in figures):
        sys.exit(1)


if __name__ == "__main__":
    main()
