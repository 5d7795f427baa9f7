"""The TA's command line: one-student debugging, clear refusals, and help with an example everywhere."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.cli import main

SLOT = 22


def grade(*args: str) -> subprocess.CompletedProcess:
    """`autograder grade ...` in a fresh interpreter (as a TA runs it)."""
    return subprocess.run(
        [sys.executable, "-m", "autograder", "grade", *args, "--slot", str(SLOT), "--assignment", "hw1p1"],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_an_unusable_handin_prints_one_message(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("my answers")
    (tmp_path / "empty").mkdir()
    for handin in (tmp_path / "notes.txt", tmp_path / "empty"):
        proc = grade(str(handin), "--results", str(tmp_path / "r.json"))
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.count("Handin refused") == 1 and "TOTAL 0/100" in proc.stdout, proc.stdout
        shown = [line for line in proc.stdout.splitlines() if not line.startswith("sandbox:")]  # staff lines
        assert len(shown) <= 4, proc.stdout  # not one identical line per task
        reason = proc.stdout.split("Handin refused, nothing graded: ", 1)[1].splitlines()[0]
        assert reason in json.loads((tmp_path / "r.json").read_text())["output"]  # the report's top line says why


def test_refusals_are_clear(sample_handin: Path, tmp_path: Path) -> None:
    proc = grade(str(sample_handin), "--results", str(tmp_path))
    assert proc.returncode == 2 and "is a directory" in proc.stderr and "Traceback" not in proc.stderr
    proc = grade(str(tmp_path / "missing.zip"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    proc = grade(str(sample_handin), "--no-sandbox")
    assert proc.returncode == 2 and "--trusted-code" in proc.stderr


def test_one_hidden_test_with_full_messages_and_timings(sample_handin: Path, tmp_path: Path) -> None:
    proc = grade(
        str(sample_handin),
        "--results",
        str(tmp_path / "r.json"),
        "--test",
        "test_7_optim_hidden.py::test_adam",
        "--show-hidden",
        "--durations",
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    failed = [ln for ln in lines if ln.startswith("FAILED hidden/test_7_optim_hidden.py::test_adam")]
    assert failed and all("[task 7.2, " in ln for ln in failed), proc.stdout
    assert "NotImplementedError: Task 7.2" in proc.stdout  # the full message, not just the scoreboard
    assert not any(ln.startswith(("PASSED", "FAILED")) and "::test_adam" not in ln for ln in lines)
    assert (
        any(ln.startswith("durations (") for ln in lines)
        and " s  hidden/test_7_optim_hidden.py::test_adam" in proc.stdout
    )
    assert "7.2" in proc.stdout and "TOTAL" in proc.stdout and "0/6" in proc.stdout  # only task 7.2 scored
    by_k = grade(
        str(sample_handin), "--results", str(tmp_path / "r.json"), "--test", "test_div and 3x5", "--show-hidden"
    )
    assert "FAILED hidden/test_2_elementwise_hidden.py::test_div[3x5/3x5]" in by_k.stdout
    assert "test_mul" not in by_k.stdout and "Task 7.2" not in by_k.stdout


def test_no_sandbox_runs_the_handin_in_the_graders_process(tmp_path: Path) -> None:
    handin = tmp_path / "handin"
    shutil.copytree(
        ASSIGNMENT.reference_root / "mytorch", handin / "mytorch", ignore=shutil.ignore_patterns("__pycache__")
    )
    init = handin / "mytorch" / "__init__.py"
    witness = tmp_path / "pid.txt"
    init.write_text(
        init.read_text()
        + f"\nimport os as _os\nopen({str(witness)!r}, 'a').write(str(_os.getppid()) + ' ' + str(_os.getpid()) + '\\n')\n"  # noqa: E501
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            str(handin),
            "--results",
            str(tmp_path / "r.json"),
            "--test",
            "test_mul",
            "--no-sandbox",
            "--trusted-code",
            "--assignment",
            "hw1p1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0 and "TOTAL" in out and "5/5" in out, out
    (line,) = witness.read_text().splitlines()  # imported once, by the grader itself (no worker)
    assert line.split()[1] == str(proc.pid)


def test_every_option_of_every_command_has_help_with_an_example() -> None:
    missing = []
    for name, command in main.commands.items():
        for param in command.params:
            if isinstance(param, click.Option) and "--help" not in param.opts:
                if not param.help or "Example" not in param.help:
                    missing.append(f"{name} {param.opts[0]}")
    assert not missing, missing
    result = CliRunner().invoke(main, ["grade", "--help"])
    assert result.exit_code == 0 and "Examples:" in result.output


def test_a_test_selection_that_matches_nothing_is_a_usage_error(sample_handin: Path, tmp_path: Path) -> None:
    proc = grade(str(sample_handin), "--results", str(tmp_path / "r.json"), "--test", "test_nonexistent")
    assert proc.returncode == 2 and "no test matches --test 'test_nonexistent'" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "r.json").exists()
