"""The pytest plugin that grades: marks, the `student` / `reference` / `rng` fixtures, failure messages.

Shipped verbatim in the student handout, so it imports only pytest, numpy, the standard library and
the pytest/numpy/stdlib-only framework modules (rubric, errors, compare, scoring, scoreboard).

Who runs the student's code and the reference is pluggable (a `Backend`): the grader passes a
sandboxed worker and the reference imported in-process; the handout passes the student's package
imported in-process and reference values recorded at handout-generation time.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib
import importlib.util
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import numpy as np
import pytest

from autograder.framework.budget import TimedReference, TimeKeeper, call_kind
from autograder.framework.compare import CheckFailed
from autograder.framework.errors import (
    UNREADABLE,
    StudentError,
    StudentException,
    StudentTimeout,
    format_student_exception,
    student_traceback,
    with_likely_cause,
)
from autograder.framework.rubric import Assignment
from autograder.framework.scoreboard import Planned, render
from autograder.framework.scoring import VISIBILITIES, TestOutcome, score_tasks
from autograder.framework.text import PRINTED_CAP, cap

DEFAULT_DEADLINE = 5.0  # the longest a student.run call may take (the grader usually allows less: budget.py)
MESSAGE_CAP = 16 * 1024  # bytes of a failure message kept per test (the reports cut further)
TRACEBACK_FRAMES = 12  # innermost frames of an internal error shown to staff
INTERNAL_PREFIX = "internal grader error (not your fault, tell course staff): "
MARKERS = (
    "rubric(task, weight=1): the task this test counts towards and its weight within the task",
    "visibility(kind): who sees this test's result: visible (default), hidden, after_due_date, after_published",
    "deadline(seconds): the longest each student.run call in this test may take (default 5); the grader "
    "allows max(floor, factor x the reference's CPU time for the call), at most this",
)


class StudentRunner(Protocol):
    """Runs a scenario on the student's code and returns plain data, or raises a StudentError."""

    def run(self, scenario: str, *, timeout: float | None = None, **kwargs: Any) -> Any: ...

    def take_output(self) -> str:
        """What the student's code printed since the last call (drained, so each test gets its own)."""
        ...


class ReferenceRunner(Protocol):
    """Runs a scenario on the trusted reference (or replays recorded reference values)."""

    def run(self, scenario: str, **kwargs: Any) -> Any: ...

    def function(self, scenario: str, **kwargs: Any) -> Callable[..., Any]:
        """The scenario as a function of keyword overrides of `kwargs`, for numerical checks."""
        ...


class Backend(Protocol):
    """The two providers the harness's fixtures hand to tests."""

    @property
    def student(self) -> StudentRunner: ...

    @property
    def reference(self) -> ReferenceRunner: ...


def load_package(root: Path, package: str) -> ModuleType:
    """Import `package` from the folder `root` (trusted code only: the reference, or the handout's own).

    It stays in sys.modules under its real name (its modules may import each other lazily); a copy
    of the same name imported from another folder is dropped first.
    """
    root = Path(root).resolve()
    loaded = sys.modules.get(package)
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve().is_relative_to(root):
        return loaded
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        importlib.invalidate_caches()
        return importlib.import_module(package)
    finally:
        sys.path.remove(str(root))


def load_scenarios(path: Path) -> ModuleType:
    """Import the scenarios file under a private name derived from its path (never `scenarios`)."""
    path = Path(path).resolve()
    name = "_autograder_scenarios_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load scenarios from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class InProcessRunner:
    """Runs scenarios on a package imported into this process.

    The grader uses it for the reference. The handout uses it (student=True) for the student's own
    package: then exceptions from the package become StudentException, as the worker would report them.
    """

    def __init__(self, package_root: Path, package: str, scenarios_file: Path, *, student: bool = False) -> None:
        self.package_root, self.package, self.scenarios_file = Path(package_root), package, Path(scenarios_file)
        self.student = student
        self._lib: ModuleType | None = None
        self._scenarios: ModuleType | None = None

    def _scenario(self, name: str) -> Callable[..., Any]:
        """The scenario function called `name`, loading the package and scenarios on first use."""
        if self._scenarios is None:
            self._scenarios = load_scenarios(self.scenarios_file)
        if self._lib is None:
            self._lib = load_package(self.package_root, self.package)
        fn = getattr(self._scenarios, name, None)
        if not callable(fn) or name.startswith("_"):
            raise LookupError(f"no scenario {name!r} in {self.scenarios_file}")
        return fn

    def function(self, scenario: str, **kwargs: Any) -> Callable[..., Any]:
        """The scenario bound to the package and `kwargs`; call it with keyword overrides."""
        return functools.partial(self._scenario(scenario), self._lib, **kwargs)

    def run(self, scenario: str, timeout: float | None = None, **kwargs: Any) -> Any:
        """Run the scenario on copies of `kwargs` (the code under test may modify its inputs).

        `timeout` is accepted for interface parity with the sandboxed worker and not enforced in-process.
        """
        fn = self.function(scenario, **copy.deepcopy(kwargs))
        if not self.student:
            return fn()
        try:
            return fn()
        except Exception as exc:  # the student's code failed: say where, as the worker does
            raise StudentException(
                student_exception_message(scenario, exc, self.package_root / self.package),
                exc_type=type(exc).__name__,
                exc_message=str(exc),
            ) from exc

    def run_timed(self, scenario: str, **kwargs: Any) -> tuple[Any, float]:
        """(run's value, the CPU seconds it took): the grader scales student deadlines from it.

        CPU time, like the worker's deadlines: the ratio of the two does not depend on the machine's load.
        """
        fn = self.function(scenario, **copy.deepcopy(kwargs))  # loading the package is not the call's time
        start = time.thread_time()
        value = fn()
        return value, time.thread_time() - start

    def take_output(self) -> str:
        """Nothing: in-process output is captured by pytest itself."""
        return ""


