"""The time budget (budget.py, client.py): scaled deadlines, the per-task cut-off after repeated
timeouts, the total budget with its "not run" messages, import waits of restarted workers counted
against the call, and a correct but slow handin keeping full marks. Toy assignment, small budgets."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autograder.framework import sandbox
from autograder.framework.budget import HARD_FACTOR, WALL_FACTOR, TimedReference, TimeKeeper, call_deadline, call_kind
from autograder.framework.client import WorkerClient
from autograder.framework.errors import StudentNotRun, StudentTimeout
from autograder.framework.grade import GradeOutcome, grade_submission
from autograder.framework.reference_cache import CachedReference
from autograder.framework.rubric import TimeBudget
from autograder.framework.sandbox import Limits
from conftest import Toy, write_toy

SLOT = 12  # a sandbox slot of its own (its own worker uid)

# Every function of the toy package loops forever.
LOOPS = {
    "arith": "def add(a, b):\n    while True:\n        pass\n\n\ndef mul(a, b):\n    while True:\n        pass\n",
    "power": "def square(x):\n    while True:\n        pass\n",
}

# Five more checks of task 1, so that a cut-off has checks left to skip, and one of another kind
# (scenario "mul") that a cut-off of the "add" checks must leave alone.
MORE_ADD = """
import numpy as np
import pytest

from autograder.framework.compare import CheckFailed


@pytest.mark.rubric(task="1")
@pytest.mark.parametrize("n", [2, 4, 5, 6, 7])
def test_add_more(student, reference, rng, n):
    a, b = rng.standard_normal(n), rng.standard_normal(n)
    got, want = student.run("add", a=a, b=b), reference.run("add", a=a, b=b)
    if not np.allclose(got["out"], want["out"]):
        raise CheckFailed("add: wrong values")


@pytest.mark.rubric(task="1")
def test_add_task_also_checks_mul(student, reference, rng):
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    if not np.allclose(student.run("mul", a=a, b=b)["out"], reference.run("mul", a=a, b=b)["out"]):
        raise CheckFailed("mul: wrong values")
"""


def budgeted(toy: Toy, **budget: Any) -> Toy:
    """The toy with its assignment's time budget replaced."""
    return Toy(toy.root, dataclasses.replace(toy.assignment, budget=TimeBudget(**budget)))


def grade(toy: Toy, submission: Path, tmp_path: Path, schema) -> tuple[GradeOutcome, float]:
    """(outcome, wall seconds); the report on disk is valid Gradescope JSON and equals the returned one."""
    results = tmp_path / "results.json"
    start = time.monotonic()
    outcome = grade_submission(submission, toy.assignment, results, slot=SLOT)
    wall = time.monotonic() - start
    report = json.loads(results.read_text())
    schema(report)
    assert report == outcome.report and not outcome.grader_failed and not outcome.internal_errors
    return outcome, wall


# ---- the clock alone (no worker) --------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_deadline_is_the_scaled_reference_time_between_the_floor_and_the_mark() -> None:
    budget = TimeBudget(total=90, floor=0.5, factor=50)
    assert call_deadline(budget, 5.0, None) == 5.0  # reference time unknown (the handout): the mark
    assert call_deadline(budget, 5.0, 0.0001) == 0.5  # a fast reference: the floor
    assert call_deadline(budget, 5.0, 0.02) == pytest.approx(1.0)  # 50 x 20 ms
    assert call_deadline(budget, 5.0, 0.5) == 5.0  # never above the test's mark
    assert call_deadline(budget, 0.2, 0.0001) == 0.2  # a mark below the floor wins


def test_a_calls_kind_is_its_scenario_and_text_arguments() -> None:
    """A loop in Add.backward must not cut off Sub's checks: op="add" and op="sub" are different kinds."""
    x = np.zeros(3)
    assert call_kind("op_grad", {"op": "add", "inputs": [x], "upstream": x}) == "op_grad[op=add]"
    assert call_kind("op_grad", {"op": "sub", "inputs": [x]}) != call_kind("op_grad", {"op": "add", "inputs": [x]})
    assert call_kind("linear", {"x": x, "n": 3}) == "linear"
    keeper = TimeKeeper(TimeBudget(total=90, timeouts_in_a_row=2), clock=FakeClock())
    for case in ("test_add[a]", "test_add[b]"):
        keeper.record("2.2", "op_grad[op=add]", case, 0.5, timed_out=True)
    with pytest.raises(StudentNotRun):
        keeper.deadline("2.2", "op_grad[op=add]", 5.0, 0.0001)
    keeper.deadline("2.2", "op_grad[op=sub]", 5.0, 0.0001)  # Sub's checks still run


