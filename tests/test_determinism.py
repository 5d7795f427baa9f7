"""Determinism (issue 6): grading the same submission again gives the same report, apart from timings.

A partial submission (the reference with Mul/Div.backward broken, so there are passes, failures and
messages) is graded on the task-2 suite: 3 times in the default suite, 20 times under --run-slow.
Cases are drawn from an rng seeded by each test's node id, so there is no seed to vary; the
reference/handout extremes are covered by test_hostile's baselines.
"""

from __future__ import annotations

import os

import pytest

from hostile import broken
from hostile.harness import grade_many, make_mini_tests

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="graded with the uid drop, as CI does (root)")

TIMING_KEYS = {"execution_time"}


def strip_timings(report: dict) -> dict:
    """The report without wall-clock fields."""
    return {k: v for k, v in report.items() if k not in TIMING_KEYS}


def grade_repeatedly(tmp_path_factory, times: int) -> list[dict]:
    """Grade one partial submission `times` times (two graders at once); the reports, timings removed."""
    mini = make_mini_tests(tmp_path_factory.mktemp("mini"))
    base = tmp_path_factory.mktemp("determinism")
    sub_dir = base / "src"
    sub_dir.mkdir()
    submission = broken.transformed("nan_gradients")(sub_dir)
    jobs = []
    for i in range(times):
        work = base / f"run{i}"
        work.mkdir()
        jobs.append((f"run{i}", submission, work, {"tests_dir": mini}))
    results = grade_many(jobs)
    assert all(g.report is not None for g in results.values())
    return [strip_timings(results[f"run{i}"].report) for i in range(times)]


def assert_identical(reports: list[dict]) -> None:
    """All reports equal the first; the first has passes and failures (so equality means something)."""
    first = reports[0]
    scores = {t["score"] for t in first["tests"]}
    assert len(scores) > 1 and 0 < first["score"] < sum(t["max_score"] for t in first["tests"])
    for i, r in enumerate(reports[1:], start=1):
        assert r == first, f"run {i} differs from run 0"


def test_three_grades_identical(tmp_path_factory):
    """3 grades of the same partial submission: identical reports apart from timings."""
    assert_identical(grade_repeatedly(tmp_path_factory, 3))


@pytest.mark.slow
def test_twenty_grades_identical(tmp_path_factory):
    """20 grades (slow; `pytest --run-slow` or AUTOGRADER_RUN_SLOW=1)."""
    assert_identical(grade_repeatedly(tmp_path_factory, 20))