def student_exception_message(scenario: str, exc: BaseException, package_root: Path) -> str:
    """The worker's message format for an exception raised in-process by the student's package.

    Only frames inside `package_root` are shown, with paths relative to its parent (e.g.
    `package/ops/reduce.py`), so the message reads the same on a student's machine as on Gradescope.
    `scenario` is kept for callers; the message itself names the student's code, not the scenario.
    """
    root = Path(package_root).resolve()
    text = student_traceback(exc, root.parent, keep=root)
    message = exc.msg if isinstance(exc, SyntaxError) and exc.msg else str(exc)
    return format_student_exception(type(exc).__name__, message, text)


class StudentHandle:
    """The `student` fixture: runs scenarios on the student's code, each call under its own deadline
    (scaled from the reference's time for the same call, at most the test's `deadline`), and accounts
    each call's wall time (import waits and worker restarts included) to the test's task.

    It remembers each call and its result (for this test only) so that a test which crashes on what
    the student's code returned can be told apart from a grader bug (see `unreadable`).
    """

    def __init__(
        self,
        runner: StudentRunner,
        deadline: float,
        *,
        task: str,
        case: str,
        clock: TimeKeeper,
        reference: TimedReference,
        causes: tuple[tuple[str, str, str], ...] = (),
    ) -> None:
        self._runner, self.deadline = runner, deadline  # `deadline`: the test's mark, the most a call may get
        self._causes = causes  # the assignment's likely-cause catalogue (Assignment.likely_causes)
        self._task, self._case, self._clock, self._reference = task, case, clock, reference
        self.calls: list[tuple[str, dict[str, Any], Any]] = []

    def run(self, scenario: str, **kwargs: Any) -> Any:
        """Run `scenario` on the student's code; plain data back, or a StudentError with a readable message."""
        try:
            result = self._timed_run(scenario, kwargs)
        except StudentException as e:
            if not e.exc_type:
                raise
            raise StudentException(
                with_likely_cause(e.message, e.exc_type, e.exc_message, self._causes),
                exc_type=e.exc_type,
                exc_message=e.exc_message,
                traceback=e.traceback,
            ) from None
        self.calls.append((scenario, kwargs, result))
        return result

    def _timed_run(self, scenario: str, kwargs: dict[str, Any]) -> Any:
        """The call under its deadline (StudentNotRun once cut off); its wall time counts to the task."""
        seconds = self._reference.seconds(scenario, kwargs)
        kind = call_kind(scenario, kwargs)
        limit = self._clock.deadline(self._task, kind, self.deadline, seconds)  # StudentNotRun when cut off
        start, timed_out = time.monotonic(), False
        try:
            return self._runner.run(scenario, timeout=limit.seconds, **kwargs)
        except StudentTimeout as e:
            timed_out = True
            if limit.clipped:
                raise StudentTimeout(
                    f"{e.message}\n  The check was stopped early: {self._clock.spent_message()}."
                ) from None
            if seconds is not None and limit.seconds < self.deadline:
                budget = self._clock.budget
                raise StudentTimeout(
                    f"{e.message}\n  (The limit for this call is {budget.factor:g} times the "
                    f"reference solution's CPU time for it, at least {budget.floor:g} s.)"
                ) from None
            raise
        finally:
            self._clock.record(self._task, kind, self._case, time.monotonic() - start, timed_out)


