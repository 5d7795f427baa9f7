"""A student's whole workflow, end to end, in a fresh environment that has only numpy and pytest.

handout.zip -> unpack -> `make test` (every task fails with its stub's message) -> write the code (the reference
is copied in) -> `make test` (full marks) -> `make handin` -> `autograder grade handin.zip` (full marks).
The student's virtual environment is made once per module (pip's cache makes it quick after the first time);
without network or an index it is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder.assignments.hw1p1.assignment import ASSIGNMENT

SLOT = 43  # this file's sandbox slot (a worker uid of its own)
SYSTEM_PYTHON = "/usr/bin/python3"  # a student's python3, not the grader's venv
ROW = re.compile(
    r"^(?P<task>\d+(?:\.\d+)?)\s+.*?\s(?P<got>\d+(?:\.\d+)?)/(?P<max>\d+(?:\.\d+)?)\s+"
    r"(?P<status>PASS|PARTIAL|FAIL)\b\s*(?P<first>.*)$"
)
TOTAL = re.compile(r"^\s+TOTAL\s+(?P<got>\d+(?:\.\d+)?)/(?P<max>\d+(?:\.\d+)?)\s*$")
POINTS = {t.id: float(t.points) for t in ASSIGNMENT.tasks}
MAX_TOTAL = sum(POINTS.values())


@dataclass(frozen=True)
class Scoreboard:
    """The console table: task id -> (points got, points max, status, first failure), and the total."""

    rows: dict[str, tuple[float, float, str, str]]
    total: tuple[float, float]


def read_scoreboard(text: str) -> Scoreboard:
    """Parse the scoreboard printed at the end of a run; fails the test when it is missing."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("task ") and "points" in line and "status" in line]
    assert starts, f"no scoreboard in the output:\n{text[-3000:]}"
    rows: dict[str, tuple[float, float, str, str]] = {}
    for line in lines[starts[-1] + 1 :]:
        total = TOTAL.match(line)
        if total:
            return Scoreboard(rows, (float(total["got"]), float(total["max"])))
        row = ROW.match(line)
        if row:
            rows[row["task"]] = (float(row["got"]), float(row["max"]), row["status"], row["first"])
    raise AssertionError(f"the scoreboard has no TOTAL line:\n{text[-3000:]}")


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a command, stdout and stderr merged into .stdout."""
    return subprocess.run(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def student_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a student who made a venv and ran `pip install numpy pytest` (venv activated)."""
    if not Path(SYSTEM_PYTHON).is_file() or shutil.which("make") is None:
        pytest.skip(f"needs {SYSTEM_PYTHON} and make")
    venv = tmp_path_factory.mktemp("student") / "venv"
    made = run([SYSTEM_PYTHON, "-m", "venv", str(venv)], venv.parent, dict(os.environ))
    if made.returncode != 0:
        pytest.skip(f"`{SYSTEM_PYTHON} -m venv` failed (python3-venv missing?): {made.stdout[-500:]}")
    pip = run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", "numpy", "pytest"],
        venv.parent,
        dict(os.environ),
        timeout=300,
    )
    if pip.returncode != 0:
        pytest.skip(
            f"could not pip install numpy and pytest into a fresh venv (no network or index?): "
            f"{pip.stdout.strip()[-500:]}"
        )
    # Nothing of the grader's may leak in: no PYTHONPATH, no outer make's flags or variables (`make test
    # PYTEST_ARGS=...` exports PYTEST_ARGS, which the handout's Makefile reads too), no pytest options.
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "PYTHONPATH",
            "PYTHONHOME",
            "PYTHONSTARTUP",
            "PYTEST_ADDOPTS",
            "MAKEFLAGS",
            "MFLAGS",
            "MAKELEVEL",
            "VIRTUAL_ENV",
            "PYTEST_ARGS",
        }
    }
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    has = run(
        ["python3", "-c", "import numpy, pytest\ntry:\n import autograder\nexcept ImportError: print('ok')"],
        venv.parent,
        env,
    )
    assert has.stdout.strip() == "ok", f"the student's venv is not clean: {has.stdout}"
    return env


