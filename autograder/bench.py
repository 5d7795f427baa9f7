"""`make bench`: one table of the project's performance figures, each beside its target.

Each figure comes from a small module that measures one thing (bench_*.py); this file only runs
them, prints the table and writes bench.json so figures can be compared over time.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import click

Figure = dict  # {"name": str, "value": float, "unit": str, "target": str, ...}


def grade_time(repeats: int = 5) -> list[Figure]:
    """Wall time to grade the reference end to end (sandbox on, every test), median of `repeats`."""
    from autograder.assignments.hw1p1.assignment import ASSIGNMENT
    from autograder.framework.grade import grade_submission

    times, outcome = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            start = time.perf_counter()
            outcome = grade_submission(ASSIGNMENT.reference_root, ASSIGNMENT, Path(tmp) / f"r{i}.json")
            times.append(time.perf_counter() - start)
    cases = len(outcome.tests) if outcome is not None else 0
    return [
        {"name": "grade_reference_wall", "value": round(statistics.median(times), 3), "unit": "s",
         "target": "<= 2", "detail": f"{cases} test cases, score {outcome.score}/{outcome.max_score}"},
    ]


def _figures() -> list[tuple[str, Callable[[], Figure | list[Figure]]]]:
    """The measurements, in the order the table shows them (imported lazily: each may be slow)."""
    from autograder import bench_budget, bench_engine, bench_gradcheck, bench_regrade, bench_worker

    return [
        ("grade time", grade_time),
        ("worker overhead", bench_worker.worker_overhead),
        ("gradient check cost", bench_gradcheck.gradcheck_cost),
        ("regrade throughput", bench_regrade.regrade_throughput),
        ("engine overhead", bench_engine.engine_overhead),
        ("time budget", bench_budget.budget_figures),
    ]


def _as_list(result: Figure | list[Figure]) -> list[Figure]:
    return result if isinstance(result, list) else [result]


@click.command()
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=Path("bench.json"),
              show_default=True, help="Where to write the figures.")
def main(json_path: Path) -> None:
    """Measure every figure, print the table, write JSON."""
    figures: list[Figure] = []
    for label, measure in _figures():
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
