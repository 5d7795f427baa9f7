"""Autolab and PrairieLearn bundles, run in simulated layouts (as tests/test_gradescope_zip.py does for Gradescope).

Autolab: Tango puts autograde.tar, the Makefile and the handin in one folder and runs `make` as a
non-root user; the last output line must be the scores JSON, whatever happens. PrairieLearn: the
entrypoint runs as root with the grader in /grade/serverFilesCourse, the handin in /grade/student,
and must write /grade/results/results.json (`gradable: false` + `format_errors` for a misnamed package).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.framework.handoutgen import handout_contents
from autograder.framework.platforms import build_autolab, build_prairielearn

NOBODY = 65534
IS_ROOT = os.geteuid() == 0
FULL = {t.id: t.points for t in ASSIGNMENT.tasks}
ZERO = {t.id: 0 for t in ASSIGNMENT.tasks}


@pytest.fixture
def world_root() -> Iterator[Path]:
    """A folder other uids may traverse (pytest's tmp_path is root-only)."""
    root = Path(tempfile.mkdtemp(prefix="ag-platform-", dir="/tmp"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def handins(folder: Path) -> dict[str, Path]:
    """handin.zip files: the reference, the bare handout, and a misnamed package."""
    made = {}
    stubs = {rel: data for rel, data in handout_contents(ASSIGNMENT).items() if rel.startswith("mytorch/")}
    reference = {
        p.relative_to(ASSIGNMENT.reference_root).as_posix(): p.read_bytes()
        for p in (ASSIGNMENT.reference_root / "mytorch").rglob("*.py")
    }
    misnamed = {"MyTorch/" + rel.split("/", 1)[1]: data for rel, data in reference.items()}
    for name, files in (("reference", reference), ("handout", stubs), ("misnamed", misnamed)):
        path = folder / name / "handin.zip"
        path.parent.mkdir(parents=True)
        with zipfile.ZipFile(path, "w") as zf:
            for rel, data in sorted(files.items()):
                zf.writestr(rel, data)
        made[name] = path
    return made


# ------------------------------------------------------------------------------ Autolab


def run_tango_job(bundle: Path, handin: Path, job: Path, python: str = sys.executable) -> subprocess.CompletedProcess:
    """What Tango does: the three files in one folder, `make` there as a non-root user."""
    job.mkdir()
    shutil.copy(bundle / "autograde.tar", job / "autograde.tar")
    shutil.copy(bundle / "autograde-Makefile", job / "Makefile")
    shutil.copy(handin, job / "handin.zip")
    # Tango's make is a top-level one (under `make test` ours would print "Leaving directory" last).
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "AUTOGRADER_WORKER_UID_BASE", "MAKELEVEL", "MAKEFLAGS", "MFLAGS")
    }
    argv = ["make", f"PYTHON={python}"]
    if IS_ROOT:  # Tango's grader is an unprivileged user: so is this one
        shutil.chown(job, NOBODY, NOBODY)
        for p in job.iterdir():
            shutil.chown(p, NOBODY, NOBODY)
        argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]
        env["HOME"] = str(job)
    proc = subprocess.run(argv, cwd=job, env=env, capture_output=True, text=True, timeout=600)
    # Tango keeps the job's combined output; the autoresult must be its last line.
    proc.stdout = proc.stdout + proc.stderr if proc.stderr.strip() else proc.stdout
    return proc


def last_scores(proc: subprocess.CompletedProcess) -> dict:
    """The autoresult: the last line of the output, parsed."""
    line = proc.stdout.strip().splitlines()[-1]
    report = json.loads(line)
    assert set(report) == {"scores"}, line
    return report["scores"]


