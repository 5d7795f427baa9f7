"""Hostile submissions (issue 6): every attack is graded once (two at a time, slots 5 and 6) in a
module-scoped fixture, then each property is asserted on that one result.

For every case: grading ends in bounded time, the report is valid, the score is no higher than the
same code without the attack earns, nothing was written outside the worker's scratch space, no process
the submission started is alive, and the report holds no line of the hidden tests or the reference.
The grader runs as root with the uid drop (as CI does) and, for the forgery attacks, as user nobody.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from hostile.corpus import FORGED_TEXT, MARK, REPO, hostile_cases
from hostile.harness import (
    GRADE_TIMEOUT, MINI_MAX, MINI_TASKS, SLOTS, grade_many, leaked_lines, leftover_processes,
    make_mini_tests, marked_files, secret_lines, shallow_marked,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="hostile suite runs as root (as CI does), "
                                "with the uid drop active; the non-root run is started from root via setpriv")

NOBODY = 65534
SHARED_DIRS = [Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), REPO]


class Listener:
    """A TCP server on 127.0.0.1 that records whether anybody connected."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                pass


@pytest.fixture(scope="module")
def listener():
    lst = Listener()
    yield lst
    lst.stop = True
    lst.sock.close()


@pytest.fixture(scope="module")
def mini_tests(tmp_path_factory) -> Path:
    return make_mini_tests(tmp_path_factory.mktemp("mini"))


@pytest.fixture(scope="module")
def graded(tmp_path_factory, mini_tests, listener):
    """Grade the two baselines and every hostile case once; returns (cases by name, results by name)."""
    cases = {c.name: c for c in hostile_cases(listener.port, [str(mini_tests / "**" / "*.py")])}
    base = tmp_path_factory.mktemp("hostile")
    jobs = []
    for name, src in (("baseline-reference", REPO / "solutions"), ("baseline-handout", REPO / "handout")):
        work = base / name
        work.mkdir()
        jobs.append((name, src, work, {"tests_dir": mini_tests}))
    for case in cases.values():
        work = base / case.name
        work.mkdir()
        jobs.append((case.name, case.build(work), work, {"tests_dir": mini_tests}))
    results = grade_many(jobs)
    print("\nhostile timings: " + ", ".join(f"{n} {g.seconds:.1f}s" for n, g in results.items()))
    return cases, results, base


def test_baselines(graded):
    """The suite this file relies on: reference full marks, bare handout zero."""
    _, results, _ = graded
    assert results["baseline-reference"].score == MINI_MAX, results["baseline-reference"].stderr
    assert results["baseline-handout"].score == 0


CASE_NAMES = [c.name for c in hostile_cases(0, [])]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_hostile_case_holds(graded, schema, name):
    """One attack: bounded, valid report, no gain, no writes outside scratch, no survivors, no leaks."""
    cases, results, base = graded
    case, g = cases[name], results[name]
    assert g.seconds < GRADE_TIMEOUT and g.returncode == 0, f"{name}: rc {g.returncode}\n{g.stderr[-3000:]}"
    assert g.report is not None, f"{name}: no readable report: {g.raw[:300]!r}"
    schema(g.report)
    assert FORGED_TEXT not in g.raw, f"{name}: the report is the attacker's forgery"
    assert g.score <= results[f"baseline-{case.base}"].score, f"{name}: the attack gained points"
    assert g.report["tests"] and all(t["max_score"] > 0 for t in g.report["tests"])
    assert not marked_files([base]), f"{name}: files written outside the sandbox: {marked_files([base])}"
    assert not shallow_marked(SHARED_DIRS), f"{name}: files written outside the sandbox"
    assert not leftover_processes([64000 + s for s in SLOTS]), leftover_processes([64000 + s for s in SLOTS])
    for where, text in (("report", g.raw), ("stdout", g.stdout), ("stderr", g.stderr)):
        leaks = leaked_lines(text, secret_lines())
        assert not leaks, f"{name}: the {where} leaks {len(leaks)} secret line(s), e.g. {leaks[:2]}"
    assert g.peak_mib < 300, f"{name}: the grading process peaked at {g.peak_mib} MiB (issue 14: < 300)"


