"""The grading clock: each call's deadline, the cut-off after repeated timeouts, the total time budget.

A handin whose code loops must not wait out a fixed deadline on every check (that took 20 minutes
for the first assignment, a 300-check autograd homework), and a correct but slow one must not lose points. So:

- a call's deadline scales with the reference's measured time for the same call:
  max(floor, factor x reference time), at most the test's `deadline` mark. In the grader's worker the
  deadline is CPU time (a busy machine does not fail correct code), and a call that waits instead of
  computing is stopped after WALL_FACTOR times its deadline of wall clock (client.py);
- after `timeouts_in_a_row` timeouts in a row of one kind of call in one task (the same scenario with
  the same text arguments, e.g. op="add": call_kind), that task's remaining calls of that kind are
  not run (a loop in Add.backward must not cost Sub's checks): an infinite loop there would only time out
  again. Other kinds go on (e.g. a task's MatMul checks run even when its Linear checks,
  which go through the student's engine, loop), until the task has twice as many timeouts in a row;
- no call starts or runs past the end of the total budget; the checks left are "not run", each with
  a message naming the tasks whose timeouts spent the time.

The time counted is wall time around each call into student code, so worker restarts and import
waits count too. Stdlib plus rubric/errors/channel only: shipped in the student handout with the harness.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autograder.framework.channel import call_key
from autograder.framework.errors import StudentNotRun
from autograder.framework.rubric import TimeBudget

# A call whose deadline is d CPU seconds may take WALL_FACTOR x d of wall clock not spent waiting for a
# CPU (code that sleeps or blocks), and at most HARD_FACTOR x d of wall clock in all (a starved worker).
WALL_FACTOR = 3.0
HARD_FACTOR = 10.0
# Part of the total kept back for what follows the last call: the checks left (each refused at
# once), the scores and the report. Measured at about a second for a suite of 237 checks.
RESERVE_FRACTION = 0.05
RESERVE_MAX_SECONDS = 5.0
MEMO_ENTRIES = 8  # reference answers computed for timing and not yet asked for by the test


def call_deadline(budget: TimeBudget, ceiling: float, reference_seconds: float | None) -> float:
    """max(floor, factor x reference_seconds), at most `ceiling`; `ceiling` when the reference time is unknown."""
    if reference_seconds is None:
        return ceiling
    return min(ceiling, max(budget.floor, budget.factor * reference_seconds))


@dataclass
class TaskClock:
    """What one task's calls into student code cost."""

    seconds: float = 0.0
    timeouts: int = 0
    timeout_seconds: float = 0.0
    in_a_row: dict[str, list[str]] = field(default_factory=dict)  # scenario -> checks of its current run of timeouts
    task_in_a_row: list[str] = field(default_factory=list)  # the task's current run of timeouts, any scenario


@dataclass(frozen=True)
class Deadline:
    """One call's deadline; `clipped` when the end of the budget made it shorter than the call deserves."""

    seconds: float
    clipped: bool


def call_kind(scenario: str, kwargs: dict[str, Any]) -> str:
    """The kind of a call, for the cut-off: its scenario and its text arguments (which operation, which
    loss, which reduction), e.g. "op_grad[op=add]". Arrays and numbers are data, not kind."""
    words = [f"{k}={v}" for k, v in sorted(kwargs.items()) if isinstance(v, str)]
    return f"{scenario}[{', '.join(words)}]" if words else scenario


