"""The "Test authors' API" example of docs/ARCHITECTURE.md runs: extracted from the document, graded
against hw1p1 through the real harness and sandbox, it passes on the reference and fails on a Mul
whose gradient for b forgets the upstream gradient."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.framework.grade import grade_submission

DOC = Path(__file__).resolve().parents[1] / "docs" / "ARCHITECTURE.md"
EXAMPLE = re.compile(
    r"^<!-- example: tests/test_architecture_example\.py [^\n]*-->\n```python\n(.*?)^```$", re.MULTILINE | re.DOTALL
)
SLOT = 24


def grade_example(tmp_path: Path, handin: Path) -> list:
    """Grade `handin` with only the document's example as hw1p1's tests; its test outcomes."""
    (block,) = EXAMPLE.findall(DOC.read_text(encoding="utf-8"))
    tests = tmp_path / "tests"
    (tests / "public").mkdir(parents=True, exist_ok=True)
    example = tests / "public" / "test_example.py"
    example.write_text(block, encoding="utf-8")
    assignment = replace(ASSIGNMENT, tests_dir=tests)
    outcome = grade_submission(handin, assignment, tmp_path / "results.json", slot=SLOT, select=[str(example)])
    assert not outcome.grader_failed and not outcome.internal_errors, outcome.internal_errors
    assert len(outcome.tests) == 2 and {t.task for t in outcome.tests} == {"2.3"}
    return outcome.tests


def test_the_example_passes_on_the_reference(tmp_path: Path) -> None:
    assert all(t.passed for t in grade_example(tmp_path, ASSIGNMENT.reference_root))


def test_the_example_catches_a_wrong_mul_backward(tmp_path: Path) -> None:
    handin = tmp_path / "handin"
    shutil.copytree(
        ASSIGNMENT.reference_root / "mytorch", handin / "mytorch", ignore=shutil.ignore_patterns("__pycache__")
    )
    ops = handin / "mytorch" / "ops" / "elementwise.py"
    text = ops.read_text()
    right = "grad_output * a"
    assert text.count(right) >= 1
    ops.write_text(text.replace(right, "a", 1))  # b's gradient no longer scaled by the upstream gradient
    tests = grade_example(tmp_path / "g", handin)
    assert not any(t.passed for t in tests)
    # same shapes: the wrong values, named; broadcast shapes: the wrong shape makes unbroadcast raise
    assert any("Mul.backward, gradient for input b" in t.message for t in tests), [t.message for t in tests]
