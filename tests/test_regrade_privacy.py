"""Regrade privacy: a handin that looks for its classmates finds nothing (issue 14, item 1).

The attacker is the bare handout plus an import-time search of the places a class regrade keeps
things: the export (where the TA put it), OUT (reports, scores.csv, logs, the staged export) and a
walk of /tmp. Anything it can read makes it fail with "FOUND ..." in every message; with nothing
found it is the bare handout (0 points). The classmate is the reference (full marks).
A control runs the same search as another uid on an export left readable: it finds the classmate,
and the regrade refuses to start on such an export.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.framework.handoutgen import handout_contents

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="worker uids exist only when the grader is root")
SLOTS = "25-26"
SEARCH = """
import os as _os
def _search(roots, mark):
    found = []
    for root in roots:
        for here, dirs, files in _os.walk(root):
            if here.count(_os.sep) - root.count(_os.sep) >= 6:
                dirs[:] = []
            for name in files:
                path = _os.path.join(here, name)
                ours = mark in path or "ag-submission" in path  # not other users' files in /tmp
                if ours and any(k in path for k in ("submission_", "scores.csv", "grader.log", "results.json",
                                                    "status.json", "mytorch")):
                    try:
                        with open(path, "rb") as f:
                            f.read(1)
                        found.append(path)
                    except OSError:
                        pass
    return found
"""


def attacker(dest: Path, roots: list[str], mark: str) -> None:
    """The bare handout whose __init__ searches `roots` and fails loudly on any find."""
    for rel, data in handout_contents(ASSIGNMENT).items():
        if rel.startswith("mytorch/"):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).write_bytes(data)
    init = dest / "mytorch" / "__init__.py"
    init.write_text(
        init.read_text() + SEARCH + f"\n_found = _search({roots!r}, {mark!r})\n"
        "if _found:\n    raise ImportError('FOUND ' + repr(_found[:10]))\n"
    )


def test_a_handin_looking_for_classmates_finds_nothing() -> None:
    base = Path(tempfile.mkdtemp(prefix="ag-privacy-", dir="/tmp"))
    try:
        base.chmod(0o755)  # like a TA's home or a shared course folder: others may traverse it
        export, out = base / "export", base / "out"
        shutil.copytree(
            ASSIGNMENT.reference_root / "mytorch",
            export / "submission_1" / "mytorch",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        attacker(export / "submission_2", [str(export), str(out), "/tmp"], base.name)
        (export / "submission_metadata.yml").write_text(
            "submission_1:\n  :submitters:\n  - :name: Classmate\n    :sid: '111'\n    :email: c@x.edu\n"
            "submission_2:\n  :submitters:\n  - :name: Attacker\n    :sid: '222'\n    :email: a@x.edu\n"
        )
        for p in [export, *export.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        argv = [
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
            SLOTS,
            "--no-report",
            "--assignment",
            "hw1p1",
        ]

        # Control: left readable, the export is open to another uid, and the regrade refuses it.
        probe = subprocess.run(
            [sys.executable, "-c", SEARCH + f"\nprint(_search([{str(export)!r}], {base.name!r}))"],
            user=65534,
            group=65534,
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "submission_1/mytorch" in probe.stdout, probe.stdout + probe.stderr
        refused = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert refused.returncode != 0 and "can be read by other users" in refused.stderr
        assert not out.exists()

        export.chmod(0o700)  # what the message asks for
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        stolen = json.loads((out / "2" / "results.json").read_text())
        honest = json.loads((out / "1" / "results.json").read_text())
        assert honest["score"] == ASSIGNMENT.max_score
        assert stolen["score"] == 0 and "FOUND" not in json.dumps(stolen), json.dumps(stolen)[:3000]
        assert "NotImplementedError" in json.dumps(stolen)  # it ran: the search came up empty
    finally:
        shutil.rmtree(base, ignore_errors=True)
