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
        return (
            f"Before the due date, a failing hidden check shows {FEEDBACK_LEVELS[self.before_due]}. "
            f"After the due date, it shows {FEEDBACK_LEVELS[self.after_due]}."
        )


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


# (exception type name, regex searched in its message, the likely cause shown to the student)
LikelyCause = tuple[str, str, str]


@dataclass(frozen=True)
class Assignment:
    """Everything the framework needs to grade one assignment; nothing assignment-specific lives elsewhere."""

    name: str
    package: str  # the importable package students hand in, e.g. "mytorch"
    tasks: tuple[Task, ...]
    # The assignment's solutions folder: the reference package, the writeup README.md (with rubric markers)
    # and its figures/, e.g. solutions/<name>/.
    reference_root: Path
    tests_dir: Path  # pytest tests: public/ and hidden/
    scenarios_file: Path  # scenario functions run in the worker
    data_files: tuple[Path, ...] = field(default=())  # copied read-only into the sandbox
    feedback: FeedbackPolicy = field(default_factory=FeedbackPolicy)  # what hidden checks reveal, and when
    due_date: str = ""  # ISO 8601 with timezone, e.g. "2026-02-14T23:59:00-05:00": the regrade's lateness
    budget: TimeBudget = field(default=TimeBudget())  # grading time: per-call deadlines and the total
    # Likely causes of exceptions the student's code raises, matched first (then errors.GENERIC_CAUSES):
    # the assignment's common mistakes in the words of its writeup. Plain strings: the handout carries them.
    likely_causes: tuple[LikelyCause, ...] = ()
    # How the CLI named it: a registered name, or the folder path of a course outside this repository
    # (set by the registry; the regrade passes it on to each grader it starts).
    source: str = ""
    handout_extras: Path | None = None  # a folder whose files are copied over the handout's root (its own extras)

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
