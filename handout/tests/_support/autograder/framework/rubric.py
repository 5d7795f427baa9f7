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
class Assignment:
    """Everything the framework needs to grade one assignment."""

    name: str
    package: str  # the importable package students hand in, e.g. "mytorch"
    tasks: tuple[Task, ...]
    reference_root: Path  # folder that contains the reference package
    tests_dir: Path  # pytest tests: public/ and hidden/
    scenarios_file: Path  # scenario functions run in the worker
    data_files: tuple[Path, ...] = field(default=())  # copied read-only into the sandbox
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
