"""The bundled sample handin (what `make grade` grades): in sync with its generator, and graded as intended."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.assignments.hw1p1.examples import make_sample
from autograder.assignments.hw1p1.examples.make_sample import PLANTED, SAMPLE_DIR, STUBBED, Bug, SampleError
from autograder.framework.grade import grade_submission
from autograder.framework.handoutgen import handout_contents

SLOT = 9  # this brief's sandbox slot: other test files' workers live on other uids


def test_committed_sample_equals_a_fresh_generation() -> None:
    stale = make_sample.stale_files(SAMPLE_DIR)
    assert not stale, ("examples/sample_handin is out of date; run "
                       f"`python -m autograder.assignments.hw1p1.examples.make_sample`: {stale}")


def test_stubbing_every_task_without_bugs_gives_the_handout_package() -> None:
    """The stubs come from the handout generator: with nothing finished the sample is the handout's mytorch."""
    every_task = [t.id for t in ASSIGNMENT.tasks]
    sample = make_sample.sample_files(stubbed=every_task, bugs=())
    handout = {rel: data for rel, data in handout_contents(ASSIGNMENT).items()
               if rel.startswith(ASSIGNMENT.package + "/")}
    assert sample == handout


def test_sample_has_no_fences_and_exactly_the_intended_stubs() -> None:
    files = make_sample.sample_files()
    text = b"\n".join(files.values()).decode()
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    stubbed = {line.split('"Task ')[1].split(":")[0] for line in text.splitlines()
               if 'raise NotImplementedError("Task ' in line}
    assert stubbed == set(STUBBED)
    for bug in PLANTED:
        content = files[bug.path].decode()
        assert bug.new in content and bug.old not in content, bug.why


@pytest.mark.parametrize("occurrences", [0, 2])
def test_a_bug_whose_text_does_not_occur_exactly_once_stops_generation(occurrences: int) -> None:
    bug = Bug(task="2.3", path="mytorch/x.py", old="-g", new="g", why="test")
    with pytest.raises(SampleError, match=f"occurs {occurrences} times in mytorch/x.py"):
        make_sample.plant({"mytorch/x.py": "y = -g\n" * occurrences}, [bug])


def test_a_stubbed_task_without_a_fence_stops_generation() -> None:
    with pytest.raises(SampleError, match="no solution fence for stubbed task"):
        make_sample.sample_files(stubbed=("6.1", "99"), bugs=())


def test_grading_the_sample_loses_points_exactly_in_the_intended_tasks(tmp_path: Path) -> None:
    outcome = grade_submission(SAMPLE_DIR, ASSIGNMENT, tmp_path / "results.json", slot=SLOT)
    points = {t.id: float(t.points) for t in ASSIGNMENT.tasks}
    assert not outcome.grader_failed and not outcome.internal_errors
    lost = {task for task, got in outcome.tasks.items() if got < points[task]}
    assert lost == set(STUBBED) | {b.task for b in PLANTED}
    for task in STUBBED:  # not started: nothing
        assert outcome.tasks[task] == 0.0
    for bug in PLANTED:  # one function of the task is wrong, the others earn their share
        assert 0.0 < outcome.tasks[bug.task] < points[bug.task], bug.why
    assert outcome.score == pytest.approx(sum(outcome.tasks.values()))
    assert 50.0 < outcome.score < 100.0 and outcome.max_score == 100.0

    # The students' messages name the function and the likely cause.
    messages = {t.task: [] for t in outcome.tests}
    for test in outcome.tests:
        if not test.passed:
            messages[test.task].append(test.message)
    assert any("Div.backward, gradient for input b" in m and "sign" in m for m in messages["2.3"])
    assert all("Div" in m for m in messages["2.3"])  # Mul, in the same task, is right
    assert all("reduce.py" in m for m in messages["3.1"])  # only Sum's line is blamed
    for task in STUBBED:
        assert all(f"NotImplementedError: Task {task}" in m for m in messages[task])
