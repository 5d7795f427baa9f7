"""The harness plugin, run in-process on small test files against a fake student backend (no worker)."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autograder.framework.errors import StudentException, StudentTimeout
from autograder.framework.harness import (
    INTERNAL_PREFIX,
    Harness,
    InProcessRunner,
    load_package,
    seed_for,
    seed_key,
)
from conftest import Toy, write_toy

HEADER = """
import numpy as np
import pytest
from autograder.framework.compare import CheckFailed
"""


class FakeStudent:
    """Runs scenarios on the reference in-process, or fails as told; remembers each call's timeout."""

    def __init__(
        self, reference: InProcessRunner, fail: dict[str, BaseException] | None = None, printed: str = ""
    ) -> None:
        self.reference, self.fail, self.printed = reference, fail or {}, printed
        self.timeouts: list[float | None] = []
        self.pending = ""

    def run(self, scenario: str, timeout: float | None = None, **kwargs: Any) -> Any:
        self.timeouts.append(timeout)
        self.pending += self.printed
        if scenario in self.fail:
            raise self.fail[scenario]
        return self.reference.run(scenario, **kwargs)

    def take_output(self) -> str:
        text, self.pending = self.pending, ""
        return text


class Backend:
    def __init__(self, toy: Toy, **fake: Any) -> None:
        a = toy.assignment
        self.reference = InProcessRunner(a.reference_root, a.package, a.scenarios_file)
        self.student = FakeStudent(self.reference, **fake)