def _describe(x: Any) -> str:
    """What a plain-data value is, for messages: 'None', 'a str', 'a list of 3 items', 'an array of shape (3, 5)'."""
    if x is None:
        return "None"
    if isinstance(x, dict):
        return "a dict"
    if isinstance(x, list):
        return f"a list of {len(x)} items"
    if isinstance(x, str):
        return "a str"
    if isinstance(x, np.ndarray) and x.ndim:
        return f"an array of {'complex numbers of ' if x.dtype.kind == 'c' else ''}shape {x.shape}"
    if isinstance(x, (complex, np.complexfloating)) or (isinstance(x, np.ndarray) and x.dtype.kind == "c"):
        return "a complex number"
    return "a number"


def _real(x: Any) -> bool:
    """Whether `x` is a real number or an array of them (bool/int/float, numpy or not), within int64."""
    if isinstance(x, bool) or isinstance(x, float):
        return True
    if isinstance(x, int):
        return -(2**63) <= x < 2**64
    return isinstance(x, (np.ndarray, np.generic)) and np.asarray(x).dtype.kind in "biuf"


def unreadable(got: Any, want: Any, where: str = "the result") -> str | None:
    """Why the student's `got` does not have the form of the reference's `want` (same containers, keys,
    lengths, shapes; real where real, None where None), or None when it does.

    Only asked after a check crashed: data of the reference's form that crashes a check is a grader
    bug; data of another form is the student's ("returned something the grader cannot read").
    """
    stack = [(got, want, where)]
    while stack:
        g, w, at = stack.pop()
        if isinstance(w, dict):
            if not isinstance(g, dict):
                return f"{at} is {_describe(g)} where the grader expects a dict"
            missing = [k for k in w if k not in g]
            extra = [k for k in g if k not in w]
            if missing or extra:
                return f"{at} has keys {sorted(g)!r} where the grader expects {sorted(w)!r}"
            stack.extend((g[k], w[k], f"{at}[{k!r}]") for k in w)
        elif isinstance(w, list):
            if not isinstance(g, list) or len(g) != len(w):
                return f"{at} is {_describe(g)} where the grader expects {_describe(w)}"
            stack.extend((g[i], w[i], f"{at}[{i}]") for i in range(len(w)))
        elif w is None or isinstance(w, str):
            if type(g) is not type(w):
                return f"{at} is {_describe(g)} where the grader expects {_describe(w)}"
        elif _real(w):
            if not _real(g) or np.shape(g) != np.shape(w):
                return f"{at} is {_describe(g)} where the grader expects {_describe(w)}"
        elif type(g) is not type(w) and _describe(g) != _describe(w):
            return f"{at} is {_describe(g)} where the grader expects {_describe(w)}"
    return None


def short_traceback(exc: BaseException, limit: int = TRACEBACK_FRAMES) -> str:
    """Staff-only detail of an internal error: its type and message and its innermost frames as
    `file:line in function`, never source lines (hidden tests and the reference stay out of every
    output), with the exception it came from, if any, on one more line."""
    frames = traceback.extract_tb(exc.__traceback__)[-limit:]
    lines = [f"{type(exc).__name__}: {cap(str(exc), 2048)}"]
    lines += [f"  at {Path(f.filename).name}:{f.lineno} in {f.name}" for f in frames]
    cause = exc.__cause__ or exc.__context__
    if cause is not None:
        lines.append(f"  (while handling {type(cause).__name__}: {cap(str(cause), 512)})")
    return "\n".join(lines)


def seed_key(nodeid: str) -> str:
    """'<file name>::<test id>': the same for a test in the grader and in the handout (different rootdirs)."""
    path, _, rest = nodeid.partition("::")
    return f"{Path(path).name}::{rest}"


def seed_for(nodeid: str, salt: str = "") -> int:
    """A stable 64-bit seed for a test (sha256, unlike hash(), is the same in every process).

    The grader passes a salt derived from the handin, so its inputs are ones no handin could have
    seen (the handout ships recorded answers for the unsalted ones); "" keeps those recorded inputs.
    """
    key = seed_key(nodeid) if not salt else f"{salt}\0{seed_key(nodeid)}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def classify(exc: BaseException) -> tuple[str, bool]:
    """(student-readable message, is it the grader's fault) for an exception raised by a test."""
    if isinstance(exc, StudentError):
        return cap(exc.message, MESSAGE_CAP), False
    if isinstance(exc, (CheckFailed, pytest.fail.Exception)):
        return cap(str(exc), MESSAGE_CAP), False
    return cap(f"{INTERNAL_PREFIX}{type(exc).__name__}: {exc}", MESSAGE_CAP), True


