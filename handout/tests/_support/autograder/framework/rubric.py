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


@dataclass(frozen=True)
class TimeBudget:
    """How long grading one handin may take, and how long each call into student code may take.

    A call's deadline is max(floor, factor x the reference's CPU time for the same call), at most the
    test's `deadline` mark (default 5 s) and never past the end of the budget; the grader counts it in
    CPU seconds of the worker (budget.py, client.py). After `timeouts_in_a_row` timeouts in a row of
    one scenario in one task, the task's remaining calls of it are not run; once `total` seconds (the
    session, import waits and worker restarts included) are spent, no check is started. The defaults
    fit Gradescope's 10-minute limit with a wide margin.
    """

    total: float = 90.0  # wall seconds for the whole test session of one handin
    floor: float = 0.5  # no call's deadline is shorter (CPU seconds: the worker's round trip is ~1 ms)
    factor: float = 50.0  # deadline / reference time: a correct handin 20x slower passes with room to spare
    timeouts_in_a_row: int = 2  # then the task's remaining calls of that scenario are skipped ("not run")


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
    budget: TimeBudget = field(default=TimeBudget())  # grading time: per-call deadlines and the total

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