class Reports:
    """Collects pytest's per-phase reports by node id."""

    def __init__(self) -> None:
        self.by_node: dict[str, list[pytest.TestReport]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.by_node.setdefault(report.nodeid, []).append(report)

    def failure(self, name: str) -> str:
        """The failing report's text for the test whose node id ends with `name`."""
        reports = next(v for k, v in self.by_node.items() if k.endswith(name))
        return next(str(r.longrepr) for r in reports if r.failed)


def run_session(tmp_path: Path, source: str, backend: Backend, toy: Toy) -> tuple[int, Harness, Reports]:
    """Run one test file (named after this test, so module names never collide) under a fresh Harness."""
    tests = tmp_path / "session"
    tests.mkdir()
    (tests / f"test_{tmp_path.name}.py").write_text(HEADER + textwrap.dedent(source))
    harness, reports = Harness(toy.assignment, backend), Reports()
    code = pytest.main(
        [
            str(tests),
            f"--rootdir={tests}",
            "-c",
            "/dev/null",
            "-p",
            "no:cacheprovider",
            "--import-mode=importlib",
            "-q",
        ],
        plugins=[harness, reports],
    )
    return code, harness, reports


@pytest.fixture
def toy(tmp_path: Path) -> Toy:
    return write_toy(tmp_path / "toy")


def test_marks_read_into_records_and_deadline_reaches_runner(tmp_path: Path, toy: Toy) -> None:
    backend = Backend(toy)
    code, harness, _ = run_session(
        tmp_path,
        """
        @pytest.mark.rubric(task="2", weight=3)
        @pytest.mark.visibility("hidden")
        @pytest.mark.deadline(0.3)
        def test_mul(student, reference):
            a = np.arange(3.0)
            assert np.array_equal(student.run("mul", a=a, b=a)["out"], a * a)

        @pytest.mark.rubric("1")
        def test_add(student):
            student.run("add", a=1.0, b=2.0)
    """,
        backend,
        toy,
    )
    assert code == 0
    (mul, rec_mul), (add, rec_add) = sorted(harness.records.items(), key=lambda kv: not kv[0].endswith("mul"))
    assert (rec_mul["task"], rec_mul["weight"], rec_mul["visibility"], rec_mul["deadline"]) == ("2", 3.0, "hidden", 0.3)
    assert (rec_add["task"], rec_add["weight"], rec_add["visibility"], rec_add["deadline"]) == (
        "1",
        1.0,
        "visible",
        5.0,
    )
    # The mark is a ceiling: the toy reference answers in microseconds, so a call gets the budget's floor
    # (0.5 s) unless its mark is lower (budget.py scales deadlines from the reference's time).
    assert sorted(backend.student.timeouts) == [0.3, 0.5]


@pytest.mark.parametrize(
    "marks, problem",
    [
        ("", "no @pytest.mark.rubric"),
        ('@pytest.mark.rubric(task="9")', "rubric task '9' is not in the task table"),
        ('@pytest.mark.rubric(task="1", weight=0)', "rubric weight 0 must be a positive number"),
        ('@pytest.mark.rubric(task="1")\n@pytest.mark.visibility("secret")', "visibility 'secret' is not one of"),
        ('@pytest.mark.rubric(task="1")\n@pytest.mark.deadline(-1)', "deadline -1 must be a positive number"),
    ],
)
def test_wrong_marks_stop_the_session_at_collection(tmp_path: Path, toy: Toy, marks: str, problem: str) -> None:
    backend = Backend(toy)
    code, harness, reports = run_session(
        tmp_path, f"{marks}\ndef test_x(student):\n    student.run('add', a=1, b=2)\n", backend, toy
    )
    assert code == pytest.ExitCode.USAGE_ERROR
    assert len(harness.problems) == 1 and problem in harness.problems[0] and "test_x" in harness.problems[0]
    assert backend.student.timeouts == [] and reports.by_node == {}  # nothing ran


def test_student_error_message_is_exactly_the_failure(tmp_path: Path, toy: Toy) -> None:
    backend = Backend(toy, fail={"mul": StudentTimeout("mul: your code took longer than 0.5 s (infinite loop?)")})
    code, harness, reports = run_session(
        tmp_path,
        """
        @pytest.mark.rubric(task="2")
        def test_mul(student):
            student.run("mul", a=1.0, b=2.0)
    """,
        backend,
        toy,
    )
    assert code == pytest.ExitCode.TESTS_FAILED
    # The harness adds how the (scaled) limit was set, and nothing else: no grader traceback.
    want = (
        "mul: your code took longer than 0.5 s (infinite loop?)\n"
        "  (The limit for this call is 50 times the reference solution's CPU time for it, at least 0.5 s.)"
    )
    assert reports.failure("test_mul") == want
    (record,) = harness.records.values()
    assert record["message"] == want and not record["internal"]


def test_check_failed_and_pytest_fail_are_student_failures(tmp_path: Path, toy: Toy) -> None:
    _, harness, reports = run_session(
        tmp_path,
        """
        @pytest.mark.rubric(task="1")
        def test_check(student):
            raise CheckFailed("add: expected 3.0, got 4.0")

        @pytest.mark.rubric(task="1")
        def test_fail(student):
            pytest.fail("add: result has shape (2,), expected (3,)")
    """,
        Backend(toy),
        toy,
    )
    assert reports.failure("test_check") == "add: expected 3.0, got 4.0"
    assert reports.failure("test_fail") == "add: result has shape (2,), expected (3,)"
    assert not any(r["internal"] for r in harness.records.values())


def test_other_exceptions_are_internal_grader_errors(tmp_path: Path, toy: Toy) -> None:
    _, harness, reports = run_session(
        tmp_path,
        """
        @pytest.mark.rubric(task="3")
        def test_typo(student, reference):
            reference.run("sqaure", x=np.ones(2))
    """,
        Backend(toy),
        toy,
    )
    (record,) = harness.records.values()
    assert record["internal"] is True
    assert record["message"] == INTERNAL_PREFIX + "LookupError: no scenario 'sqaure' in " + str(
        toy.assignment.scenarios_file
    )
    assert "test_typo" in record["traceback"]  # the staff-only detail names the broken test
    assert "LookupError" in reports.failure("test_typo")  # staff keep the full traceback in pytest's output


def test_student_output_is_attached_and_drained_per_test(tmp_path: Path, toy: Toy) -> None:
    backend = Backend(toy, printed="debug: hello\n")
    backend.student.pending = "left over from before\n"
    _, harness, _ = run_session(
        tmp_path,
        """
        @pytest.mark.rubric(task="1")
        def test_a(student):
            student.run("add", a=1.0, b=2.0)

        @pytest.mark.rubric(task="1")
        def test_b(student):
            student.run("add", a=1.0, b=2.0)
            student.run("add", a=1.0, b=2.0)
    """,
        backend,
        toy,
    )
    outputs = {k.rsplit("::", 1)[1]: r["output"] for k, r in harness.records.items()}
    assert outputs == {"test_a": "debug: hello\n", "test_b": "debug: hello\ndebug: hello\n"}


def test_rng_is_seeded_from_the_test_id(tmp_path: Path, toy: Toy) -> None:
    _, _, reports = run_session(
        tmp_path,
        """
        @pytest.mark.rubric(task="1")
        @pytest.mark.parametrize("k", [0, 1])
        def test_draw(rng, k, record_property):
            record_property("draw", float(rng.standard_normal()))
    """,
        Backend(toy),
        toy,
    )
    draws = {n: dict(r.user_properties)["draw"] for n, rs in reports.by_node.items() for r in rs if r.when == "call"}
    assert len(draws) == 2
    for nodeid, draw in draws.items():  # sha256 of "<file>::<test id>", never Python's per-process hash()
        seed = int.from_bytes(hashlib.sha256(seed_key(nodeid).encode()).digest()[:8], "big")
        assert draw == np.random.default_rng(seed).standard_normal()
    assert len(set(draws.values())) == 2  # the two parameter sets draw different numbers


def test_seed_key_ignores_the_folder_so_handout_and_grader_agree() -> None:
    assert seed_key("public/test_ops.py::test_mul[3-5]") == seed_key("tests/test_ops.py::test_mul[3-5]")
    assert seed_for("public/test_ops.py::test_mul[3-5]") == seed_for("test_ops.py::test_mul[3-5]")
    assert seed_for("public/test_ops.py::test_mul[3-5]") != seed_for("public/test_ops.py::test_mul[5-3]")


def test_in_process_student_runner_wraps_exceptions_with_package_frames(toy: Toy) -> None:
    broken = toy.submission("broken", arith="def add(a, b):\n    raise ValueError('bad add')\n")
    runner = InProcessRunner(broken, "toylib", toy.assignment.scenarios_file, student=True)
    with pytest.raises(StudentException) as info:
        runner.run("add", a=1, b=2)
    message = info.value.message
    assert message.startswith("ValueError: bad add\nTraceback (your code only, most recent call last):")
    assert 'File "toylib/arith.py", line 2, in add' in message  # relative, as the sandboxed worker shows it
    assert "scenarios.py" not in message  # only the student's frames


def test_reference_runner_copies_inputs_and_offers_functions(toy: Toy) -> None:
    runner = InProcessRunner(toy.assignment.reference_root, "toylib", toy.assignment.scenarios_file)
    a = np.ones(3)
    runner.run("square", x=a)
    f = runner.function("mul", a=np.full(2, 3.0), b=np.full(2, 2.0))
    assert np.array_equal(f()["out"], [6.0, 6.0]) and np.array_equal(f(b=np.ones(2))["out"], [3.0, 3.0])
    assert np.array_equal(a, np.ones(3))
    with pytest.raises(LookupError, match="no scenario '_mod'"):
        runner.run("_mod", name="arith")


def test_load_package_replaces_a_same_named_package_from_elsewhere(tmp_path: Path, toy: Toy) -> None:
    other = toy.submission("other", power="def square(x):\n    return -1\n")
    first = load_package(toy.assignment.reference_root, "toylib")
    assert load_package(toy.assignment.reference_root, "toylib") is first
    second = load_package(other, "toylib")
    assert second is not first and Path(second.__file__).is_relative_to(other)