class TimeKeeper:
    """Hands out deadlines and keeps the per-task and total accounts of one grading session."""

    def __init__(
        self, budget: TimeBudget, started: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.budget, self._clock = budget, clock
        reserve = min(RESERVE_MAX_SECONDS, RESERVE_FRACTION * budget.total)
        self.end = (clock() if started is None else started) + budget.total - reserve
        self.tasks: dict[str, TaskClock] = {}

    def remaining(self) -> float:
        """Seconds left for calls into student code."""
        return self.end - self._clock()

    def check(self, task: str, scenario: str | None = None, smallest: float | None = None) -> None:
        """Raise StudentNotRun when `scenario` was cut off in `task`, or when the budget left cannot give a
        call `smallest` seconds (default: half the floor) with even its hard wall-clock cap ending in time."""
        clock = self.tasks.get(task)
        if clock is not None and len(clock.task_in_a_row) >= 2 * self.budget.timeouts_in_a_row:
            raise StudentNotRun(self.cut_off_message(task, None))
        if clock is not None and len(clock.in_a_row.get(scenario or "", ())) >= self.budget.timeouts_in_a_row:
            raise StudentNotRun(self.cut_off_message(task, scenario or ""))
        if self._left() < (self.budget.floor / 2 if smallest is None else smallest):
            raise StudentNotRun(
                f"not run: {self.spent_message()}. This check counts as failed; it will run once "
                f"those checks finish in time."
            )

    def deadline(self, task: str, scenario: str, ceiling: float, reference_seconds: float | None) -> Deadline:
        """The deadline of the next call of `scenario` in `task` (StudentNotRun when it must not run at
        all): cut short near the end of the budget, never below half of its due (or of the floor)."""
        wanted = call_deadline(self.budget, ceiling, reference_seconds)
        self.check(task, scenario, min(wanted, self.budget.floor) / 2)
        left = self._left()
        return Deadline(min(wanted, left), left < wanted)

    def _left(self) -> float:
        """The longest deadline a call may get now: even its hard wall-clock cap ends within the budget."""
        return self.remaining() / HARD_FACTOR

    def record(self, task: str, scenario: str, case: str, seconds: float, timed_out: bool) -> None:
        """Account one call of `scenario` in `task` (in check `case`) that took `seconds` of wall time."""
        clock = self.tasks.setdefault(task, TaskClock())
        clock.seconds += seconds
        run = clock.in_a_row.setdefault(scenario, [])
        if timed_out:
            clock.timeouts += 1
            clock.timeout_seconds += seconds
            run.append(case)
            clock.task_in_a_row.append(case)
        else:
            run.clear()
            clock.task_in_a_row.clear()

    def cut_off_message(self, task: str, scenario: str | None) -> str:
        """Why the rest of `task`'s calls of `scenario` (None: all of the task's calls) are not run."""
        clock = self.tasks[task]
        run = clock.task_in_a_row if scenario is None else clock.in_a_row[scenario]
        what = (
            f"task {task} timed out {len(run)} times in a row"
            if scenario is None
            else f"in task {task}, the checks of this kind (scenario {scenario!r}) timed out {len(run)} times in a row"
        )
        cases = ", ".join(dict.fromkeys(run))
        return (
            f"not run: {what} (in {cases}), so the rest of them were skipped to keep grading within the time "
            f"budget. This check counts as failed: fix the infinite loop or slow code those timeouts point to, "
            f"and it will run."
        )

    def spent_message(self) -> str:
        """Where the total budget went, naming the tasks that spent most of it."""
        head = f"the time budget for grading ({self.budget.total:g} s) was spent"
        timed = sorted(((t, c) for t, c in self.tasks.items() if c.timeouts), key=lambda tc: -tc[1].timeout_seconds)
        if timed:
            parts = [
                f"task {t} ({c.timeouts} timeout{'s' * (c.timeouts != 1)}, {c.timeout_seconds:.1f} s)"
                for t, c in timed[:3]
            ]
            return f"{head} on earlier timeouts in {_join(parts)}"
        slow = sorted(self.tasks.items(), key=lambda tc: -tc[1].seconds)[:3]
        if slow:
            parts = [f"task {t} ({c.seconds:.1f} s)" for t, c in slow]
            return f"{head} by earlier checks that ran slowly, mostly in {_join(parts)}"
        return head


def _join(parts: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


class TimedReference:
    """The `reference` the tests see: measures the reference's time for a call before the student's
    call is made (for its deadline), and hands that same answer to the test's own `reference.run`.

    Only references with `run_timed(scenario, **kwargs) -> (value, seconds)` are timed (the grader's
    in-process and cached ones); a recorded reference (the handout's) is not, and calls keep their ceiling.
    """

    def __init__(self, reference: Any) -> None:
        self._reference = reference
        self._memo: OrderedDict[str, Any] = OrderedDict()

    def seconds(self, scenario: str, kwargs: dict[str, Any]) -> float | None:
        """The reference's time for `scenario(**kwargs)`, or None when it cannot be measured."""
        timed = getattr(self._reference, "run_timed", None)
        if timed is None:
            return None
        try:
            key = call_key(scenario, kwargs)
            value, seconds = timed(scenario, **kwargs)
        except Exception:  # not plain data, or the reference raises: the test's own call will say so
            return None
        self._memo[key] = value
        while len(self._memo) > MEMO_ENTRIES:
            self._memo.popitem(last=False)
        return seconds

    def run(self, scenario: str, **kwargs: Any) -> Any:
        """The reference's answer (computed once: taken from the timing run when there was one)."""
        if self._memo:
            try:
                return self._memo.pop(call_key(scenario, kwargs))
            except (KeyError, TypeError):
                pass
        return self._reference.run(scenario, **kwargs)

    def function(self, scenario: str, **kwargs: Any) -> Callable[..., Any]:
        """The reference's scenario as a function, for numerical checks (never timed)."""
        return self._reference.function(scenario, **kwargs)

    def forget(self) -> None:
        """Drop answers the last test never asked for."""
        self._memo.clear()