def outcome_from(nodeid: str, passed: bool, duration: float, record: dict[str, Any]) -> TestOutcome:
    """The scoring view of one test: pytest's verdict plus the harness's record for it."""
    message = record.get("message", "")
    if not passed and not message:  # skipped, or failed in a way no hook saw: never worth points
        message = "did not run to completion (skipped or errored)"
    return TestOutcome(
        nodeid=nodeid,
        task=record["task"],
        weight=record["weight"],
        visibility=record["visibility"],
        passed=passed,
        message="" if passed else message,
        output=record.get("output", ""),
        duration=duration,
        internal=bool(record.get("internal")) and not passed,
    )


def mark_arg(item: pytest.Item, mark: str, position: int, keyword: str, default: Any) -> Any:
    """The closest `mark`'s argument, given by keyword or at `position`; `default` without the mark or argument."""
    found = item.get_closest_marker(mark)
    if found is None:
        return default
    if keyword in found.kwargs:
        return found.kwargs[keyword]
    return found.args[position] if len(found.args) > position else default


def rubric_mark(item: pytest.Item) -> tuple[Any, Any] | None:
    """(task, weight) of the item's closest `rubric` mark as written (weight 1 when not given), or None
    without the mark: the one reading of the mark, for the harness, the handout generator and `--task`."""
    if item.get_closest_marker("rubric") is None:
        return None
    return mark_arg(item, "rubric", 0, "task", None), mark_arg(item, "rubric", 1, "weight", 1)