def test_handout_zip_to_graded_handin(student_env: dict[str, str], tmp_path: Path) -> None:
    # 1. Course staff build the handout zip; the student unpacks it into an empty folder.
    zip_path = tmp_path / "dist" / "handout.zip"
    built = run(
        [sys.executable, "-m", "autograder", "handout", "--assignment", "hw1p1", "--zip", str(zip_path)],
        tmp_path,
        dict(os.environ),
    )
    assert built.returncode == 0 and zip_path.is_file(), built.stdout
    home = tmp_path / "student"
    home.mkdir()
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(home)
    (handout,) = [p for p in home.iterdir() if p.is_dir()]
    assert (handout / "Makefile").is_file() and (handout / ASSIGNMENT.package / "__init__.py").is_file()

    # 2. `make test` on the untouched handout: every task fails, naming the stub's task.
    first = run(["make", "test"], handout, student_env)
    assert first.returncode != 0, first.stdout[-3000:]
    board = read_scoreboard(first.stdout)
    assert set(board.rows) == set(POINTS), f"scoreboard tasks differ from the rubric:\n{first.stdout[-3000:]}"
    for task, (got, most, status, first_failure) in board.rows.items():
        assert (got, most, status) == (0.0, POINTS[task], "FAIL"), (task, board.rows[task])
        assert "NotImplementedError" in first_failure, (task, first_failure)
        assert f"NotImplementedError: Task {task}:" in first.stdout, f"no failure names task {task}'s stub"
    assert board.total == (0.0, MAX_TOTAL)

    # 3. The student writes the code (the reference is copied over the stubs): full marks locally.
    shutil.rmtree(handout / ASSIGNMENT.package)
    shutil.copytree(
        ASSIGNMENT.reference_root / ASSIGNMENT.package,
        handout / ASSIGNMENT.package,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    second = run(["make", "test"], handout, student_env)
    assert second.returncode == 0, second.stdout[-3000:]
    board = read_scoreboard(second.stdout)
    assert {task: row[:3] for task, row in board.rows.items()} == {t: (p, p, "PASS") for t, p in POINTS.items()}
    assert board.total == (MAX_TOTAL, MAX_TOTAL)

    # 4. `make handin` writes handin.zip with only the package's sources, no stubs left.
    handin = run(["make", "handin"], handout, student_env)
    assert handin.returncode == 0 and "wrote " in handin.stdout, handin.stdout
    assert "still stubbed" not in handin.stdout, handin.stdout
    with zipfile.ZipFile(handout / "handin.zip") as archive:
        names = archive.namelist()
    assert names and all(n.startswith(ASSIGNMENT.package + "/") and n.endswith(".py") for n in names), names

    # 5. The grader (sandboxed worker, hidden tests too) gives the uploaded archive full marks.
    results = tmp_path / "results.json"
    graded = run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            str(handout / "handin.zip"),
            "--assignment",
            "hw1p1",
            "--slot",
            str(SLOT),
            "--results",
            str(results),
            "--quiet",
        ],
        tmp_path,
        dict(os.environ),
        timeout=300,
    )
    assert graded.returncode == 0, graded.stdout[-3000:]
    board = read_scoreboard(graded.stdout)
    assert board.total == (MAX_TOTAL, MAX_TOTAL) and all(r[2] == "PASS" for r in board.rows.values())
    report = json.loads(results.read_text())
    assert report["score"] == MAX_TOTAL
    per_task: dict[str, float] = {}
    for entry in report["tests"]:  # a task may have one entry per visibility
        per_task[entry["number"]] = per_task.get(entry["number"], 0.0) + entry["score"]
    assert per_task == POINTS