def test_repeated_timeouts_cut_off_only_their_kind_of_call_in_their_task_and_a_success_resets_the_count() -> None:
    keeper = TimeKeeper(TimeBudget(total=90, timeouts_in_a_row=2), clock=FakeClock())
    keeper.record("4.1", "linear", "test_linear[a]", 0.5, timed_out=True)
    keeper.record("4.1", "linear", "test_linear[b]", 0.01, timed_out=False)  # a passing call between: not "in a row"
    keeper.record("4.1", "linear", "test_linear[c]", 0.5, timed_out=True)
    keeper.check("4.1", "linear")
    keeper.record("4.1", "op_grad", "test_matmul[a]", 0.01, timed_out=False)  # another kind: no reset
    keeper.record("4.1", "linear", "test_linear[d]", 0.5, timed_out=True)
    with pytest.raises(StudentNotRun) as info:
        keeper.deadline("4.1", "linear", 5.0, 0.0001)
    assert info.value.message.startswith(
        "not run: in task 4.1, the checks of this kind (scenario 'linear') timed out "
        "2 times in a row (in test_linear[c], test_linear[d])"
    )
    keeper.deadline("4.1", "op_grad", 5.0, 0.0001)  # the task's other kinds of call still run
    keeper.deadline("2.3", "linear", 5.0, 0.0001)  # and other tasks
    keeper.record("4.1", "op_grad", "test_matmul[b]", 0.5, timed_out=True)
    keeper.record("4.1", "linear_forward", "test_linear_forward", 0.5, timed_out=True)
    keeper.deadline("4.1", "op_grad", 5.0, 0.0001)  # 3 in a row in the task
    keeper.record("4.1", "op_grad", "test_matmul[c]", 0.5, timed_out=True)
    with pytest.raises(StudentNotRun) as info:  # 4 = twice timeouts_in_a_row: the whole task stops
        keeper.deadline("4.1", "graph", 5.0, 0.0001)
    assert info.value.message.startswith(
        "not run: task 4.1 timed out 4 times in a row (in test_linear[d], "
        "test_matmul[b], test_linear_forward, test_matmul[c]), so the rest"
    )


def test_the_end_of_the_budget_clips_deadlines_then_refuses_calls_naming_where_the_time_went() -> None:
    clock = FakeClock()
    keeper = TimeKeeper(TimeBudget(total=20, floor=0.5, factor=50), started=clock.now, clock=clock)
    end = keeper.end
    assert end == pytest.approx(clock.now + 20 - 1.0)  # 5% kept back for the checks left and the report
    keeper.record("1.2", "graph_backward", "test_backward[x]", 6.0, timed_out=True)
    keeper.record("8", "train_digits", "test_train", 11.0, timed_out=True)
    keeper.record("3.1", "op_grad", "test_sum", 0.1, timed_out=False)
    clock.now = end - 0.3 * HARD_FACTOR  # 0.3 s of deadline left: the call's wall clock must end in time
    limit = keeper.deadline("3.1", "op_grad", 5.0, 0.0001)
    assert limit.clipped and limit.seconds == pytest.approx(0.3)
    clock.now = end - 0.2 * HARD_FACTOR  # less than half the floor left: not worth starting a call
    with pytest.raises(StudentNotRun) as info:
        keeper.deadline("3.1", "op_grad", 5.0, 0.0001)
    assert info.value.message.startswith(
        "not run: the time budget for grading (20 s) was spent on earlier timeouts "
        "in task 8 (1 timeout, 11.0 s) and task 1.2 (1 timeout, 6.0 s)"
    )


def test_the_reference_is_run_once_for_the_deadline_and_the_test() -> None:
    class Reference:
        def __init__(self) -> None:
            self.calls = 0

        def run_timed(self, scenario: str, **kwargs: Any) -> tuple[Any, float]:
            self.calls += 1
            return {"out": kwargs["x"] * 2}, 0.25

        def run(self, scenario: str, **kwargs: Any) -> Any:
            return self.run_timed(scenario, **kwargs)[0]

    inner = Reference()
    timed = TimedReference(inner)
    x = np.arange(3.0)
    assert timed.seconds("double", {"x": x}) == 0.25
    assert np.array_equal(timed.run("double", x=x.copy())["out"], 2 * x) and inner.calls == 1
    timed.run("double", x=x)  # answered already: computed again
    assert inner.calls == 2


def test_the_cache_keeps_the_reference_time_with_the_answer(tmp_path: Path) -> None:
    class Reference:
        def __init__(self) -> None:
            self.calls = 0

        def run_timed(self, scenario: str, **kwargs: Any) -> tuple[Any, float]:
            self.calls += 1
            return {"n": kwargs["n"]}, 0.2

        def function(self, scenario: str, **kwargs: Any) -> Any:
            raise AssertionError("not used")

    ref = Reference()
    assert CachedReference(ref, tmp_path, "v1").run_timed("s", n=1) == ({"n": 1}, 0.2)  # fills the cache
    again = CachedReference(ref, tmp_path, "v1")  # a new grader process
    assert again.run_timed("s", n=1) == ({"n": 1}, 0.2) and again.run("s", n=1) == {"n": 1}
    assert ref.calls == 1 and again.hits == 2


