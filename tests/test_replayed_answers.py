"""Issue 10 item 6: the handout ships the reference's recorded answers for the public tests
(tests/expected.npz). If the grader drew the same inputs, a handin could return those answers and earn
the public tests' points without any code. The grader salts every test's inputs with a hash of the
handin (deterministic per handin), while the handout keeps its recorded, unsalted inputs.

The replaying handin is the bare handout (every task a stub, honest score 0) carrying a copy of
expected.npz; its `__init__.py` replaces every scenario in the worker with one that looks the call up
by the handout's own key (channel.call_key) and answers from the recording when it can.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autograder.assignments.hw1p1.assignment import ASSIGNMENT, REPO_ROOT
from autograder.framework import grade
from autograder.framework.grade import grade_submission

SLOT = 32  # this file's sandbox slot (a worker uid of its own)

REPLAYER = """

# ---- replay the handout's recorded reference answers for the calls that match them ----
def _install_replay():
    import importlib.util
    import os
    import sys

    scenarios = sys.modules.get("autograder_scenarios")
    if scenarios is None:
        return
    here = os.path.join(os.path.dirname(__file__), "_replay")
    spec = importlib.util.spec_from_file_location("_replay_channel", os.path.join(here, "channel.py"))
    channel = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(channel)
    with open(os.path.join(here, "expected.npz"), "rb") as f:
        answers = channel.decode(f.read())
    for name in [n for n in dir(scenarios) if not n.startswith("_") and callable(getattr(scenarios, n))]:
        original = getattr(scenarios, name)

        def replay(lib, _name=name, _original=original, **kwargs):
            key = channel.call_key(_name, kwargs)
            return answers[key] if key in answers else _original(lib, **kwargs)

        setattr(scenarios, name, replay)


_install_replay()
"""


def replaying_handin(dest: Path) -> Path:
    """The bare handout's package with the recorded answers and the replayer inside it."""
    package = dest / ASSIGNMENT.package
    shutil.copytree(
        REPO_ROOT / "handouts" / ASSIGNMENT.name / ASSIGNMENT.package,
        package,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (package / "_replay").mkdir()
    shutil.copy(
        REPO_ROOT / "handouts" / ASSIGNMENT.name / "tests" / "expected.npz", package / "_replay" / "expected.npz"
    )
    shutil.copy(REPO_ROOT / "autograder" / "framework" / "channel.py", package / "_replay" / "channel.py")
    (package / "__init__.py").write_text((package / "__init__.py").read_text() + REPLAYER)
    return dest


def public_only(tmp: Path):
    """hw1p1 with only its public tests (the ones whose answers the handout ships)."""
    import dataclasses

    tests = tmp / "tests"
    shutil.copytree(ASSIGNMENT.tests_dir, tests, ignore=shutil.ignore_patterns("__pycache__", "hidden"))
    return dataclasses.replace(ASSIGNMENT, tests_dir=tests)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory):
    """grade(salted) -> GradeOutcome of the replaying handin on the public tests."""
    tmp = tmp_path_factory.mktemp("replay")
    handin, assignment = replaying_handin(tmp / "sub"), public_only(tmp)

    def run(salted: bool):
        with pytest.MonkeyPatch.context() as mp:
            if not salted:  # the grader as it was: the handout's inputs
                mp.setattr(grade, "input_salt", lambda package_dir: "")
            return grade_submission(handin, assignment, tmp / f"results-{salted}.json", slot=SLOT, quiet=True)

    return run


def test_replaying_recorded_answers_works_on_unsalted_inputs(graded):
    """The attack is real: on the handout's own inputs the recorded answers earn points."""
    outcome = graded(False)
    assert outcome.score > 10, outcome.tasks


def test_replaying_recorded_answers_earns_nothing(graded):
    outcome = graded(True)
    assert not outcome.grader_failed and not outcome.internal_errors, outcome.internal_errors
    assert outcome.score == 0, {t.nodeid: t.message for t in outcome.tests if t.passed}


def test_salt_is_deterministic_and_spread_over_buckets(tmp_path: Path):
    a = replaying_handin(tmp_path / "a") / ASSIGNMENT.package
    b = tmp_path / "b" / ASSIGNMENT.package
    shutil.copytree(a, b)
    assert grade.input_salt(a) == grade.input_salt(b) != ""
    salts = set()
    for k in range(12):  # twelve one-line edits: a handin's salt follows its content
        (b / "train.py").write_text((b / "train.py").read_text() + f"\n# edit {k}\n")
        salts.add(grade.input_salt(b))
    assert len(salts) > 6 and all(s.startswith("inputs-") for s in salts)


def test_handout_keeps_its_recorded_inputs():
    """The handout's harness has no salt: its seeds are the ones expected.npz was recorded with."""
    from autograder.framework.harness import seed_for

    node = "public/test_1_engine.py::test_backward[diamond]"
    assert seed_for(node, "") == seed_for(node)
    assert seed_for(node, "0123abcd") != seed_for(node)


@pytest.mark.slow
@pytest.mark.parametrize("bucket", range(grade.SALT_BUCKETS))
def test_reference_keeps_full_marks_whatever_the_salt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bucket: int):
    """Fairness of salted inputs, exhaustively: every input set a handin can get keeps the reference at
    full marks (no kink, tie or hard split drawn)."""
    monkeypatch.setattr(grade, "input_salt", lambda package_dir: f"inputs-{bucket}")
    outcome = grade_submission(ASSIGNMENT.reference_root, ASSIGNMENT, tmp_path / "results.json", slot=SLOT)
    assert outcome.score == outcome.max_score, {t.nodeid: t.message for t in outcome.tests if not t.passed}
