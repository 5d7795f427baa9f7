"""Feedback policy: what failing hidden checks reveal before the due date, and after it (Gradescope)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.framework import reports
from autograder.framework.feedback import HIDDEN_VALUE, redact
from autograder.framework.grade import grade_submission
from autograder.framework.rubric import FeedbackPolicy, Task
from autograder.framework.scoring import TaskScore, TestOutcome

SLOT = 11  # a worker uid of its own
EXPECTED_VALUE = re.compile(r"expected (-?\d+\.\d+(?:e[-+]\d+)?)")

DIV = """Div.backward, gradient for input b: 5 of 5 elements wrong
  b.grad[0]: expected -4.528401, got 4.528401   (abs err 9.1e+00, rel err 2.0e+00, tolerance 4.5e-09)
  b.grad[1]: expected -0.486762, got 0.486762   (abs err 9.7e-01, rel err 2.0e+00, tolerance 4.9e-10)
  ... and 3 more
  Hint: the sign of every element is flipped."""


def test_no_values_keeps_the_case_what_and_where_and_the_hint_but_no_value() -> None:
    assert redact(DIV, "no_values") == (
        "Div.backward, gradient for input b: 5 of 5 elements wrong\n  Hint: the sign of every element is flipped."
    )
    assert redact("SGD(lr=0.1) step 2: parameter 0: expected 0.123456, got 0.5", "no_values") == (
        f"SGD(lr=0.1) step 2: parameter 0: expected {HIDDEN_VALUE}, got 0.5"
    )
    shape = "Add.backward, gradient for input b: b.grad has shape (3, 5), expected (3, 1): un-broadcast missing?"
    assert redact(shape, "no_values") == shape  # shapes describe the task, not the answer
    assert redact(DIV, "full") == DIV


def test_policy_levels_are_checked_and_described() -> None:
    with pytest.raises(ValueError, match="not one of"):
        FeedbackPolicy(before_due="everything")
    with pytest.raises(ValueError, match="cannot show less"):
        FeedbackPolicy(before_due="full", after_due="no_values")
    assert "right away" in FeedbackPolicy().describe()
    text = FeedbackPolicy(before_due="no_values").describe()
    assert "Before the due date" in text and "no expected values" in text and "After the due date" in text


def test_public_checks_and_passes_are_never_redacted_and_the_default_changes_nothing() -> None:
    task = Task("2.3", "Mul and Div", 5)
    outcomes = (
        TestOutcome("public/test_2.py::test_div[a]", "2.3", 1, "visible", False, DIV),
        TestOutcome("hidden/test_2h.py::test_div[b]", "2.3", 1, "visible", False, DIV),
        TestOutcome("hidden/test_2h.py::test_mul[c]", "2.3", 1, "visible", True),
    )
    scores = [TaskScore(task, 5 / 3, outcomes)]
    default = reports.gradescope(scores)
    assert default == reports.gradescope(scores, feedback=FeedbackPolicy())
    assert [t["visibility"] for t in default["tests"]] == ["visible"]
    policy = reports.gradescope(scores, feedback=FeedbackPolicy(before_due="no_values"))
    visible, later = policy["tests"]
    assert visible["output"].count("-4.528401") == 1  # the public case's message, whole
    assert "test_div[b]" in visible["output"] and "Hint: the sign" in visible["output"]
    assert (later["visibility"], later["score"], later["max_score"]) == ("after_due_date", 0.0, 0.0)
    assert later["output"].count("-4.528401") == 1 and "test_div[b]" in later["output"]
    assert "test_div[a]" not in later["output"] and "test_mul[c]" not in later["output"]
    assert visible["score"] == default["tests"][0]["score"] and policy["score"] == default["score"]


def test_hidden_checks_reveal_no_expected_value_before_the_due_date(
    sample_handin: Path, tmp_path: Path, schema
) -> None:
    """The sample handin (a sign slip in Div, a Sum slip, two stubs) graded under "no values before the due date"."""
    assignment = dataclasses.replace(ASSIGNMENT, feedback=FeedbackPolicy(before_due="no_values"))
    results = tmp_path / "results.json"
    grade_submission(sample_handin, assignment, results, slot=SLOT)
    report = json.loads(results.read_text())
    schema(report)
    before = [t for t in report["tests"] if t["visibility"] == "visible"]
    after = [t for t in report["tests"] if t["visibility"] == "after_due_date"]
    hidden_values = {v for t in after for v in EXPECTED_VALUE.findall(t["output"])}
    assert len(hidden_values) >= 3, "the sample's slips should make hidden checks report expected values"
    # (Visible entries still show the public checks' values: students have those tests and their answers.)
    leaked = hidden_values & {v for t in before for v in EXPECTED_VALUE.findall(t["output"])}
    assert not leaked, f"visible entries reveal expected values of hidden checks: {sorted(leaked)[:5]}"
    assert any(HIDDEN_VALUE in t["output"] or "Hint:" in t["output"] for t in before)
    # Nothing else students see before the due date carries a message.
    assert not EXPECTED_VALUE.search(report["output"]) and not EXPECTED_VALUE.search(json.dumps(report["extra_data"]))
    # The score is the same as under the default policy: the policy changes words, never points.
    assert report["score"] == sum(t["score"] for t in before)