# ---- real grades (sandboxed worker) -----------------------------------------------------------------


def test_checks_that_keep_timing_out_are_cut_off_and_the_others_keep_their_marks(
    make_toy, tmp_path: Path, schema
) -> None:
    toy = budgeted(make_toy({"hidden/test_more.py": MORE_ADD}), floor=0.3, timeouts_in_a_row=2)
    loops_add = LOOPS["arith"].split("\n\n\ndef mul")[0] + "\n\n\ndef mul(a, b):\n    return a * b\n"
    outcome, wall = grade(toy, toy.submission("loops_add", arith=loops_add), tmp_path, schema)
    assert outcome.tasks == {"1": 0.5, "2": 6.0, "3": 2.0}  # task 1: only its "mul" check (1 of 8) passed
    add = [t for t in outcome.tests if t.task == "1" and "mul" not in t.nodeid]
    timed_out = [t for t in add if t.message.startswith("timed out after 0.3 s (an infinite loop")]
    cut = [
        t
        for t in add
        if t.message.startswith(
            "not run: in task 1, the checks of this kind (scenario 'add') timed out 2 times in a row"
        )
    ]
    assert len(add) == 7 and len(timed_out) == 2 and len(cut) == 5
    assert all(t.case in cut[0].message for t in timed_out)  # the message names the checks that timed out
    assert "scenario 'add') timed out 2 times in a row" in "".join(e["output"] for e in outcome.report["tests"])
    assert wall < 15  # two timeouts of 0.3 s CPU (0.9 s wall at most), not seven


def test_a_slow_loris_handin_is_graded_within_the_budget_with_not_run_messages(
    make_toy, tmp_path: Path, schema
) -> None:
    # Every function loops, and importing the package burns CPU: each restart's import is charged to the
    # next call. No per-task cut-off here (it would end things sooner): the total budget must.
    slow_import = "import time\n_end = time.thread_time() + 0.4\nwhile time.thread_time() < _end:\n    pass\n"
    toy = budgeted(make_toy({"hidden/test_more.py": MORE_ADD}), total=4.0, floor=0.3, timeouts_in_a_row=100)
    handin = toy.submission("loris", __init__=slow_import, **LOOPS)
    outcome, wall = grade(toy, handin, tmp_path, schema)
    assert outcome.score == 0.0 and len(outcome.tests) == 11
    messages = [t.message for t in outcome.tests]
    timed_out = [m for m in messages if m.startswith("timed out after")]
    not_run = [
        m
        for m in messages
        if m.startswith("not run: the time budget for grading (4 s) was spent on earlier timeouts in task")
    ]
    assert timed_out and not_run and len(timed_out) + len(not_run) == 11, messages
    assert wall < 4.0 + 3.0  # the budget, plus the checks left (refused at once) and the report


def test_a_restarted_workers_import_counts_against_the_next_call(tmp_path: Path) -> None:
    (tmp_path / "sub" / "toy").mkdir(parents=True)
    (tmp_path / "sub" / "toy" / "__init__.py").write_text(
        textwrap.dedent("""
        import time
        _end = time.thread_time() + 1.0  # a slow import: 1.0 s of CPU every time the package is imported
        while time.thread_time() < _end:
            pass

        def spin():
            while True:
                pass
    """)
    )
    (tmp_path / "scenarios.py").write_text("def call(lib, fn):\n    return getattr(lib, fn)()\n")
    with WorkerClient(
        tmp_path / "sub", "toy", tmp_path / "scenarios.py", limits=Limits(import_timeout=60), slot=SLOT
    ) as client:
        with pytest.raises(StudentTimeout, match=r"^timed out after 0\.3 s \(an infinite loop"):
            client.run("call", fn="spin", timeout=0.3)  # the first import has its own allowance
        importing = client.worker_pid  # the worker restarted after the timeout, importing again
        start = time.monotonic()
        with pytest.raises(StudentTimeout) as info:
            client.run("call", fn="spin", timeout=0.3)
        waited, used = time.monotonic() - start, sandbox.cpu_seconds_used(importing)
        assert "while importing your package 'toy'" in info.value.message
        assert "had not finished importing; its first import took" in info.value.message
        # The call did not wait for the 1.0 s (CPU) import: the worker used the interpreter's start (not
        # charged to the call) and the call's 0.3 s of CPU, and the wall clock stayed within the call's
        # 0.9 s plus that start.
        assert used < 0.8 and waited < 3.0, (used, waited)
        assert client.worker_pid == importing  # the import goes on for the next call


