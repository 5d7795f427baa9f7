"""Broken submissions (issue 6): each gets exactly the credit its working parts deserve and a clear
message. Graded once each, two at a time (slots 5 and 6), in a module-scoped fixture.

Most cases run on the task-2 suite (tasks 2.1-2.4, 18 points) and break Mul/Div.backward only, so
the expected score is that suite's maximum minus task 2.3's points; two cases use the full suite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from autograder.framework import sandbox
from hostile import broken
from hostile.corpus import REPO
from hostile.harness import MINI_MAX, NOBODY, grade_many, make_mini_tests, messages, points

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="graded with the uid drop, as CI does (root)")

FULL = 100.0
REFUSED = 0.0
LOSE_23 = MINI_MAX - points("2.3")

# name -> (builder, suite "mini"/"full", expected score, words the student's message must contain)
CASES = {
    "empty_archive": (broken.empty_archive, "mini", REFUSED, ["empty"]),
    "wrong_folder_name": (broken.wrong_folder_name, "mini", REFUSED, ["hw1_mytorch", "rename it to 'mytorch/'"]),
    "nested_one_level": (broken.nested_one_level, "mini", MINI_MAX, []),
    "junk_files": (broken.junk_files, "mini", MINI_MAX, []),
    "syntax_error_one_module": (
        broken.syntax_error_one_module,
        "full",
        FULL - points("7.2"),
        ["SyntaxError", "adam.py"],
    ),
    "import_error_one_module": (broken.import_error_one_module, "full", FULL - points("6.1"), ["torch_helpers_v2"]),
    "slow_near_deadline": (broken.slow_near_deadline, "mini", MINI_MAX, []),
    "very_large_file": (broken.very_large_file, "mini", REFUSED, ["weights.npy", "MB"]),
    "large_file_under_limit": (broken.large_file_under_limit, "mini", MINI_MAX, []),
    "non_utf8_names": (broken.non_utf8_names, "mini", MINI_MAX, []),
    "windows_line_endings": (broken.windows_line_endings, "mini", MINI_MAX, []),
    "exception_in_backward": (
        broken.transformed("exception_in_backward"),
        "mini",
        LOSE_23,
        ["KeyError", "grad_a not found"],
    ),
    "nan_gradients": (broken.transformed("nan_gradients"), "mini", LOSE_23, ["nan"]),
    "inf_gradients": (broken.transformed("inf_gradients"), "mini", LOSE_23, ["inf"]),
    "wrong_shape": (broken.transformed("wrong_shape"), "mini", LOSE_23, ["shape"]),
    "float32_gradients": (broken.transformed("float32_gradients"), "mini", LOSE_23, ["float32"]),
    "int_gradients": (broken.transformed("int_gradients"), "mini", LOSE_23, ["int"]),
    "list_instead_of_array": (broken.transformed("list_instead_of_array"), "mini", LOSE_23, ["list"]),
    "none_instead_of_array": (broken.transformed("none_instead_of_array"), "mini", LOSE_23, ["None"]),
    "inplace_modifies_input": (broken.transformed("inplace_modifies_input"), "mini", LOSE_23, ["place"]),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade every broken case once."""
    mini = make_mini_tests(tmp_path_factory.mktemp("mini"))
    base = tmp_path_factory.mktemp("broken")
    jobs = []
    for name, (build, suite, _, _) in CASES.items():
        work = base / name
        work.mkdir()
        jobs.append((name, build(work), work, {"tests_dir": mini} if suite == "mini" else {}))
    results = grade_many(jobs)
    print("\nbroken timings: " + ", ".join(f"{n} {g.seconds:.1f}s" for n, g in results.items()))
    return results


KNOWN_GAPS: dict[str, str] = {  # cases the grader does not handle yet (strict xfail: fixing them fails loudly)
}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN_GAPS[n], strict=True)) if n in KNOWN_GAPS else n
        for n in CASES
    ],
)
def test_broken_case_gets_deserved_credit(graded, schema, name):
    """Exactly the expected score, a valid report, and a message that names the problem."""
    _, suite, expected, words = CASES[name]
    g = graded[name]
    assert g.returncode == 0 and g.report is not None, f"{name}: rc {g.returncode}\n{g.stderr[-3000:]}"
    schema(g.report)
    text = messages(g.report)
    assert g.score == pytest.approx(expected), f"{name}: score {g.score}, expected {expected}\n{text[:3000]}"
    for word in words:
        assert word.lower() in text.lower(), f"{name}: message lacks {word!r}:\n{text[:3000]}"
    if expected not in (REFUSED,):
        assert g.report["tests"][0]["max_score"] > 0


def test_broken_task_message_is_specific(graded):
    """The broken task's entry names the op that failed; the untouched tasks pass with full points."""
    g = graded["nan_gradients"]
    assert "Mul.backward" in g.task_output("2.3") or "Div.backward" in g.task_output("2.3")
    for task in ("2.1", "2.2", "2.4"):
        assert g.task_score(task) == points(task)
    assert g.task_score("2.3") == 0


# ---- a representative subset under Docker's default capabilities and as user nobody (issue 10) ----------

ENV_CASES = ("nested_one_level", "exception_in_backward", "wrong_shape", "non_utf8_names", "slow_near_deadline")


@pytest.fixture(scope="module")
def graded_elsewhere():
    """ENV_CASES graded as root with Docker's default capabilities and as nobody (a copy nobody owns)."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv not available")
    top = Path(tempfile.mkdtemp(prefix="w2a-broken-env-"))
    try:
        for rel in ("autograder", "solutions", "tests/hostile"):
            shutil.copytree(REPO / rel, top / rel, ignore=shutil.ignore_patterns("__pycache__"))
        mini = make_mini_tests(top / "mini")
        jobs = []
        for env in ("docker", "nonroot"):
            for name in ENV_CASES:
                work = top / env / name
                work.mkdir(parents=True)
                jobs.append((f"{env}/{name}", CASES[name][0](work), work, {"tests_dir": mini}))
        subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(top)], check=True)
        jobs = [
            (
                n,
                s,
                w,
                {**kw, "docker": True}
                if n.startswith("docker/")
                else {**kw, "user": NOBODY, "pythonpath": top, "reference_root": top / "solutions" / "hw1p1"},
            )
            for n, s, w, kw in jobs
        ]
        yield grade_many(jobs)
    finally:
        sandbox.remove_tree(top)


@pytest.mark.parametrize("name", ENV_CASES)
@pytest.mark.parametrize("env", ("docker", "nonroot"))
def test_broken_case_gets_deserved_credit_in_other_environments(graded_elsewhere, schema, env, name):
    """The same exact credit where courses run the grader: confinement costs a correct part nothing."""
    _, _, expected, words = CASES[name]
    g = graded_elsewhere[f"{env}/{name}"]
    assert g.returncode == 0 and g.report is not None, f"{env}/{name}: rc {g.returncode}\n{g.stderr[-3000:]}"
    schema(g.report)
    text = messages(g.report)
    assert g.score == pytest.approx(expected), f"{env}/{name}: score {g.score}, expected {expected}\n{text[:3000]}"
    for word in words:
        assert word.lower() in text.lower(), f"{env}/{name}: message lacks {word!r}:\n{text[:3000]}"
