"""`autograder check`: the pre-deploy check that `make gradescope` and `make handout` run first.

It refuses to ship a grader that would mis-grade a class:
1. every test collects and carries a valid rubric mark, and every task has at least one test;
2. the reference scores full marks with no internal grader error (a test that errors on the
   reference is named, with its exception);
3. the bare handout (the reference with every fence stubbed, exactly what students receive) scores 0.
The handout is generated in memory from the current reference, so the check judges what `make handout`
is about to write, before it writes anything. (The sample handin is a developer tool, in no bundle:
`python -m tools.make_sample --verify` and tests/test_sample_handin.py check that it scores what its
planted bugs predict.)
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autograder.framework.grade import grade_submission
from autograder.framework.handoutgen import handout_contents
from autograder.framework.pytest_session import collect_tests
from autograder.framework.rubric import Assignment

Problems = list[str]


def check_collection(assignment: Assignment) -> Problems:
    """Collect the tests with the grading harness: marks valid, every task covered, no import error."""
    tests_dir = assignment.tests_dir.resolve()
    code, harness, printed = collect_tests(assignment)
    if harness.problems:
        return [f"rubric mark: {p}" for p in harness.problems]
    if code != 0:
        tail = "\n    ".join(printed.strip().splitlines()[-15:])
        return [f"the tests in {tests_dir} do not collect (pytest exit {code}):\n    {tail}"]
    covered = {r["task"] for r in harness.records.values()}
    return [
        f"task {t.id} ({t.title}) has no test: it would always score 0" for t in assignment.tasks if t.id not in covered
    ]


def _grade(folder: Path, assignment: Assignment, slot: int) -> Any:
    """grade_submission on `folder`, report in a throw-away file."""
    with tempfile.TemporaryDirectory(prefix="ag-check-") as tmp:
        return grade_submission(folder, assignment, Path(tmp) / "results.json", slot=slot)


def _failures(outcome: Any, limit: int = 10, internal: bool | None = None) -> list[str]:
    """The failing tests of a grade (only internal errors, only the others, or all), each with the first
    line of its message (the exception's type and text for an internal error)."""
    lines = [
        f"{t.nodeid}: {(t.message.strip().splitlines() or ['failed'])[0]}"
        for t in outcome.tests
        if not t.passed and internal in (None, t.internal)
    ]
    return lines[:limit] + ([f"... and {len(lines) - limit} more"] if len(lines) > limit else [])


def check_reference(assignment: Assignment, slot: int = 0) -> Problems:
    """The reference must earn every point, with no internal grader error."""
    outcome = _grade(assignment.reference_root, assignment, slot)
    if outcome.grader_failed:
        return [
            "the grader failed on the reference: "
            + "; ".join(d.strip().splitlines()[-1] for d in outcome.internal_errors)
        ]
    problems = []
    if outcome.internal_errors:
        problems.append(
            f"{len(outcome.internal_errors)} test(s) hit an internal grader error on the reference:\n    "
            + "\n    ".join(_failures(outcome, internal=True))
        )
    if _failures(outcome, internal=False):
        lost = [
            f"{task}: {got:g}/{assignment.task(task).points:g}"
            for task, got in outcome.tasks.items()
            if got < assignment.task(task).points
        ]
        problems.append(
            f"the reference scores {outcome.score:g}/{outcome.max_score:g} (tasks {', '.join(lost)}); "
            f"failing tests:\n    " + "\n    ".join(_failures(outcome, internal=False))
        )
    return problems


def _write_tree(files: dict[str, bytes], root: Path) -> Path:
    """Write {relative path: bytes} under root; return root."""
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def check_handout(assignment: Assignment, slot: int = 0) -> Problems:
    """The bare handout (every fence stubbed) must score 0: any point there is a vacuous test."""
    package = {
        rel: data for rel, data in handout_contents(assignment).items() if rel.startswith(assignment.package + "/")
    }
    with tempfile.TemporaryDirectory(prefix="ag-check-handout-") as tmp:
        outcome = _grade(_write_tree(package, Path(tmp)), assignment, slot)
    if outcome.grader_failed or outcome.internal_errors:
        return [
            "the grader failed on the bare handout:\n    "
            + "\n    ".join(
                _failures(outcome, internal=True) or [d.strip().splitlines()[-1] for d in outcome.internal_errors]
            )
        ]
    earned = [f"{task}: {got:g}" for task, got in outcome.tasks.items() if got > 0]
    passed = [t.nodeid for t in outcome.tests if t.passed]
    if earned:
        return [
            f"the bare handout scores {outcome.score:g} (tasks {', '.join(earned)}): these tests pass on stubs:\n    "
            + "\n    ".join(passed[:10])
        ]
    return []


STEPS: tuple[tuple[str, Callable[..., Problems]], ...] = (
    ("tests collect, every test has a rubric mark, every task a test", check_collection),
    ("the reference scores full marks, no internal error", check_reference),
    ("the bare handout scores 0", check_handout),
)


def run_check(assignment: Assignment, slot: int = 0, echo: Callable[[str], None] = print) -> Problems:
    """Run every step (later steps are skipped when the tests do not even collect); return the problems."""
    problems: Problems = []
    for i, (title, step) in enumerate(STEPS):
        if step is check_collection:
            found = step(assignment)
        else:
            found = step(assignment, slot)
        echo(f"[{'ok' if not found else 'FAILED'}] {title}")
        for p in found:
            echo("    " + p.replace("\n", "\n    "))
        problems += found
        if i == 0 and found:
            echo("(the other steps need tests that collect: skipped)")
            break
    return problems