# A task-3 check whose reference computes for ~40 ms of CPU: 20 times that (~0.8 s) is well above the
# test budget's 0.3 s floor, so only a deadline scaled from the reference's time lets it pass.
CHURN = "def churn(n):\n    total = 0\n    for i in range(n):\n        total += i * i % 7\n    return total\n"
SLOW_CHURN = (
    CHURN.replace("def churn(n):", "def _churn(n):")
    + '''

import time


def churn(n):
    """The same answer, with 20 times the CPU time."""
    start = time.thread_time()
    out = _churn(n)
    end = time.thread_time() + 19 * (time.thread_time() - start)
    while time.thread_time() < end:
        pass
    return out
'''
)
CHURN_SCENARIO = """

def churn(lib, n):
    return {"out": _mod(lib, "work").churn(n)}
"""
CHURN_TEST = """
import pytest

from autograder.framework.compare import CheckFailed


@pytest.mark.rubric(task="3")
@pytest.mark.parametrize("n", [1_000_000])
def test_churn(student, reference, n):
    if student.run("churn", n=n)["out"] != reference.run("churn", n=n)["out"]:
        raise CheckFailed("churn: wrong value")
"""


@pytest.mark.parametrize("factor, keeps_full_marks", [(50, True), (5, False)])
def test_a_correct_handin_20_times_slower_keeps_full_marks(
    tmp_path: Path, schema, factor: float, keeps_full_marks: bool
) -> None:
    toy = write_toy(tmp_path / "toy", {"hidden/test_churn.py": CHURN_TEST})
    (toy.assignment.reference_root / "toylib" / "work.py").write_text(CHURN)
    with open(toy.assignment.scenarios_file, "a") as f:
        f.write(CHURN_SCENARIO)
    toy = budgeted(toy, floor=0.3, factor=factor)
    outcome, _ = grade(toy, toy.submission("slow", work=SLOW_CHURN), tmp_path, schema)
    churn = [t for t in outcome.tests if "test_churn" in t.nodeid]
    if keeps_full_marks:  # the deadline is 50 x the reference's CPU time: 20 x fits
        assert outcome.score == outcome.max_score and len(churn) == 1
    else:  # the same handin against a deadline of 5 x the reference's time (the control: scaling is real)
        assert [t.passed for t in churn] == [False] and outcome.tasks["3"] < 2.0
        assert all(t.message.startswith("timed out after") for t in churn)


WAITS_AND_WORKS = """
import time

def sleep():
    time.sleep(100)

def ok():
    return 1

def work():
    end = time.thread_time() + 0.6  # 0.6 s of CPU
    while time.thread_time() < end:
        pass
    return 1
"""


def _client(tmp_path: Path) -> WorkerClient:
    (tmp_path / "sub" / "toy").mkdir(parents=True)
    (tmp_path / "sub" / "toy" / "__init__.py").write_text(WAITS_AND_WORKS)
    (tmp_path / "scenarios.py").write_text("def call(lib, fn):\n    return getattr(lib, fn)()\n")
    return WorkerClient(tmp_path / "sub", "toy", tmp_path / "scenarios.py", slot=SLOT)


def test_a_call_that_waits_instead_of_computing_is_stopped_by_the_wall_clock(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        client.run("call", fn="ok", timeout=5)  # the first import is not part of the measured call
        start = time.monotonic()
        with pytest.raises(StudentTimeout, match=r"^timed out after 0\.6 s of wall-clock time, using little CPU"):
            client.run("call", fn="sleep", timeout=0.2)
        assert time.monotonic() - start < 0.2 * HARD_FACTOR


def test_a_starved_worker_is_not_stopped_while_it_waits_for_a_cpu(tmp_path: Path) -> None:
    """A correct call on a busy machine: its CPU time is within the limit, its wall time is not."""
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("needs sched_setaffinity to crowd one CPU")
    cpu = min(os.sched_getaffinity(0))
    with _client(tmp_path) as client:
        client.run("call", fn="ok", timeout=5)  # started and imported
        os.sched_setaffinity(client.worker_pid, {cpu})
        # Five CPU burners on the worker's CPU, each in its own session as the worker is (the scheduler
        # shares a CPU between sessions): the worker gets a sixth of it at most.
        burners = [
            subprocess.Popen(
                [sys.executable, "-c", f"import os\nos.sched_setaffinity(0, {{{cpu}}})\nwhile True:\n    pass\n"],
                start_new_session=True,
            )
            for _ in range(5)
        ]
        try:
            start = time.monotonic()
            assert client.run("call", fn="work", timeout=1.0) == 1  # 0.6 s of CPU: within its 1 s
            took = time.monotonic() - start
        finally:
            for p in burners:
                p.kill()
                p.wait()
    assert took > 1.0 * WALL_FACTOR, took  # starved past the cap for code that waits, and still passed