def test_autolab_bundle_grades_as_tango_runs_it(world_root: Path) -> None:
    bundle = world_root / "dist"
    build_autolab(bundle, ASSIGNMENT)
    made = handins(world_root / "handins")
    for name in made.values():
        os.chmod(name.parent, 0o755)
        os.chmod(name, 0o644)

    good = run_tango_job(bundle, made["reference"], world_root / "job-ref")
    assert good.returncode == 0 and last_scores(good) == pytest.approx(FULL), good.stdout[-3000:]
    stub = run_tango_job(bundle, made["handout"], world_root / "job-stub")
    assert stub.returncode == 0 and last_scores(stub) == ZERO, stub.stdout[-3000:]
    # Autolab shows students everything: each failing task's cases, never the staff's sandbox lines.
    assert "--- Task 2.3: " in stub.stdout and "NotImplementedError" in stub.stdout, stub.stdout[-3000:]
    for job in (good, stub):
        assert "sandbox" not in (job.stdout + job.stderr).lower(), job.stdout[:3000]
    bad = run_tango_job(bundle, made["misnamed"], world_root / "job-bad")
    assert bad.returncode == 0 and last_scores(bad) == ZERO, bad.stdout[-3000:]
    assert "must be named 'mytorch'" in bad.stdout
    # A grader that cannot even start: still exit 0, still a scores line last (and no make error after it).
    broken = run_tango_job(bundle, made["reference"], world_root / "job-broken", python="/bin/false")
    assert broken.returncode == 0 and last_scores(broken) == ZERO, broken.stdout
    assert "grading failed" in broken.stdout and "Error" not in broken.stdout.splitlines()[-1]


# ------------------------------------------------------------------------------ PrairieLearn


def test_prairielearn_layout_and_results(world_root: Path) -> None:
    course = world_root / "course"
    build_prairielearn(course, ASSIGNMENT, image="example/grader:1", timeout=240)
    info = json.loads((course / "questions" / "hw1p1" / "info.json").read_text())
    options = info["externalGradingOptions"]
    assert info["gradingMethod"] == "External" and info["type"] == "v3" and options["enabled"] is True
    assert options["image"] == "example/grader:1" and options["timeout"] == 240
    (shared,) = options["serverFilesCourse"]
    entry = Path(options["entrypoint"])
    assert entry.parts[:3] == ("/", "grade", "serverFilesCourse") and entry.parts[3] == shared.strip("/")
    grader = course / "serverFilesCourse" / shared
    assert (grader / entry.name).is_file() and os.access(grader / entry.name, os.X_OK)
    assert 'file-names="handin.zip"' in (course / "questions" / "hw1p1" / "question.html").read_text()
    assert "FROM " in (course / "Dockerfile").read_text() and "numpy" in (course / "Dockerfile").read_text()

    made = handins(world_root / "handins")
    results = {}
    for name, handin in made.items():
        grade = world_root / f"grade-{name}"  # stands in for /grade
        shutil.copytree(course / "serverFilesCourse", grade / "serverFilesCourse")
        (grade / "student").mkdir(parents=True)
        shutil.copy(handin, grade / "student" / "handin.zip")
        (grade / "data").mkdir()
        (grade / "data" / "data.json").write_text("{}")
        env = {**os.environ, "AUTOGRADER_PL_ROOT": str(grade), "AUTOGRADER_PYTHON": sys.executable}
        env.pop("PYTHONPATH", None)
        proc = subprocess.run(
            ["bash", str(grade / "serverFilesCourse" / shared / entry.name)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        results[name] = json.loads((grade / "results" / "results.json").read_text())
        assert proc.returncode == 0, (name, proc.stdout[-2000:], proc.stderr[-2000:])
        if IS_ROOT:  # the grader (reference, hidden tests) was locked away from the worker's uid
            assert (grade / "serverFilesCourse" / shared).stat().st_mode & 0o077 == 0
    assert results["reference"]["gradable"] is True and results["reference"]["score"] == 1.0
    assert results["handout"]["gradable"] is True and results["handout"]["score"] == 0.0
    bad = results["misnamed"]
    assert bad["gradable"] is False and any("must be named 'mytorch'" in e for e in bad["format_errors"]), bad
