"""How the public tests run on a student's machine (no sandbox, no reference solution).

The grader runs student code in a sandboxed worker and computes expected values with the reference.
Here neither exists, so the handout's conftest.py plugs two stand-ins into the same harness:

- `InProcessStudent` runs a scenario on your package in this process, with a per-call time limit
  (SIGALRM, on Linux/macOS) and with what your code prints captured and shown with the failure.
- `RecordedReference` answers `reference.run(...)` from tests/expected.npz: the reference's results for
  exactly these public tests, recorded when the handout was generated (keyed by a hash of the scenario
  name and its arguments). `reference.function(...)` (used by the numerical gradient checks) runs the
  scenario's *forward* on your own package: forward passes are given code, not your work.

`RecordingReference` is how expected.npz was made: the generator runs these tests once with the
reference library in place of yours and saves every answer.
The grader on Gradescope runs the same test files, plus hidden ones, in a sandbox.
`assignment_from_config` turns tests/_support/assignment.json (see handout_config.py) into the Assignment
the harness grades with.
"""

from __future__ import annotations

import contextlib
import copy
import io
import signal
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from autograder.framework import channel, errors
from autograder.framework.channel import call_key  # the grader's cache uses the same key
from autograder.framework.harness import DEFAULT_DEADLINE, InProcessRunner, student_exception_message
from autograder.framework.rubric import Assignment, FeedbackPolicy, Task, TimeBudget
from autograder.framework.text import PRINTED_CAP
from autograder.framework.zips import write_zip

# Characters of printed output kept per call: at least PRINTED_CAP bytes of UTF-8 whatever the text, and
# more than that, so the harness's byte cap (text.PRINTED_CAP) still says the output was cut.
CAPTURE_CHARS = 4 * PRINTED_CAP


class _Deadline(BaseException):
    """Raised by the alarm; a BaseException so that `except Exception` in student code cannot swallow it."""


# ------------------------------------------------------------------------------------- the assignment


def assignment_from_config(config: Mapping[str, Any], handout_root: Path) -> Assignment:
    """The Assignment described by the handout's assignment.json (handout_config.py), rooted at `handout_root`:
    the package is graded where it lies in the handout, the scenarios and data where the generator put them."""
    root = Path(handout_root)
    return Assignment(
        name=config["name"],
        package=config["package"],
        tasks=tuple(Task(**task) for task in config["tasks"]),
        reference_root=root,
        tests_dir=root / "tests",
        scenarios_file=root / config["scenarios"],
        data_files=tuple(root / rel for rel in config["data_files"]),
        feedback=FeedbackPolicy(**config["feedback"]),
        budget=TimeBudget(**config["budget"]),
        likely_causes=tuple((kind, pattern, cause) for kind, pattern, cause in config["likely_causes"]),
    )


# ------------------------------------------------------------------------------------- expected.npz


def save_recordings(path: Path, recordings: dict[str, Any]) -> None:
    """Write `recordings` (key -> result) in the grader's wire format (channel.py: JSON + arrays, no pickle).

    np.savez stamps the current time into the archive; the entries are rewritten with a fixed one so that
    the same answers always give the same bytes (the committed handout is compared with a fresh one).
    """
    data = channel.encode({key: _floats_as_arrays(recordings[key]) for key in sorted(recordings)})
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        entries = {name: src.read(name) for name in src.namelist()}
    write_zip(path, entries, compress=False)  # stored entries: what np.load and channel.decode expect


def _floats_as_arrays(tree: Any) -> Any:
    """Python floats as np.float64 (still floats), so every recorded number lives in an array entry and
    the JSON part holds structure only: a last-bit difference then never changes the JSON text."""
    if type(tree) is float:
        return np.float64(tree)
    if isinstance(tree, (list, tuple)):
        return [_floats_as_arrays(v) for v in tree]
    if isinstance(tree, dict):
        return {k: _floats_as_arrays(v) for k, v in tree.items()}
    return tree


def load_recordings(path: Path) -> dict[str, Any]:
    """key -> recorded result, decoded and checked by channel.decode (allow_pickle=False)."""
    return channel.decode(Path(path).read_bytes())


# ------------------------------------------------------------------------------------- running code


@contextlib.contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """Raise _Deadline after `seconds` of wall time (no limit where SIGALRM is unavailable, e.g. Windows)."""
    usable = seconds and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise _Deadline()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _CappedText(io.StringIO):
    """A StringIO that keeps only the first CAPTURE_CHARS characters (a print loop cannot fill memory)."""

    def write(self, s: str) -> int:
        room = CAPTURE_CHARS - self.tell()
        if room > 0:
            super().write(s[:room])
        return len(s)


