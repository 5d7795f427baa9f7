"""Regrade throughput: submissions graded per minute on a synthetic Gradescope export.

Every submission is a full copy of the reference (the most expensive handin: every check runs to
completion), graded by `autograder regrade` with one job per core, as a TA would run it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from autograder.framework.regrade import regrade
from autograder.framework.rubric import Assignment

TARGET_PER_MINUTE = 60.0


def synthetic_export(assignment: Assignment, root: Path, n: int) -> Path:
    """An export folder with `n` reference handins and their Ruby-symbol metadata."""
    export = root / "assignment_1_export"
    export.mkdir(parents=True)
    meta = []
    for i in range(1, n + 1):
        shutil.copytree(
            assignment.reference_root / assignment.package,
            export / f"submission_{i}" / assignment.package,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        meta.append(
            f"submission_{i}:\n  :submitters:\n  - :name: Student {i}\n    :sid: '{i}'\n"
            f"    :email: s{i}@example.edu\n  :score: 0.0\n"
        )
    (export / "submission_metadata.yml").write_text("".join(meta))
    return export


def regrade_throughput(assignment: Assignment, n: int = 12, jobs: int | None = None) -> dict:
    """Submissions per minute regrading `n` reference handins with `jobs` parallel graders (default: cores)."""
    jobs = jobs or os.cpu_count() or 2
    with tempfile.TemporaryDirectory(prefix="bench-regrade-") as tmp:
        export = synthetic_export(assignment, Path(tmp), n)
        start = time.perf_counter()
        results = regrade(export, Path(tmp) / "out", assignment, jobs=jobs, progress=False)
        seconds = time.perf_counter() - start
    failed = [r.id for r in results if r.error or r.score != assignment.max_score]
    return {
        "name": "regrade_throughput",
        "value": round(n / seconds * 60.0, 1),
        "unit": "subm/min",
        "target": f">= {TARGET_PER_MINUTE:g}",
        "detail": f"{n} reference handins, {jobs} jobs, {seconds:.1f} s"
        + (f"; NOT full marks: {', '.join(failed)}" if failed else ""),
    }


if __name__ == "__main__":  # python -m tools.bench.regrade ASSIGNMENT [N [JOBS]]
    from autograder.cli.common import load_assignment

    json.dump(regrade_throughput(load_assignment(sys.argv[1]), *(int(a) for a in sys.argv[2:4])), sys.stdout, indent=2)
    print()
