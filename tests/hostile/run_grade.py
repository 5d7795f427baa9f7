"""Grade one handin against a subset of hw1p1's tests, in its own process (as the CLI would).

    python tests/hostile/run_grade.py SUBMISSION --results R --slot N [--tests-dir D] [--tasks 2.1,2.2]

Own process so that attacks which read the parent's command line find `--results`, so that two
graders can run at once (slots 5 and 6), and so that the grader can be run as another user.
Prints the sandbox staff lines, then one JSON line: {"score": ..., "max_score": ..., "grader_failed": ...}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.framework.grade import grade_submission


def main() -> None:
    """Parse the arguments, grade, print the summary line."""
    p = argparse.ArgumentParser()
    p.add_argument("submission", type=Path)
    p.add_argument("--results", type=Path, required=True)
    p.add_argument("--slot", type=int, required=True)
    p.add_argument("--tests-dir", type=Path, default=None)
    p.add_argument("--tasks", default="")
    p.add_argument("--reference-root", type=Path, default=None)
    a = p.parse_args()
    assignment = ASSIGNMENT
    if a.tests_dir is not None:
        wanted = set(a.tasks.split(","))
        assignment = dataclasses.replace(assignment, tests_dir=a.tests_dir,
                                         tasks=tuple(t for t in ASSIGNMENT.tasks if t.id in wanted))
    if a.reference_root is not None:
        assignment = dataclasses.replace(assignment, reference_root=a.reference_root)
    out = grade_submission(a.submission, assignment, a.results, slot=a.slot)
    for line in out.protections:  # the staff log, as the CLI prints it: tests read which mechanism held
        print(line)
    print(json.dumps({"score": out.score, "max_score": out.max_score, "grader_failed": out.grader_failed}))


if __name__ == "__main__":
    main()
