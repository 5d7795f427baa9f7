"""The Gradescope zip: layout, reproducibility, the lock step, and run_autograder end to end.

The test lays the zip out the way Gradescope does (source/, submission/, results/,
submission_metadata.json under one root) and runs the real scripts with AUTOGRADER_ROOT pointing
there. Most tests skip the venv (AUTOGRADER_PYTHON points run_autograder at the current interpreter);
one runs every step of setup.sh for real and grades with the venv it built.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from autograder import assignments
from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.framework.gradescope_zip import build_gradescope_zip

NOBODY = 65534
IS_ROOT = os.geteuid() == 0


@pytest.fixture(scope="module")
def gs_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The zip, built once for this module."""
    out = tmp_path_factory.mktemp("dist") / "autograder.zip"
    build_gradescope_zip(out, ASSIGNMENT)
    return out


@pytest.fixture
def gs_root() -> Iterator[Path]:
    """An empty Gradescope-like root that other uids may traverse (pytest's tmp_path is root-only,
    which would make the permission checks below pass for the wrong reason)."""
    root = Path(tempfile.mkdtemp(prefix="gs-root-", dir="/tmp"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def unpack(zip_path: Path, root: Path) -> Path:
    """Unpack like Gradescope into root/source, keeping the Unix modes stored in the zip."""
    source = root / "source"
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            target = source / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))
            target.chmod(stat.S_IMODE(info.external_attr >> 16))
    for d in [source, *(p for p in source.rglob("*") if p.is_dir())]:
        d.chmod(0o755)
    for name in ("submission", "results"):
        (root / name).mkdir()
    return source


def run_script(root: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    """Run one of the zip's scripts with this root and this interpreter."""
    # Our own worker uid (slot 0 -> 64300): other graders on this machine clean up the default one.
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(root),
        "AUTOGRADER_PYTHON": sys.executable,
        "AUTOGRADER_WORKER_UID_BASE": "64300",
    }
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        ["bash", str(root / "source" / script), *args], env=env, capture_output=True, text=True, timeout=300
    )


def as_nobody_can_read(path: Path) -> bool:
    """Whether uid 65534 can read `path` (a fresh `cat` under that uid)."""
    proc = subprocess.run(
        ["cat", str(path)], user=NOBODY, group=NOBODY, extra_groups=[], capture_output=True, timeout=30
    )
    return proc.returncode == 0


# ------------------------------------------------------------------------------ the zip itself


def test_zip_layout(gs_zip: Path) -> None:
    with zipfile.ZipFile(gs_zip) as zf:
        names = set(zf.namelist())
        modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in zf.infolist()}
        run = zf.read("run_autograder").decode()
        setup = zf.read("setup.sh").decode()
    for required in (
        "setup.sh",
        "run_autograder",
        "pyproject.toml",
        "README.md",
        "autograder/__main__.py",
        "autograder/framework/grade.py",
        "autograder/framework/worker_main.py",
        "solutions/hw1p1/mytorch/__init__.py",
        "solutions/hw1p1/mytorch/tensor.py",
    ):
        assert required in names, required
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    assert modes["solutions/hw1p1/mytorch/tensor.py"] == 0o644
    assert not [
        n for n in names if "__pycache__" in n or n.endswith(".pyc") or ".egg-info" in n or n.startswith("tests/")
    ]
    assert any(n.startswith("autograder/assignments/hw1p1/tests/hidden/") for n in names)
    # Only this assignment: no other registered one's tests, data or reference travels in this course's image.
    others = [a for a in assignments.names() if a != "hw1p1"]
    assert others, "the check needs a second registered assignment"
    assert not [n for n in names for a in others if n.startswith((f"autograder/assignments/{a}/", f"solutions/{a}/"))]
    assert "autograder/assignments/__init__.py" in names  # the registry itself still ships
    assert "@ASSIGNMENT@" not in run and 'ASSIGNMENT="${AUTOGRADER_ASSIGNMENT:-hw1p1}"' in run
    assert "/opt/autograder-venv" in setup and "chmod -R go-rwx" in setup
    for script in ("setup.sh", "run_autograder"):  # both parse as bash
        proc = subprocess.run(["bash", "-n"], input=zipfile.ZipFile(gs_zip).read(script), capture_output=True)
        assert proc.returncode == 0, (script, proc.stderr)