def _positive_number(x: Any) -> bool:
    """True for an int or float (not a bool) above 0."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0


class Harness:
    """The grading pytest plugin; register one instance per session (pytest.main(plugins=[...]))."""

    def __init__(
        self,
        assignment: Assignment,
        backend: Backend,
        *,
        scoreboard: bool = False,
        planned: Planned | None = None,
        salt: str = "",
    ) -> None:
        self.assignment, self.backend, self.scoreboard = assignment, backend, scoreboard
        self.planned = planned  # the checks of a full run per task: the scoreboard marks partial runs
        self.salt = salt  # seeds every `rng` (see seed_for); "" in the handout
        self.records: dict[str, dict[str, Any]] = {}  # nodeid -> task, weight, visibility, message, output...
        self.handles: dict[str, StudentHandle] = {}  # nodeid -> the running test's `student` fixture
        self.problems: list[str] = []  # test-authoring mistakes found at collection
        # The time budget counts from here: the worker's first import, every call, restart and import wait.
        self.clock = TimeKeeper(assignment.budget)
        self.timed_reference = TimedReference(backend.reference)

    # -- configuration and collection --------------------------------------------------------------
    def pytest_configure(self, config: pytest.Config) -> None:
        """Declare the marks so that --strict-markers catches typos such as `rubrik`."""
        for line in MARKERS:
            config.addinivalue_line("markers", line)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Read each test's marks into its record; a missing or wrong mark stops the session at once."""
        known = {t.id for t in self.assignment.tasks}
        for item in items:
            problem = self._read_marks(item, known)
            if problem:
                self.problems.append(f"{item.nodeid}: {problem}")
        if self.problems:
            raise pytest.UsageError(
                "rubric marks are wrong (course staff must fix the tests):\n  " + "\n  ".join(self.problems)
            )

    def _read_marks(self, item: pytest.Item, known: set[str]) -> str:
        """Fill self.records[item.nodeid] from the item's marks; return what is wrong ('' if nothing)."""
        mark = rubric_mark(item)
        if mark is None:
            return "no @pytest.mark.rubric(task=...) mark: every test must count towards a task"
        task, weight = mark
        visibility = mark_arg(item, "visibility", 0, "kind", "visible")
        deadline = mark_arg(item, "deadline", 0, "seconds", DEFAULT_DEADLINE)
        if str(task) not in known:
            return f"rubric task {task!r} is not in the task table ({', '.join(sorted(known))})"
        if not _positive_number(weight):
            return f"rubric weight {weight!r} must be a positive number"
        if visibility not in VISIBILITIES:
            return f"visibility {visibility!r} is not one of {', '.join(VISIBILITIES)}"
        if not _positive_number(deadline):
            return f"deadline {deadline!r} must be a positive number of seconds"
        self.records[item.nodeid] = {
            "task": str(task),
            "weight": float(weight),
            "visibility": visibility,
            "deadline": float(deadline),
        }
        return ""

    # -- fixtures ----------------------------------------------------------------------------------
    @pytest.fixture
    def student(self, request: pytest.FixtureRequest) -> StudentHandle:
        """Runs scenarios on the student's code (sandboxed in the grader) under the test's deadline.

        A test that starts past the time budget fails here ("not run").
        """
        runner = self.backend.student
        runner.take_output()  # drop anything printed before this test (e.g. by an earlier test's leftovers)
        record = self.records[request.node.nodeid]
        self.timed_reference.forget()
        self.clock.check(record["task"])
        handle = StudentHandle(
            runner,
            record["deadline"],
            task=record["task"],
            case=request.node.nodeid.split("::", 1)[-1],
            clock=self.clock,
            reference=self.timed_reference,
            causes=self.assignment.likely_causes,
        )
        self.handles[request.node.nodeid] = handle
        return handle

    @pytest.fixture
    def reference(self) -> ReferenceRunner:
        """Runs scenarios on the reference: `.run(...)` for values, `.function(...)` for numerical checks."""
        return self.timed_reference

    @pytest.fixture
    def rng(self, request: pytest.FixtureRequest) -> np.random.Generator:
        """A generator seeded from the test's id (and the salt): the same draws on every run and machine."""
        return np.random.default_rng(seed_for(request.node.nodeid, self.salt))

    # -- outcomes ----------------------------------------------------------------------------------
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]):
        """Record each phase's failure message and the student's output; show students only that message."""
        record = self.records.get(item.nodeid)
        failure = None
        if record is not None and call.excinfo is not None and not call.excinfo.errisinstance(pytest.skip.Exception):
            failure = classify(call.excinfo.value)
            if failure[1]:
                blame = self._student_data_problem(item.nodeid)
                if blame:
                    failure = (cap(f"{UNREADABLE}: {blame}.", MESSAGE_CAP), False)
            if "message" not in record:  # the first failure is the one worth reading
                record["message"], record["internal"] = failure
                if failure[1]:  # staff-only detail: grade.py prints it to stderr (no source lines)
                    record["traceback"] = short_traceback(call.excinfo.value)
        if record is not None and call.when == "teardown":
            self.handles.pop(item.nodeid, None)
            if "student" in getattr(item, "fixturenames", ()):
                printed = self.backend.student.take_output()
                if printed:
                    record["output"] = cap(printed, PRINTED_CAP)
        outcome = yield
        report = outcome.get_result()
        if failure is not None and report.failed:
            # Exactly the student-readable message (or, for an internal error, the short staff detail):
            # pytest's own traceback would print hidden-test source.
            detail = short_traceback(call.excinfo.value) if call.excinfo is not None else ""
            report.longrepr = failure[0] if not failure[1] else f"{failure[0]}\n{detail}"

    def _student_data_problem(self, nodeid: str) -> str | None:
        """Why what the student's code returned in this test does not have the reference's form, or None
        (also None when the reference cannot answer: then the crash stays the grader's)."""
        handle = self.handles.get(nodeid)
        for scenario, kwargs, got in handle.calls if handle is not None else ():
            try:
                want = self.backend.reference.run(scenario, **kwargs)
            except Exception:
                return None
            problem = unreadable(got, want, f"the result of scenario {scenario!r}")
            if problem:
                return problem
        return None

    @pytest.hookimpl(optionalhook=True)
    def pytest_json_runtest_metadata(self, item: pytest.Item, call: pytest.CallInfo[None]) -> dict[str, Any]:
        """Hand the record to pytest-json-report (the grader reads outcomes from its report)."""
        return dict(self.records.get(item.nodeid, {}))

    def outcomes(self, reports: Iterable[pytest.TestReport]) -> list[TestOutcome]:
        """Fold pytest's per-phase reports into one outcome per test (for the handout's scoreboard)."""
        passed: dict[str, bool] = {}
        duration: dict[str, float] = {}
        for r in reports:
            if r.nodeid in self.records and r.when in ("setup", "call", "teardown"):
                passed[r.nodeid] = passed.get(r.nodeid, True) and r.passed
                duration[r.nodeid] = duration.get(r.nodeid, 0.0) + r.duration
        return [outcome_from(n, passed[n], duration[n], self.records[n]) for n in passed]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """With scoreboard=True, print the scoreboard of the tasks whose tests ran."""
        if not self.scoreboard:
            return
        reports = [r for rs in terminalreporter.stats.values() for r in rs if isinstance(r, pytest.TestReport)]
        scores = score_tasks(self.assignment.tasks, self.outcomes(reports), require_all=False)
        if scores:
            terminalreporter.write_sep("=", "scoreboard")
            terminalreporter.write_line(render(scores, self.planned))
