"""Stopping a real regrade: Ctrl-C and kill -9 leave no grader and no sandboxed worker alive.

Two submissions loop forever in every call (and leave a `setsid` escapee behind), so their graders
and workers are busy when the regrade is stopped; one refused handin finishes at once, so the partial
scores.csv has a real row. Slots 23-24: their worker uids are checked for survivors.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.assignments.hw1p1.assignment import ASSIGNMENT

SLOTS = (23, 24)
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="workers have their own uids only when the grader is root")

HANG = """
import subprocess as _sp
_sp.Popen(["sleep", "300"], start_new_session=True)  # an escapee the regrade must not leave behind
from . import tensor as _t
def _forever(self, *args, **kwargs):
    while True:
        pass
_t.Tensor.__init__ = _forever
"""


def worker_uids() -> set[int]:
    base = int(os.environ.get("AUTOGRADER_WORKER_UID_BASE", "64000"))
    return {base + s for s in SLOTS}


def processes() -> dict[int, tuple[int, str]]:
    """pid -> (real uid, command line) of every live process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            if "\nState:\tZ" in status:
                continue
            uid = int(status.split("\nUid:\t", 1)[1].split()[0])
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        found[int(entry.name)] = (uid, cmd)
    return found


def survivors(out: Path) -> list[str]:
    """Workers of our slots' uids, and graders writing into `out`."""
    return [
        f"{pid} uid={uid} {cmd[:120]}"
        for pid, (uid, cmd) in processes().items()
        if uid in worker_uids() or (str(out) in cmd and " grade " in cmd)
    ]


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def start_regrade(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    export = tmp_path / "export"
    for sid in ("2", "3"):
        pkg = export / f"submission_{sid}" / "mytorch"
        shutil.copytree(ASSIGNMENT.reference_root / "mytorch", pkg, ignore=shutil.ignore_patterns("__pycache__"))
        (pkg / "__init__.py").write_text((pkg / "__init__.py").read_text() + HANG)
    (export / "submission_1").mkdir(parents=True)
    (export / "submission_1" / "notes.txt").write_text("no code")  # refused at once
    (export / "submission_metadata.yml").write_text(
        "".join(
            f"submission_{i}:\n  :submitters:\n  - :name: S{i}\n    :sid: '{i}'\n    :email: s{i}@x.edu\n"
            for i in (1, 2, 3)
        )
    )
    out = tmp_path / "out"
    assert not survivors(out), survivors(out)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "autograder",
            "regrade",
            str(export),
            "--out",
            str(out),
            "--jobs",
            "2",
            "--slots",
            f"{SLOTS[0]}-{SLOTS[1]}",
            "--no-report",
            "--assignment",
            "hw1p1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    wait_for(lambda: (out / "1" / "status.json").exists(), 120, "the refused handin's result")
    wait_for(lambda: any(uid in worker_uids() for uid, _ in processes().values()), 120, "a busy worker")
    time.sleep(1.0)  # both graders deep in their hanging calls
    return proc, out


def test_ctrl_c_stops_everything_and_keeps_what_is_done(tmp_path: Path) -> None:
    proc, out = start_regrade(tmp_path)
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    stopped = time.monotonic() - start
    assert proc.returncode == 130 and stopped < 5.0, (proc.returncode, stopped, err[-2000:])
    assert "interrupted" in err
    wait_for(lambda: not survivors(out), 2.0, f"no survivors: {survivors(out)}")
    with (out / "scores.csv").open(newline="") as f:
        table = {r["submission_id"]: r for r in csv.DictReader(f)}
    assert table["1"]["status"] == "refused" and table["1"]["new_score"] == "0"
    assert table["2"]["status"] == table["3"]["status"] == "not graded"
    assert "interrupted" in table["2"]["error"]


def test_kill_9_of_the_regrade_takes_its_graders_and_workers_along(tmp_path: Path) -> None:
    proc, out = start_regrade(tmp_path)
    assert survivors(out)  # control: graders and workers are running
    proc.kill()
    proc.communicate(timeout=30)
    wait_for(lambda: not survivors(out), 5.0, f"no survivors: {survivors(out)}")
