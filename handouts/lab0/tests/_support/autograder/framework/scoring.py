"""Per-test outcomes -> per-task scores (pure; standard library only, shipped in the handout too)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from autograder.framework.rubric import Task

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


class ScoringError(ValueError):
    """The outcomes cannot be scored against the task table (a course-staff mistake, not the student's)."""


@dataclass(frozen=True)
class TestOutcome:
    """The graded result of one pytest test."""

    __test__ = False  # not a pytest test class, despite the name

    nodeid: str  # "" for a pseudo-outcome that only carries a message (see zero_scores)
    task: str
    weight: float
    visibility: str
    passed: bool
    message: str = ""  # student-readable failure message; "" when passed
    output: str = ""  # what the student's code printed during the test (capped)
    duration: float = 0.0
    internal: bool = False  # failed because of the grader, not the student

    @property
    def case(self) -> str:
        """Short case id: the node id without its file path, e.g. 'test_mul[shape0]'."""
        return self.nodeid.split("::", 1)[-1]


@dataclass(frozen=True)
class TaskScore:
    """One task's score and the outcomes it was computed from."""

    task: Task
    score: float
    outcomes: tuple[TestOutcome, ...] = field(default=())

    @property
    def max_score(self) -> float:
        """The task's points."""
        return float(self.task.points)

    @property
    def failures(self) -> tuple[TestOutcome, ...]:
        """Outcomes that did not pass, in test order."""
        return tuple(o for o in self.outcomes if not o.passed)

    @property
    def status(self) -> str:
        """PASS (every test passed), PARTIAL (some did) or FAIL (none did, or no tests ran)."""
        if self.outcomes and not self.failures:
            return "PASS"
        if len(self.failures) < len(self.outcomes):
            return "PARTIAL"
        return "FAIL"


def weighted_score(points: float, outcomes: Iterable[TestOutcome], of: Iterable[TestOutcome] | None = None) -> float:
    """points * (passed weight of `outcomes`) / (total weight of `of`, default `outcomes`), 2 decimals."""
    outcomes = list(outcomes)
    total = sum(o.weight for o in (outcomes if of is None else of))
    if total <= 0:
        return 0.0
    passed = sum(o.weight for o in outcomes if o.passed)
    return round(points * passed / total, 2)


def score_tasks(tasks: Sequence[Task], outcomes: Iterable[TestOutcome], *, require_all: bool = True) -> list[TaskScore]:
    """Score every task from its tests' outcomes, in task-table order.

    With require_all, a task that no test covers is a ScoringError (the grader would silently give 0
    for it). Without it (a student running a subset of the public tests) such tasks are left out.
    An outcome naming an unknown task or with a non-positive weight is always a ScoringError.
    """
    by_task: dict[str, list[TestOutcome]] = {t.id: [] for t in tasks}
    for o in outcomes:
        if o.task not in by_task:
            raise ScoringError(f"test {o.nodeid} names task {o.task!r}, which is not in the task table")
        if o.weight <= 0:
            raise ScoringError(f"test {o.nodeid} has weight {o.weight}; weights must be positive")
        by_task[o.task].append(o)
    missing = [t.id for t in tasks if not by_task[t.id]]
    if missing and require_all:
        raise ScoringError(f"no test covers task(s) {', '.join(missing)}: every task needs at least one test")
    return [TaskScore(t, weighted_score(t.points, by_task[t.id]), tuple(by_task[t.id])) for t in tasks if by_task[t.id]]


def zero_scores(tasks: Sequence[Task], message: str) -> list[TaskScore]:
    """Every task at 0 with one failing pseudo-outcome carrying `message` (placeholder, bad handin, grader failure)."""
    return [TaskScore(t, 0.0, (TestOutcome("", t.id, 1.0, "visible", False, message),)) for t in tasks]


def total(scores: Iterable[TaskScore]) -> tuple[float, float]:
    """(points earned, points possible) over `scores`, 2 decimals."""
    scores = list(scores)
    return round(sum(s.score for s in scores), 2), round(sum(s.max_score for s in scores), 2)