class InProcessStudent(InProcessRunner):
    """Runs scenarios on the `package` in `root` (your handout folder) in this process, like the grader's worker:
    a deadline per call, printed output captured, plain data back, exceptions as readable StudentErrors."""

    def __init__(self, root: Path, package: str, scenarios_file: Path) -> None:
        super().__init__(root, package, scenarios_file, student=True)
        self._output = ""

    def run(self, scenario: str, timeout: float | None = None, **kwargs: Any) -> Any:
        """Run `scenario` on your package under `timeout` seconds; its result as plain data."""
        try:
            fn = self.function(scenario, **copy.deepcopy(kwargs))  # imports your package on first use
        except LookupError:
            raise
        except Exception as exc:  # SyntaxError, ImportError, NameError at import time: all yours to fix
            raise errors.SubmissionError(self._import_message(exc)) from None
        limit = DEFAULT_DEADLINE if timeout is None else timeout
        out = _CappedText()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), _deadline(limit):
                result = fn()
        except _Deadline:
            raise errors.StudentTimeout(
                f"{scenario}: timed out after {limit:g} s (an infinite loop? a graph traversal that revisits "
                "nodes takes exponential time on a chain of diamonds)"
            ) from None
        except Exception as exc:
            # Only frames inside the package are shown: the scenario and the tests are not the student's code.
            mine = self.package_root / self.package
            raise errors.StudentException(
                student_exception_message(scenario, exc, mine), exc_type=type(exc).__name__, exc_message=str(exc)
            ) from None
        finally:
            printed = out.getvalue()
            self._output += printed[: max(0, CAPTURE_CHARS - len(self._output))]
            # Echo to pytest's own capture too, so a failing test shows it under "Captured stdout call".
            sys.stdout.write(printed)
        try:
            return channel.plain(result, scenario)  # the worker's own conversion: the same messages
        except channel.NotPlainData as exc:
            raise errors.BadObservation(str(exc)) from None

    def take_output(self) -> str:
        """What your code printed since the last call (capped), then forget it."""
        text, self._output = self._output, ""
        return text

    def _import_message(self, exc: BaseException) -> str:
        """Why `import <package>` failed, with the file and line when Python knows them."""
        where = ""
        if isinstance(exc, SyntaxError) and exc.filename:
            where = f" at {_relative(exc.filename, self.package_root)}:{exc.lineno}"
        text = f"`import {self.package}` failed{where}: {type(exc).__name__}: {exc}"
        frames = student_exception_message("import", exc, self.package_root / self.package).split("\n", 1)[1:]
        return text + ("\n" + frames[0] if frames else "")


def _relative(filename: str, root: Path) -> str:
    try:
        return Path(filename).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return filename


class RecordedReference:
    """The reference's answers for the public tests, read from expected.npz; forwards run on your package."""

    def __init__(self, expected: Path, student: InProcessStudent):
        self.expected = Path(expected)
        self.student = student
        self._answers: dict[str, Any] | None = None

    def run(self, scenario: str, timeout: float | None = None, **kwargs: Any) -> Any:
        """The recorded result of `scenario(**kwargs)` on the reference."""
        if self._answers is None:
            self._answers = load_recordings(self.expected)
        key = call_key(scenario, kwargs)
        if key not in self._answers:
            raise LookupError(
                f"no recorded reference answer for {scenario}(...) with these arguments: the public tests or "
                "tests/expected.npz were changed since the handout was generated (restore them from the handout)"
            )
        return copy.deepcopy(self._answers[key])  # a fresh copy: a test may modify what it gets

    def function(self, scenario: str, **kwargs: Any) -> Callable[..., Any]:
        """`scenario` (a forward pass: given code, not your work) run on YOUR package, with keyword overrides."""

        def f(**overrides: Any) -> Any:
            return self.student.run(scenario, **{**kwargs, **overrides})

        return f


class RecordingReference:
    """The reference run in-process, remembering every `run` answer (used once, at handout generation)."""

    def __init__(self, runner: InProcessRunner) -> None:
        self.runner = runner
        self.recordings: dict[str, Any] = {}

    def run(self, scenario: str, timeout: float | None = None, **kwargs: Any) -> Any:
        """The reference's result, recorded under call_key(scenario, kwargs)."""
        result = self.runner.run(scenario, **kwargs)
        self.recordings[call_key(scenario, kwargs)] = copy.deepcopy(result)
        return result

    def function(self, scenario: str, **kwargs: Any) -> Callable[..., Any]:
        """The reference scenario with keyword overrides (not recorded: the handout uses your forward)."""
        return self.runner.function(scenario, **kwargs)

    def save(self, path: Path) -> None:
        """Write every recorded answer to `path` (expected.npz)."""
        save_recordings(path, self.recordings)
