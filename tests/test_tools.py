"""The developer tools (tools/) work for any assignment: they read it only through its Assignment object.

A fenced toy assignment (not hw1p1) with its own devtools.py: its sample is generated and graded as its
recipe predicts, its mutants are generated from its fences, and the worst-case benchmarks (every student
function looping; correct but 20 times slower) grade it within its budget, at 0 and at full marks.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.framework.grade import grade_submission
from autograder.framework.rubric import TimeBudget
from conftest import Toy, write_toy
from tools import assignment as assignments
from tools.bench import budget
from tools.make_sample import Recipe, prediction_problems, recipe, sample_files, write_sample
from tools.mutants import generate_mutants

SLOT = 35  # this file's sandbox slot (a worker uid of its own); the bench uses its own slots 93 and 94
REPO = Path(__file__).resolve().parents[1]

# The toy's reference with its student code fenced, as an assignment's solutions are.
FENCED = {
    "arith.py": """def add(a, b):
    # BEGIN SOLUTION Task 1: add
    return a + b
    # END SOLUTION


def mul(a, b):
    # BEGIN SOLUTION Task 2: mul
    return a * b
    # END SOLUTION
""",
    "power.py": """def square(x):
    # BEGIN SOLUTION Task 3: square
    return x ** 2
    # END SOLUTION
""",
}

DEVTOOLS = """
SAMPLE_STUBBED = ("3",)
SAMPLE_BUGS = ({"task": "2", "file": "arith.py", "old": "return a * b", "new": "return a * b * (b.size > 3)",
                "why": "mul is wrong on small inputs only"},)
"""


@pytest.fixture
def fenced_toy(tmp_path: Path) -> Toy:
    """The toy assignment with fenced reference code and a devtools.py (sample recipe)."""
    toy = write_toy(tmp_path / "toy")
    for name, source in FENCED.items():
        (toy.assignment.reference_root / "toylib" / name).write_text(source)
    (toy.root / "devtools.py").write_text(DEVTOOLS)
    return toy


def test_the_sample_of_another_assignment_scores_what_its_recipe_predicts(fenced_toy: Toy, tmp_path: Path) -> None:
    assignment = fenced_toy.assignment
    made = recipe(assignment)
    assert made.stubbed == ("3",) and [b.task for b in made.bugs] == ["2"]
    files = sample_files(assignment)
    assert 'raise NotImplementedError("Task 3: square")' in files["toylib/power.py"].decode()
    assert "return a * b * (b.size > 3)" in files["toylib/arith.py"].decode()
    sample = write_sample(assignment, tmp_path / "sample")
    outcome = grade_submission(sample, assignment, tmp_path / "r.json", slot=SLOT, quiet=True)
    assert outcome.tasks["1"] == 4 and outcome.tasks["3"] == 0 and 0 < outcome.tasks["2"] < 6
    assert prediction_problems(assignment, outcome, made) == []


def test_without_devtools_the_sample_is_the_bare_handout(fenced_toy: Toy) -> None:
    (fenced_toy.root / "devtools.py").unlink()
    assert recipe(fenced_toy.assignment) == Recipe(("1", "2", "3"), ())
    assert all(
        "NotImplementedError" in data.decode()
        for name, data in sample_files(fenced_toy.assignment).items()
        if name != "toylib/__init__.py"
    )


def test_mutants_come_from_the_fences_of_any_assignment(fenced_toy: Toy) -> None:
    mutants = generate_mutants(fenced_toy.assignment.reference_root, "toylib")
    assert {m.file for m in mutants} == {"toylib/arith.py", "toylib/power.py"}
    assert any(m.new_line.strip() == "return a - b" for m in mutants)
    assert assignments.folder(fenced_toy.assignment) == fenced_toy.root


def test_worst_case_benchmarks_grade_another_assignment_within_its_budget(fenced_toy: Toy) -> None:
    """bench's all-loops handin scores 0 within the budget; the 20x-slow correct one gets full marks."""
    toy = dataclasses.replace(fenced_toy.assignment, budget=TimeBudget(total=30.0, floor=0.2))  # a quick loop
    loops, slow = budget.budget_figures(toy)
    assert loops["name"] == "worst_case_grade_wall" and loops["value"] <= 30.0 + 5.0, loops
    assert "all-loops handin: 0.0/12.0, 5 checks: 5 timed out" in loops["detail"], loops
    assert slow["value"] == 12.0, slow
    assert "not measured: no BENCH_YARDSTICK" in slow["detail"]


def test_the_tools_run_from_the_checkout_and_refuse_an_unknown_assignment() -> None:
    for tool in ("tools.bench", "tools.mutants", "tools.make_sample"):
        proc = subprocess.run(
            [sys.executable, "-m", tool, "--assignment", "no_such_lab", "--help"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0 and "--assignment NAME" in proc.stdout, proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "tools.mutants", "--assignment", "no_such_lab", "--list-only"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "no_such_lab" in proc.stderr and "hw1p1" in proc.stderr, proc.stderr
