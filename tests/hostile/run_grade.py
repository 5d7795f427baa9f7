"""Grade one handin against a subset of hw1p1's tests, in its own process (as the CLI would).

    python tests/hostile/run_grade.py SUBMISSION --results R --slot N [--tests-dir D] [--tasks 2.1,2.2]

Own process so that attacks which read the parent's command line find `--results`, so that two
graders can run at once (slots 5 and 6), and so that the grader can be run as another user.
Prints the sandbox staff lines, then one JSON line: {"score": ..., "max_score": ..., "grader_failed": ...,
"maxrss_mib": ...} (maxrss_mib: the grading process's own peak resident memory, VmHWM, workers not included).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
from pathlib import Path

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.framework.grade import grade_submission


def _peak_mib() -> float:
    """This process's peak resident memory in MiB: VmHWM, which starts afresh at exec (ru_maxrss keeps
    the peak of the process that forked us, e.g. a big pytest run), else ru_maxrss."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
        assignment = dataclasses.replace(
            assignment, tests_dir=a.tests_dir, tasks=tuple(t for t in ASSIGNMENT.tasks if t.id in wanted)
        )
    if a.reference_root is not None:
        assignment = dataclasses.replace(assignment, reference_root=a.reference_root)
    out = grade_submission(a.submission, assignment, a.results, slot=a.slot)
    for line in out.protections:  # the staff log, as the CLI prints it: tests read which mechanism held
        print(line)
    peak = _peak_mib()
    print(
        json.dumps(
            {
                "score": out.score,
                "max_score": out.max_score,
                "grader_failed": out.grader_failed,
                "maxrss_mib": round(peak, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
