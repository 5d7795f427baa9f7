"""The sample handin `make grade` grades (tools/make_sample.py): generated, never committed, graded as its
recipe predicts, and in no bundle that ships the grader.
"""

from __future__ import annotations

import dataclasses
import tarfile
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.framework.grade import grade_submission
from autograder.framework.gradescope_zip import PROJECT_ROOT, build_gradescope_zip
from autograder.framework.handoutgen import handout_contents
from autograder.framework.platforms import build_autolab, build_prairielearn
from tools import make_sample
from tools.make_sample import Recipe, SampleError, prediction_problems, recipe, sample_files
from tools.mutants import fenced_lines
from tools.planted import Bug, Patch

SLOT = 34  # this file's sandbox slot (a worker uid of its own)
RECIPE = recipe(ASSIGNMENT)


def test_hw1p1_recipe_stubs_two_tasks_and_plants_two_bugs() -> None:
    assert RECIPE.stubbed == ("6.1", "7.2")
    assert [b.task for b in RECIPE.bugs] == ["2.3", "3.1"] and all(b.why for b in RECIPE.bugs)


def test_nothing_of_the_sample_is_committed() -> None:
    assert not (ASSIGNMENT.scenarios_file.parent / "examples").exists()
    assert make_sample.default_out(ASSIGNMENT) == PROJECT_ROOT / "build" / "sample" / "hw1p1"
    assert "/build/" in (PROJECT_ROOT / ".gitignore").read_text().split()


def test_stubbing_every_task_without_bugs_gives_the_handout_package() -> None:
    """The stubs come from the handout generator: with nothing finished the sample is the handout's package."""
    sample = sample_files(ASSIGNMENT, stubbed=[t.id for t in ASSIGNMENT.tasks], bugs=())
    handout = {
        rel: data for rel, data in handout_contents(ASSIGNMENT).items() if rel.startswith(ASSIGNMENT.package + "/")
    }
    assert sample == handout


def test_an_assignment_without_a_recipe_gets_the_bare_handout(tmp_path: Path) -> None:
    """No devtools.py beside assignment.py (e.g. a new lab): every task stubbed, no reference code."""
    (tmp_path / "scenarios.py").write_text("")
    bare = dataclasses.replace(ASSIGNMENT, scenarios_file=tmp_path / "scenarios.py")
    assert recipe(bare) == Recipe(tuple(t.id for t in ASSIGNMENT.tasks), ())


def test_sample_has_no_fences_and_exactly_the_intended_stubs_and_bugs() -> None:
    files = sample_files(ASSIGNMENT)
    text = b"\n".join(files.values()).decode()
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    stubbed = {
        line.split('"Task ')[1].split(":")[0]
        for line in text.splitlines()
        if 'raise NotImplementedError("Task ' in line
    }
    assert stubbed == set(RECIPE.stubbed)
    for bug in RECIPE.bugs:
        for patch in bug.patches:
            content = files[f"{ASSIGNMENT.package}/{patch.file}"].decode()
            assert patch.new in content and patch.old not in content, bug.why


@pytest.mark.parametrize("old, count", [("no such text in the reference", "0"), ("grad_output", "[1-9][0-9]*")])
def test_a_bug_whose_text_does_not_occur_exactly_once_stops_generation(old: str, count: str) -> None:
    bug = Bug(task="2.3", patches=(Patch("ops/elementwise.py", old, "x"),), why="test")
    with pytest.raises(
        SampleError, match=f"bug for task 2.3: the text to replace occurs {count} times in ops/elementwise.py"
    ):
        sample_files(ASSIGNMENT, stubbed=(), bugs=(bug,))


def test_a_stubbed_task_without_a_fence_stops_generation() -> None:
    with pytest.raises(SampleError, match="no solution fence for stubbed task"):
        sample_files(ASSIGNMENT, stubbed=("6.1", "99"), bugs=())


def test_the_prediction_catches_a_sample_that_scores_otherwise() -> None:
    """prediction_problems is not vacuous: each way a grade can contradict the recipe is named."""
    full = {t.id: float(t.points) for t in ASSIGNMENT.tasks}
    good = {**full, "6.1": 0.0, "7.2": 0.0, "2.3": 2.0, "3.1": 1.0}

    def outcome(tasks: dict[str, float]) -> SimpleNamespace:
        return SimpleNamespace(grader_failed=False, internal_errors=[], tasks=tasks)

    def problems(**changed: float) -> list[str]:
        return prediction_problems(ASSIGNMENT, outcome({**good, **changed}), RECIPE)

    assert problems() == []
    assert problems(**{"7.2": 6.0}) == ["task 7.2 is stubbed but scores 6"]
    assert problems(**{"2.3": 5.0}) == ["task 2.3 has a planted bug but scores 5/5 (expected partial credit)"]
    assert problems(**{"1.1": 7.0}) == ["task 1.1 is finished but scores 7/8"]


