"""One isolated pytest session in the grader's process: its command line, its plugins, and its cleanup.

Shared by grading (grade.py), the pre-deploy check (check.py) and the handout's rubric counts
(handoutgen.py): the assignment's tests only, isolated from any ini file, outer conftest.py, cache or
auto-loaded plugin, and forgotten afterwards so the next session imports fresh copies.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from autograder.framework.harness import Harness
from autograder.framework.rubric import Assignment


class JsonReportCatcher:
    """Keeps pytest-json-report's report object (the plugin drops it at unconfigure)."""

    def __init__(self) -> None:
        self.report: dict[str, Any] | None = None

    @pytest.hookimpl(optionalhook=True)
    def pytest_json_modifyreport(self, json_report: dict[str, Any]) -> None:
        """Store the finished report."""
        self.report = json_report


def isolated_args(tests_dir: Path) -> list[str]:
    """The assignment's tests only, isolated from any ini file, outer conftest.py or cache."""
    return [
        str(tests_dir),
        f"--rootdir={tests_dir}",
        f"--confcutdir={tests_dir}",
        "-c",
        os.devnull,
        "-p",
        "no:cacheprovider",
        "--import-mode=importlib",
    ]


def collect_tests(assignment: Assignment, select: Sequence[str] = ()) -> tuple[int, Harness, str]:
    """Collect (never run) the assignment's tests, only those `select` picks if given: pytest's exit code,
    the harness (one record per collected test, and any rubric-mark problems) and what pytest printed."""
    tests_dir = assignment.tests_dir.resolve()
    # Fixtures never run when collecting: a backend with neither a student nor a reference will do.
    harness = Harness(assignment, SimpleNamespace(student=None, reference=None))
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            code = run_pytest_isolated([*pytest_args(tests_dir, False, select), "--collect-only"], [harness])
    finally:
        forget_modules_under(tests_dir)
    return int(code), harness, printed.getvalue()


def pytest_args(tests_dir: Path, quiet: bool, select: Sequence[str] = ()) -> list[str]:
    """pytest's command line for grading: isolated_args plus strict marks and the JSON report.

    `select` (from selection_args): absolute node ids replace the tests folder; options (`-k EXPR`) are added.
    """
    isolated = isolated_args(tests_dir)
    paths = [a for a in select if a.startswith("/")]
    if paths:
        isolated = [*paths, *isolated[1:]]
    return [
        *isolated,
        *(a for a in select if not a.startswith("/")),
        "--strict-markers",
        # Checks raise CheckFailed, never bare asserts: rewriting ~100 modules per run is wasted time.
        "--assert=plain",
        "--json-report",
        "--json-report-file=none",
        "--no-header",
        "-q",
        *(["-q", "--tb=no", "-rN", "-p", "no:warnings"] if quiet else ["--tb=short"]),
    ]


def run_pytest_isolated(args: list[str], plugins: list[Any]) -> int | pytest.ExitCode:
    """pytest.main with only the plugins grading needs.

    Whatever else is installed (hypothesis's plugin costs ~2 s to import) stays out: plugin
    autoloading is off for this call, and pytest-json-report is loaded by name.
    """
    saved = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        return pytest.main(["-p", "pytest_jsonreport.plugin", *args], plugins=plugins)
    finally:
        if saved is None:
            del os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved


def collection_errors(report: dict[str, Any] | None) -> str:
    """The collection errors in a json report, as text for the staff ('' when none): each module and the
    last line of its error, not pytest's traceback (which quotes the tests' source)."""
    failed = [c for c in (report or {}).get("collectors", []) if c.get("outcome") == "failed"]
    return "".join(f"\n{c['nodeid']}: {_last_line(str(c.get('longrepr', '')))}" for c in failed)


def _last_line(text: str) -> str:
    """The last non-blank line of `text`, without pytest's 'E   ' prefix."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1].removeprefix("E").strip()[:500] if lines else "?"


def forget_modules_under(folder: Path) -> None:
    """Drop modules imported from `folder` so the next in-process session imports fresh copies."""
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve().is_relative_to(folder):
            del sys.modules[name]
