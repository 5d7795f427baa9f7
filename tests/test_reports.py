"""Scoring, report writers and the scoreboard, on hand-made outcomes (no pytest run, no worker)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autograder.framework import reports
from autograder.framework.rubric import Task
from autograder.framework.scoreboard import render
from autograder.framework.scoring import ScoringError, TestOutcome, score_tasks, total, zero_scores

TASKS = (Task("1.1", "topological sort", 8), Task("2.3", "Mul and Div backward", 5), Task("8", "Train", 3))


def outcome(
    nodeid: str,
    task: str,
    passed: bool,
    *,
    weight: float = 1,
    visibility: str = "visible",
    message: str = "",
    output: str = "",
    internal: bool = False,
) -> TestOutcome:
    """A TestOutcome with defaults for the fields a test does not care about."""
    return TestOutcome(
        nodeid, task, weight, visibility, passed, "" if passed else message or "wrong", output, 0.01, internal
    )


def mixed() -> list[TestOutcome]:
    """1.1 all pass; 2.3 passes 2 of weights (1, 2, 3) with a hidden part; 8 fails."""
    return [
        outcome("public/test_a.py::test_topo[0]", "1.1", True),
        outcome("public/test_a.py::test_topo[1]", "1.1", True),
        outcome("public/test_b.py::test_mul", "2.3", True, weight=1),
        outcome("public/test_b.py::test_div", "2.3", False, weight=2, message="Div.backward: sign flipped\nline 2"),
        outcome("hidden/test_c.py::test_div_broadcast", "2.3", True, weight=3, visibility="after_due_date"),
        outcome("hidden/test_d.py::test_train", "8", False, message="accuracy 0.41 < 0.9", output="epoch 1\n"),
    ]


def test_task_score_is_points_times_passed_weight_fraction() -> None:
    scores = score_tasks(TASKS, mixed())
    assert [s.score for s in scores] == [8.0, round(5 * 4 / 6, 2), 0.0]
    assert [s.status for s in scores] == ["PASS", "PARTIAL", "FAIL"]
    assert total(scores) == (round(8 + 5 * 4 / 6, 2), 16.0)


def test_task_without_tests_is_an_error_unless_subset_allowed() -> None:
    only_topo = [o for o in mixed() if o.task == "1.1"]
    with pytest.raises(ScoringError, match="2.3, 8"):
        score_tasks(TASKS, only_topo)
    assert [s.task.id for s in score_tasks(TASKS, only_topo, require_all=False)] == ["1.1"]


@pytest.mark.parametrize("bad", [outcome("t::x", "9.9", True), outcome("t::y", "1.1", True, weight=0)])
def test_unknown_task_or_bad_weight_is_an_error(bad: TestOutcome) -> None:
    with pytest.raises(ScoringError, match=bad.nodeid):
        score_tasks(TASKS, [*mixed(), bad])


def test_gradescope_report_valid_one_entry_per_task_and_visibility(schema) -> None:
    scores = score_tasks(TASKS, mixed())
    report = reports.gradescope(scores, execution_time=12.4, notes=["Sandbox protections not available: netns."])
    schema(report)
    names = [t["name"] for t in report["tests"]]
    assert names == [
        "Task 1.1: topological sort",
        "Task 2.3: Mul and Div backward",
        "Task 2.3: Mul and Div backward (shown after the due date)",
        "Task 8: Train",
    ]
    visible_23, hidden_23 = report["tests"][1], report["tests"][2]
    # The 2.3 group split: visible part has weights 1+2 of 6 (2.5 pts, 1 earned), hidden 3 of 6 (all earned).
    assert (visible_23["score"], visible_23["max_score"], visible_23["status"]) == (round(5 / 6, 2), 2.5, "failed")
    assert (hidden_23["score"], hidden_23["max_score"], hidden_23["visibility"]) == (2.5, 2.5, "after_due_date")
    assert "1 of 2 checks passed." in visible_23["output"]
    assert "FAILED test_div: Div.backward: sign flipped" in visible_23["output"]
    assert "Your code printed:\nepoch 1" in report["tests"][3]["output"]
    assert report["score"] == scores[0].score + scores[1].score + scores[2].score
    assert report["extra_data"]["tasks"] == {"1.1": 8.0, "2.3": round(5 * 4 / 6, 2), "8": 0.0}
    assert report["stdout_visibility"] == "hidden" and report["execution_time"] == 12
    assert "netns" in report["output"] and report["output"].startswith("Score: 11.33/16.")


def test_entry_output_is_capped_and_says_how_many_cases_are_hidden(schema) -> None:
    many = [outcome(f"t.py::test_x[{i}]", "8", False, message=f"{i}" + "m" * 3000) for i in range(50)]
    scores = score_tasks(TASKS, [*mixed()[:5], *many])
    report = reports.gradescope(scores)
    schema(report)
    out = report["tests"][-1]["output"]
    assert len(out) <= reports.ENTRY_CAP + 100
    assert "0 of 50 checks passed." in out and "more failing case(s) not shown." in out


def test_cases_failing_with_the_same_message_are_listed_once(schema) -> None:
    stub = "NotImplementedError: Task 8: train_step"
    cases = [outcome(f"t.py::test_x[{i}]", "8", False, message=stub) for i in range(4)]
    cases.append(outcome("t.py::test_y", "8", False, message="a different failure"))
    report = reports.gradescope(score_tasks(TASKS, [*mixed()[:5], *cases]))
    schema(report)
    out = report["tests"][-1]["output"]
    assert out.count(stub) == 1 and "(4 cases, same message)" in out
    assert "test_x[0], test_x[1], test_x[2], test_x[3]" in out and "a different failure" in out


def test_zero_scores_report_is_valid_and_carries_the_message(schema) -> None:
    report = reports.gradescope(zero_scores(TASKS, "no package named mytorch in your handin"))
    schema(report)
    assert report["score"] == 0 and {t["score"] for t in report["tests"]} == {0.0}
    assert all(t["output"] == "no package named mytorch in your handin" for t in report["tests"])
    assert [t["max_score"] for t in report["tests"]] == [8.0, 5.0, 3.0]


def test_prairielearn_report_scales_to_one_and_stays_under_1mb() -> None:
    scores = score_tasks(TASKS, mixed())
    report = reports.prairielearn(scores)
    assert report["gradable"] is True and report["score"] == round(total(scores)[0] / 16, 4)
    assert set(report["tests"][0]) == {"name", "points", "max_points", "message", "output"}
    assert report["tests"][1]["message"].startswith("Div.backward: sign flipped")
    huge = [outcome(f"t.py::test_x[{i}]", "8", False, message="m" * 50_000) for i in range(400)]
    big = reports.prairielearn(score_tasks(TASKS, [*mixed()[:5], *huge]))
    assert len(json.dumps(big)) < reports.REPORT_CAP


def test_autolab_scores_and_last_line() -> None:
    report = reports.build("autolab", score_tasks(TASKS, mixed()))
    assert report == {"scores": {"1.1": 8.0, "2.3": 3.33, "8": 0.0}}
    line = reports.json_line(report)
    assert "\n" not in line and json.loads(line) == report


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="gradescope, prairielearn, autolab"):
        reports.build("moodle", [])


def test_write_atomic_leaves_no_temp_file_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "results" / "results.json"
    reports.write_atomic(path, {"score": 1})
    reports.write_atomic(path, {"score": 2})
    assert json.loads(path.read_text()) == {"score": 2}
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]


def test_scoreboard_rows_status_first_failure_and_total() -> None:
    text = render(score_tasks(TASKS, mixed()))
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["task", "title", "points"]
    row = next(ln for ln in lines if ln.startswith("2.3"))
    assert "3.33/5" in row and "PARTIAL" in row and row.endswith("Div.backward: sign flipped")
    assert "line 2" not in text  # only the first line of the first failure
    assert next(ln for ln in lines if ln.startswith("1.1")).rstrip().endswith("PASS")
    assert lines[-1].split() == ["TOTAL", "11.33/16"]
    assert len({len(ln.split("PASS")[0]) for ln in lines if "PASS" in ln}) == 1  # fixed-width columns
