"""grade_submission and `autograder grade` end to end on the toy assignment (real sandboxed worker)."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.cli import common as cli_common
from autograder.cli.grade import grade_command
from autograder.framework import grade
from autograder.framework.grade import GRADER_FAILED, PLACEHOLDER, grade_submission
from autograder.framework.harness import INTERNAL_PREFIX
from conftest import Toy

# A slot of its own: other test files (run concurrently while developing) use slot 0's worker uid.
SLOT = 3
STUB = """
def add(a, b):
    raise NotImplementedError("Task 1: add")


def mul(a, b):
    raise NotImplementedError("Task 2: mul")
"""
STUB_POWER = 'def square(x):\n    raise NotImplementedError("Task 3: square")\n'


def graded(toy: Toy, submission: Path, tmp_path: Path, schema, fmt: str = "gradescope") -> grade.GradeOutcome:
    """Grade and check the invariants every run must keep: a valid report on disk equal to the returned one."""
    results = tmp_path / "out" / "results.json"
    outcome = grade_submission(submission, toy.assignment, results, fmt, slot=SLOT)
    on_disk = json.loads(results.read_text())
    assert on_disk == outcome.report
    if fmt == "gradescope":
        schema(on_disk)
    return outcome


def test_reference_code_gets_full_marks(toy: Toy, tmp_path: Path, schema) -> None:
    outcome = graded(toy, toy.submission(), tmp_path, schema)
    assert (outcome.score, outcome.max_score) == (12.0, 12.0)
    assert outcome.tasks == {"1": 4.0, "2": 6.0, "3": 2.0}
    assert not outcome.internal_errors and not outcome.grader_failed
    assert len(outcome.tests) == 5 and all(t.passed for t in outcome.tests)
    assert {t["name"] for t in outcome.report["tests"]} >= {"Task 2: Mul", "Task 2: Mul (shown after the due date)"}


def test_stub_raising_not_implemented_gets_zero(toy: Toy, tmp_path: Path, schema) -> None:
    outcome = graded(toy, toy.submission("stub", arith=STUB, power=STUB_POWER), tmp_path, schema)
    assert outcome.score == 0.0 and not outcome.grader_failed and not outcome.internal_errors
    for entry in outcome.report["tests"]:
        assert "NotImplementedError" in entry["output"] and entry["status"] == "failed"
    assert "NotImplementedError: Task 2: mul" in next(t.message for t in outcome.tests if t.task == "2")


def test_one_broken_function_loses_exactly_its_task(toy: Toy, tmp_path: Path, schema) -> None:
    broken = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b + 1\n"
    outcome = graded(toy, toy.submission("broken", arith=broken), tmp_path, schema)
    assert outcome.tasks == {"1": 4.0, "2": 0.0, "3": 2.0} and outcome.score == 6.0
    assert all(t.message.startswith("mul: wrong values") for t in outcome.tests if t.task == "2")


def test_syntax_error_fails_only_the_tests_that_import_it(toy: Toy, tmp_path: Path, schema) -> None:
    outcome = graded(toy, toy.submission("syntax", power="def square(x)\n    return x\n"), tmp_path, schema)
    assert outcome.tasks == {"1": 4.0, "2": 6.0, "3": 0.0}
    (square,) = [t for t in outcome.tests if t.task == "3"]
    assert "SyntaxError" in square.message and not square.internal


def test_printed_output_reaches_the_report(toy: Toy, tmp_path: Path, schema) -> None:
    noisy = "def square(x):\n    print('my debug line')\n    return x\n"
    outcome = graded(toy, toy.submission("noisy", power=noisy), tmp_path, schema)
    entry = next(t for t in outcome.report["tests"] if t["number"] == "3")
    assert "my debug line" in entry["output"] and entry["score"] == 0


def test_missing_package_gives_zero_with_the_reason(toy: Toy, tmp_path: Path, schema) -> None:
    empty = tmp_path / "empty_handin"
    (empty / "notes").mkdir(parents=True)
    (empty / "notes" / "readme.txt").write_text("hello")
    outcome = graded(toy, empty, tmp_path, schema)
    assert outcome.score == 0.0 and not outcome.grader_failed
    messages = {t["output"] for t in outcome.report["tests"]}
    assert len(messages) == 1 and "toylib" in messages.pop()


def test_zipped_handin_is_graded_like_the_folder(toy: Toy, tmp_path: Path, schema) -> None:
    folder = toy.submission()
    archive = tmp_path / "handin.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted((folder / "toylib").rglob("*.py")):
            z.write(path, Path("handin") / path.relative_to(folder))
    assert graded(toy, archive, tmp_path, schema).score == 12.0


def test_placeholder_report_is_written_before_tests_run(
    toy: Toy, tmp_path: Path, schema, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "out" / "results.json"
    seen: list[dict] = []
    real_run_tests = grade.run_tests

    def spy(*args, **kwargs):
        seen.append(json.loads(results.read_text()))
        return real_run_tests(*args, **kwargs)

    monkeypatch.setattr(grade, "run_tests", spy)
    outcome = grade_submission(toy.submission(), toy.assignment, results, slot=SLOT)
    (placeholder,) = seen
    schema(placeholder)
    assert placeholder["score"] == 0 and all(t["output"] == PLACEHOLDER for t in placeholder["tests"])
    assert outcome.score == 12.0 and json.loads(results.read_text())["score"] == 12.0


def test_grader_crash_still_leaves_a_valid_zero_report(
    toy: Toy, tmp_path: Path, schema, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(grade, "run_tests", crash)
    outcome = graded(toy, toy.submission(), tmp_path, schema)
    assert outcome.grader_failed and outcome.score == 0.0
    assert "disk on fire" in outcome.internal_errors[0]
    assert all(t["output"] == GRADER_FAILED for t in outcome.report["tests"])


def test_broken_test_is_an_internal_error_not_the_students(make_toy, tmp_path: Path, schema) -> None:
    toy = make_toy(
        extra_tests={
            "hidden/test_broken.py": (
                "import pytest\n\n\n@pytest.mark.rubric(task='1')\n"
                "def test_typo(student, reference):\n    reference.run('ad', a=1.0, b=2.0)\n"
            )
        }
    )
    outcome = graded(toy, toy.submission(), tmp_path, schema)
    assert not outcome.grader_failed and len(outcome.internal_errors) == 1
    assert outcome.tasks == {"1": round(4 * 2 / 3, 2), "2": 6.0, "3": 2.0}
    (broken,) = [t for t in outcome.tests if not t.passed]
    assert broken.internal and broken.message.startswith(INTERNAL_PREFIX)
    assert "internal grader error" in outcome.report["output"]


def test_test_without_rubric_mark_fails_the_grader(make_toy, tmp_path: Path, schema) -> None:
    toy = make_toy(extra_tests={"hidden/test_unmarked.py": "def test_forgot(student):\n    pass\n"})
    outcome = graded(toy, toy.submission(), tmp_path, schema)
    assert outcome.grader_failed and outcome.score == 0.0
    assert "test_forgot" in outcome.internal_errors[0] and "rubric" in outcome.internal_errors[0]


def test_submission_never_on_sys_path_and_grader_files_protected(toy: Toy, tmp_path: Path, schema) -> None:
    path_before = list(sys.path)
    submission = toy.submission()
    graded(toy, submission, tmp_path, schema)
    assert sys.path == path_before
    # Whatever `toylib` the parent holds is a reference copy (the answers may come from the cache),
    # never the student's: student code runs only in the worker.
    loaded = sys.modules.get("toylib")
    assert loaded is None or not Path(loaded.__file__).resolve().is_relative_to(Path(submission).resolve())
    # The worker cannot read the reference or the hidden tests, yet a local grade leaves their permissions
    # alone (issue 11): test_sandbox's Landlock and no-chmod tests, test_hostile's probe in 3 environments.


def test_prairielearn_format(toy: Toy, tmp_path: Path, schema) -> None:
    broken = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
    report = graded(toy, toy.submission("b", arith=broken), tmp_path, schema, "prairielearn").report
    assert report["gradable"] is True and report["score"] == round(8 / 12, 4)
    assert [(t["points"], t["max_points"]) for t in report["tests"]] == [(0.0, 4.0), (6.0, 6.0), (2.0, 2.0)]
    assert report["tests"][0]["message"].startswith("add: wrong values")


def test_cli_autolab_prints_scores_last_and_exits_zero(
    toy: Toy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_common, "load_assignment", lambda name: toy.assignment)
    stub = toy.submission("stub", arith=STUB)
    results = tmp_path / "autolab.json"
    run = CliRunner().invoke(
        grade_command,
        [
            str(stub),
            "--results",
            str(results),
            "--format",
            "autolab",
            "--assignment",
            "toy",
            "--quiet",
            "--slot",
            str(SLOT),
        ],
    )
    assert run.exit_code == 0, run.output
    last = run.output.strip().splitlines()[-1]
    assert json.loads(last) == {"scores": {"1": 0.0, "2": 0.0, "3": 2.0}} == json.loads(results.read_text())
    assert "TOTAL" in run.output and "2/12" in run.output


def test_cli_exits_nonzero_only_when_the_grader_failed(
    toy: Toy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_common, "load_assignment", lambda name: toy.assignment)
    monkeypatch.setattr(grade, "run_tests", lambda *a, **k: 1 / 0)
    results = tmp_path / "r.json"
    run = CliRunner().invoke(
        grade_command, [str(toy.submission()), "--results", str(results), "--quiet", "--slot", str(SLOT)]
    )
    assert run.exit_code == 1 and json.loads(results.read_text())["score"] == 0


def test_unknown_assignment_names_the_known_ones() -> None:
    run = CliRunner().invoke(grade_command, [".", "--assignment", "nope"])
    assert run.exit_code == 2 and "hw1p1" in run.output
    folder = CliRunner().invoke(grade_command, [".", "--assignment", "./no/such/folder"])
    assert folder.exit_code == 2 and "has no assignment.py" in folder.output and "hw1p1" in folder.output


def test_cli_metadata_id_reaches_extra_data_and_bad_metadata_is_ignored(
    toy: Toy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_common, "load_assignment", lambda name: toy.assignment)
    good, bad = tmp_path / "meta.json", tmp_path / "bad.json"
    good.write_text(json.dumps({"id": 123456, "users": [{"email": "s@x.edu"}]}))
    bad.write_text("{not json")
    for meta, expected in ((good, {"submission_id": 123456}), (bad, {})):
        results = tmp_path / f"{meta.stem}-results.json"
        run = CliRunner().invoke(
            grade_command,
            [
                str(toy.submission(meta.stem)),
                "--results",
                str(results),
                "--metadata",
                str(meta),
                "--quiet",
                "--slot",
                str(SLOT),
            ],
        )
        assert run.exit_code == 0, run.output
        extra = json.loads(results.read_text())["extra_data"]
        assert {k: v for k, v in extra.items() if k != "tasks"} == expected