def test_grading_the_sample_loses_points_exactly_as_its_recipe_predicts(sample_handin: Path, tmp_path: Path) -> None:
    outcome = grade_submission(sample_handin, ASSIGNMENT, tmp_path / "results.json", slot=SLOT)
    assert prediction_problems(ASSIGNMENT, outcome, RECIPE) == []
    assert outcome.score == pytest.approx(sum(outcome.tasks.values()))
    assert 50.0 < outcome.score < 100.0 and outcome.max_score == 100.0

    # The students' messages name the function and the likely cause.
    messages: dict[str, list[str]] = {t.task: [] for t in outcome.tests}
    for test in outcome.tests:
        if not test.passed:
            messages[test.task].append(test.message)
    assert any("Div.backward, gradient for input b" in m and "sign" in m for m in messages["2.3"])
    assert all("Div" in m for m in messages["2.3"])  # Mul, in the same task, is right
    assert all("reduce.py" in m for m in messages["3.1"])  # only Sum's line is blamed
    for task in RECIPE.stubbed:
        assert all(f"NotImplementedError: Task {task}" in m for m in messages[task])


# ------------------------------------------------------------------------ no sample or tool in any bundle


def _reference_lines() -> set[str]:
    """The reference's non-trivial student-written lines (inside solution fences), stripped."""
    lines = set()
    for path in (ASSIGNMENT.reference_root / ASSIGNMENT.package).rglob("*.py"):
        text = path.read_text()
        numbered = text.splitlines()
        lines |= {numbered[n - 1].strip() for n in fenced_lines(text, str(path)) if len(numbered[n - 1].strip()) >= 25}
    return lines


def reference_copies(files: dict[str, bytes], reference_lines: set[str], reference_prefix: str) -> list[str]:
    """Files outside `reference_prefix` that carry the reference's student-written code: a tool or a build
    output, a module of the student package, or any file holding 3 or more of its fenced lines (a
    misconception or a planted bug may quote one formula; a copy of a module holds many)."""
    found = []
    package = f"/{ASSIGNMENT.package}/"
    for name, data in files.items():
        if name.startswith(reference_prefix):
            continue
        text = data.decode("utf-8", "replace")
        held = reference_lines & {line.strip() for line in text.splitlines()}
        if name.startswith(("tools/", "build/")) or package in f"/{name}" or len(held) >= 3:
            found.append(name)
    return found


def _bundles(out: Path) -> dict[str, dict[str, bytes]]:
    """{bundle: {project-relative name: content}} of the Gradescope zip, the Autolab tar and the PrairieLearn grader."""
    build_gradescope_zip(out / "autograder.zip", ASSIGNMENT)
    with zipfile.ZipFile(out / "autograder.zip") as zf:
        gradescope = {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}
    build_autolab(out / "autolab", ASSIGNMENT)
    with tarfile.open(out / "autolab" / "autograde.tar") as tf:
        autolab = {
            m.name.removeprefix("grader/"): tf.extractfile(m).read()  # type: ignore[union-attr]
            for m in tf.getmembers()
            if m.isfile()
        }
    build_prairielearn(out / "pl", ASSIGNMENT)
    server = out / "pl" / "serverFilesCourse" / f"{ASSIGNMENT.name}_autograder"
    prairielearn = {p.relative_to(server).as_posix(): p.read_bytes() for p in server.rglob("*") if p.is_file()}
    return {"gradescope": gradescope, "autolab": autolab, "prairielearn": prairielearn}


def test_no_bundle_ships_a_tool_or_a_copy_of_the_reference(sample_handin: Path, tmp_path: Path) -> None:
    lines = _reference_lines()
    prefix = ASSIGNMENT.reference_root.resolve().relative_to(PROJECT_ROOT).as_posix() + "/"
    # The detector is not vacuous: the sample (or tools/, were they shipped) would be found.
    sample = {
        f"build/sample/hw1p1/{p.relative_to(sample_handin).as_posix()}": p.read_bytes()
        for p in sample_handin.rglob("*")
        if p.is_file()
    }
    assert len(reference_copies(sample, lines, prefix)) == len(sample)
    renamed = {f"x{n}": data for n, data in enumerate(sample.values())}  # found by content alone, too
    assert len(reference_copies(renamed, lines, prefix)) >= 5
    assert reference_copies({"tools/make_sample.py": b""}, lines, prefix) == ["tools/make_sample.py"]
    for bundle, files in _bundles(tmp_path).items():
        assert any(name.startswith(prefix) for name in files), f"{bundle}: the grader needs the reference"
        assert reference_copies(files, lines, prefix) == [], f"{bundle} ships reference code beyond the reference"
        tools = {p.read_bytes() for p in (PROJECT_ROOT / "tools").rglob("*.py") if p.stat().st_size}
        assert not [n for n, data in files.items() if data in tools], f"{bundle} ships a copy of a tool"