def test_zip_is_reproducible(gs_zip: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.zip"
    build_gradescope_zip(again, ASSIGNMENT)
    assert again.read_bytes() == gs_zip.read_bytes()


def test_setup_rejects_unknown_step(gs_zip: Path, gs_root: Path) -> None:
    unpack(gs_zip, gs_root)
    proc = run_script(gs_root, "setup.sh", "lokc")
    assert proc.returncode == 2 and "unknown step 'lokc'" in proc.stderr


# ------------------------------------------------------------------------------ the lock step


def test_lock_step_hides_the_reference(gs_zip: Path, gs_root: Path) -> None:
    source = unpack(gs_zip, gs_root)
    secret = source / "solutions" / "hw1p1" / "mytorch" / "tensor.py"
    if IS_ROOT:
        assert as_nobody_can_read(secret), "control: before the lock the unprivileged uid can read it"
    proc = run_script(gs_root, "setup.sh", "lock")
    assert proc.returncode == 0, proc.stderr
    loose = [str(p) for p in [source, *source.rglob("*")] if stat.S_IMODE(p.lstat().st_mode) & 0o077]
    assert loose == []
    if IS_ROOT:
        assert not as_nobody_can_read(secret)
        assert not as_nobody_can_read(
            source / "autograder" / "assignments" / "hw1p1" / "tests" / "hidden" / "test_2_elementwise_hidden.py"
        )


# ------------------------------------------------------------------------------ run_autograder


def grade_in(root: Path, fill: Callable[[Path], None], metadata: dict[str, Any] | None) -> tuple[dict, str]:
    """Put a handin in root/submission, run run_autograder, return (results.json, stdout+stderr)."""
    for name in ("submission", "results"):
        shutil.rmtree(root / name)
        (root / name).mkdir()
    fill(root / "submission")
    meta = root / "submission_metadata.json"
    meta.unlink(missing_ok=True)
    if metadata is not None:
        meta.write_text(json.dumps(metadata))
    proc = run_script(root, "run_autograder")
    results = root / "results" / "results.json"
    assert results.is_file(), proc.stdout + proc.stderr
    if metadata is not None:
        assert stat.S_IMODE(meta.stat().st_mode) & 0o077 == 0  # metadata hidden from the worker uid
    return json.loads(results.read_text()), proc.stdout + proc.stderr


def test_run_autograder_reference_and_broken(gs_zip: Path, gs_root: Path, schema: Callable[[dict], None]) -> None:
    source = unpack(gs_zip, gs_root)
    assert run_script(gs_root, "setup.sh", "lock").returncode == 0
    metadata = {"id": 4242, "created_at": "2026-01-01T00:00:00-05:00", "assignment_id": 7, "previous_submissions": []}

    good, log = grade_in(
        gs_root, lambda sub: shutil.copytree(source / "solutions" / "hw1p1" / "mytorch", sub / "mytorch"), metadata
    )
    schema(good)
    possible = sum(t["max_score"] for t in good["tests"])
    assert possible == pytest.approx(ASSIGNMENT.max_score)
    assert good["score"] == pytest.approx(possible), log
    assert {t["number"] for t in good["tests"]} == {t.id for t in ASSIGNMENT.tasks}
    assert good["extra_data"]["submission_id"] == 4242  # the metadata reached the grader

    def broken(sub: Path) -> None:
        (sub / "MyTorch").mkdir()
        (sub / "MyTorch" / "__init__.py").write_text("")

    bad, log = grade_in(gs_root, broken, None)
    schema(bad)
    assert bad["score"] == 0, log
    assert "submission_id" not in bad.get("extra_data", {})  # no metadata file this time
    assert all("must be named 'mytorch'" in t["output"] for t in bad["tests"]), bad["tests"][0]["output"]


def test_run_autograder_fallback_when_grader_cannot_start(
    gs_zip: Path, gs_root: Path, schema: Callable[[dict], None]
) -> None:
    """Even a grader that cannot start leaves Gradescope a valid results.json (and a failing status)."""
    unpack(gs_zip, gs_root)
    env = {**os.environ, "AUTOGRADER_ROOT": str(gs_root), "AUTOGRADER_PYTHON": "/bin/false"}
    proc = subprocess.run(
        ["bash", str(gs_root / "source" / "run_autograder")], env=env, capture_output=True, timeout=60
    )
    report = json.loads((gs_root / "results" / "results.json").read_text())
    schema(report)
    assert proc.returncode != 0 and report["score"] == 0 and "could not start" in report["output"]


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="setup.sh builds its venv from /usr/bin/python3")
def test_full_setup_then_run_autograder_with_the_venv_it_built(
    gs_zip: Path, gs_root: Path, schema: Callable[[dict], None]
) -> None:
    """Every step of setup.sh for real (venv outside /root, install, lock, warm), then grading with that venv.

    The unprivileged worker must be able to run the venv's interpreter and numpy: a full score proves it.
    """
    source = unpack(gs_zip, gs_root)
    venv = gs_root / "venv"  # stands in for /opt/autograder-venv
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(gs_root),
        "AUTOGRADER_VENV": str(venv),
        "AUTOGRADER_WORKER_UID_BASE": "64300",
    }
    env.pop("PYTHONPATH", None)
    setup = subprocess.run(["bash", str(source / "setup.sh")], env=env, capture_output=True, text=True, timeout=600)
    assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-2000:]
    assert "warm-up grading failed" not in setup.stderr
    assert stat.S_IMODE(source.stat().st_mode) & 0o077 == 0  # locked

    shutil.copytree(
        ASSIGNMENT.reference_root / "mytorch",
        gs_root / "submission" / "mytorch",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    run = subprocess.run(
        ["bash", str(source / "run_autograder")],
        env={**env, "AUTOGRADER_PYTHON": str(venv / "bin" / "python")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads((gs_root / "results" / "results.json").read_text())
    schema(report)
    assert run.returncode == 0 and report["score"] == pytest.approx(ASSIGNMENT.max_score), (
        run.stdout[-3000:] + run.stderr[-2000:]
    )
