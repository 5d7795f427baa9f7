"""What an assignment is: its tasks, their points, and where its pieces live."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Task:
    """One numbered piece of student work, e.g. Task("2.3", "Mul and Div backward", 5)."""

    id: str
    title: str
    points: float


# What a failing hidden check's message may show students, from most to least.
FEEDBACK_LEVELS = {
    "full": "the case, what is wrong and where, the expected and received values, and the hint",
    "no_values": "the task, the case, what is wrong and where, and the hint, but no expected values",
}


@dataclass(frozen=True)
class FeedbackPolicy:
    """What failing hidden checks reveal before the due date and after it (public checks: always all).

    On Gradescope the "after" feedback goes into entries with visibility after_due_date, so students see
    it once the due date has passed. The default shows everything at once.
    """

    before_due: str = "full"
    after_due: str = "full"

    def __post_init__(self) -> None:
        levels = list(FEEDBACK_LEVELS)
        for when in (self.before_due, self.after_due):
            if when not in FEEDBACK_LEVELS:
                raise ValueError(f"feedback level {when!r} is not one of {', '.join(levels)}")
        if levels.index(self.after_due) > levels.index(self.before_due):
            raise ValueError("feedback after the due date cannot show less than before it")

    def describe(self) -> str:
        """The policy in a sentence or two, for the writeup."""
        if self.before_due == self.after_due:
            return f"A failing hidden check shows {FEEDBACK_LEVELS[self.before_due]}, right away."
        return (f"Before the due date, a failing hidden check shows {FEEDBACK_LEVELS[self.before_due]}. "
                f"After the due date, it shows {FEEDBACK_LEVELS[self.after_due]}.")


@dataclass(frozen=True)
class Assignment:
    """Everything the framework needs to grade one assignment."""

    name: str
    package: str  # the importable package students hand in, e.g. "mytorch"
    tasks: tuple[Task, ...]
    reference_root: Path  # folder that contains the reference package
    tests_dir: Path  # pytest tests: public/ and hidden/
    scenarios_file: Path  # scenario functions run in the worker
    data_files: tuple[Path, ...] = field(default=())  # copied read-only into the sandbox
    feedback: FeedbackPolicy = field(default_factory=FeedbackPolicy)  # what hidden checks reveal, and when
    due_date: str = ""  # ISO 8601 with timezone, e.g. "2026-02-14T23:59:00-05:00": the regrade's lateness

    @property
    def max_score(self) -> float:
        """Total points of all tasks."""
        return float(sum(t.points for t in self.tasks))

    def task(self, task_id: str) -> Task:
        """The task with this id; KeyError names the known ids."""
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(f"unknown task {task_id!r}; known: {', '.join(t.id for t in self.tasks)}")