def test_attacks_that_must_lose_points_do(graded):
    """Attacks that break their own package lose the points they break (the grader noticed)."""
    _, results, _ = graded
    for name in ("sys_exit_at_import", "forge_mid_grade_then_os_exit", "infinite_loop_ignoring_signals",
                 "memory_bomb"):
        assert results[name].score < MINI_MAX, name
    out = results["infinite_loop_ignoring_signals"].task_output("2.2")
    assert "time" in out.lower(), out[:500]
    assert "memory" in results["memory_bomb"].task_output("2.4").lower()
    refused = results["zip_dotdot_abs_symlink"].report["tests"][0]["output"]
    assert "zip" in refused.lower() or ".." in refused, refused[:400]


def test_network_is_unreachable(graded, listener):
    """The network attack reached neither the test's listener on 127.0.0.1 nor the internet."""
    assert listener.connections == 0


def test_leak_attack_did_try(graded):
    """The leak attack ran (its Mul tests fail with its own message), yet nothing secret came out."""
    _, results, _ = graded
    g = results["read_and_print_secrets"]
    assert g.task_score("2.3") <= MINI_MAX
    assert not leaked_lines(g.raw, secret_lines())
    assert len(secret_lines()) > 100  # the leak check has something to find


# ---- the same grader run as an unprivileged user ---------------------------------------------------

NONROOT_CASES = ("forge_results_then_os_exit", "forge_mid_grade_then_os_exit", "thread_rewrites_report",
                 "atexit_and_signal_rewrite", "setsid_escape_rewrites_later", "patch_numpy_and_builtins",
                 "conftest_in_handin", "lying_eq_and_array_function")


@pytest.fixture(scope="module")
def nonroot(tmp_path_factory, listener):
    """A copy of the grader readable by nobody, and the forgery attacks graded by nobody."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv not available: cannot run the grader as another user")
    top = Path(tempfile.mkdtemp(prefix="w2a-nonroot-"))
    try:
        for rel in ("autograder", "solutions", "handout", "tests/hostile"):
            shutil.copytree(REPO / rel, top / rel, ignore=shutil.ignore_patterns("__pycache__"))
        mini = make_mini_tests(top / "mini")
        cases = {c.name: c for c in hostile_cases(listener.port, []) if c.name in NONROOT_CASES}
        jobs = []
        for name, src in (("baseline-handout", top / "handout"),):
            (top / name).mkdir()
            jobs.append((name, src, top / name, {}))
        for case in cases.values():
            (top / case.name).mkdir()
            jobs.append((case.name, case.build(top / case.name), top / case.name, {}))
        subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(top)], check=True)
        jobs = [(n, s, w, {"tests_dir": mini, "user": NOBODY, "pythonpath": top,
                           "reference_root": top / "solutions"}) for n, s, w, _ in jobs]
        results = grade_many(jobs)
        yield cases, results, top
    finally:
        shutil.rmtree(top, ignore_errors=True)
        # Without a dedicated uid, what the attacks wrote to /tmp cannot be told apart from the
        # grader's own files, so it stays (a documented missing protection); tidy it for other tests.
        for path in shallow_marked(SHARED_DIRS):
            if os.lstat(path).st_uid == NOBODY:
                os.unlink(path)


@pytest.mark.parametrize("name", NONROOT_CASES)
def test_nonroot_grader_not_forgeable(nonroot, schema, name):
    """As nobody (no uid drop possible), forgeries still fail and one line names what is missing."""
    cases, results, top = nonroot
    g = results[name]
    assert g.returncode == 0 and g.report is not None, f"{name}: rc {g.returncode}\n{g.stderr[-3000:]}"
    schema(g.report)
    assert FORGED_TEXT not in g.raw, f"{name}: the report is the attacker's forgery"
    assert g.score <= results["baseline-handout"].score == 0 if cases[name].base == "handout" else True
    # Same uid as the grader: the attack CAN write beside the report (the stated missing protection,
    # "privilege drop"), but the report itself is rewritten last and no attacker process survives.
    assert not leftover_processes([NOBODY]), leftover_processes([NOBODY])
    lines = [ln for ln in g.stderr.splitlines() if ln.startswith("autograder: sandbox protections missing")]
    assert len(lines) == 1 and "privilege drop" in lines[0], g.stderr[-2000:]
