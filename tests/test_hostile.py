"""Hostile submissions (issue 6): every attack is graded once (two at a time, slots 5 and 6) in a
module-scoped fixture, then each property is asserted on that one result.

For every case: grading ends in bounded time, the report is valid, the score is no higher than the
same code without the attack earns, nothing was written outside the worker's scratch space, no process
the submission started is alive, and the report holds no line of the hidden tests or the reference.
Three environments, as real processes (issue 10): root with every capability (the whole corpus);
root with Docker's default capability set, as on Gradescope and PrairieLearn (no CAP_SYS_ADMIN, so
no network namespace); and user nobody, as on Autolab (no uid drop). The last two run a representative
subset: the secrecy and network attacks (what changes between environments) and the forgeries. Each
case says which mechanism held it (the grader's staff log, and the probe case's errnos).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.framework import sandbox
from hostile.corpus import FORGED_TEXT, PROBE_MARK, REPO, SAMPLE_HANDIN, hostile_cases
from hostile.harness import (
    GRADE_TIMEOUT,
    MINI_MAX,
    NOBODY,
    SLOTS,
    UID_BASE,
    grade_many,
    leaked_lines,
    leftover_processes,
    make_mini_tests,
    marked_files,
    secret_lines,
    shallow_marked,
)

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="hostile suite runs as root (as CI does), "
    "with the uid drop active; the non-root run is started from root via setpriv",
)

SHARED_DIRS = [Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), Path("/run/lock"), REPO]
MECH = sandbox.mechanisms()
# What changes between environments (network, secrets) and the forgeries: graded in all three.
ENV_CASES = (
    "network_connection",
    "read_and_print_secrets",
    "import_reference_by_path",
    "import_sample_handin",
    "rebuild_from_git_objects",
    "probe_sandbox",
    "symlink_to_reference",
    "forge_results_then_os_exit",
    "setsid_escape_rewrites_later",
    "thread_rewrites_report",
    "patch_numpy_and_builtins",
    "conftest_in_handin",
)
# Under Docker's capabilities only the network namespace (and cgroups) differ from root: the doors they
# guard. Forgeries and secrecy depend on the uid, which both root environments drop alike.
DOCKER_CASES = ("network_connection", "probe_sandbox", "read_and_print_secrets", "import_sample_handin")
CASES_IN = {"docker": DOCKER_CASES, "nonroot": ENV_CASES}


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


@pytest.fixture(scope="module", autouse=True)
def sample_in_checkout() -> None:
    """The sample handin where `make grade` leaves it in the checkout: the attacks read and import it there."""
    from tools.make_sample import write_sample

    write_sample(ASSIGNMENT, SAMPLE_HANDIN)


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
    for name, src in (
        ("baseline-reference", REPO / "solutions" / "hw1p1"),
        ("baseline-handout", REPO / "handouts" / "hw1p1"),
    ):
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
    assert not leftover_processes([UID_BASE + s for s in SLOTS]), leftover_processes([UID_BASE + s for s in SLOTS])
    for where, text in (("report", g.raw), ("stdout", g.stdout), ("stderr", g.stderr)):
        leaks = leaked_lines(text, secret_lines())
        assert not leaks, f"{name}: the {where} leaks {len(leaks)} secret line(s), e.g. {leaks[:2]}"
    assert g.peak_mib < 300, f"{name}: the grading process peaked at {g.peak_mib} MiB (issue 14: < 300)"


def test_attacks_that_must_lose_points_do(graded):
    """Attacks that break their own package lose the points they break (the grader noticed)."""
    _, results, _ = graded
    for name in ("sys_exit_at_import", "forge_mid_grade_then_os_exit", "infinite_loop_ignoring_signals", "memory_bomb"):
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


# ---- the same attacks under Docker's default capabilities and as user nobody ---------------------------


def _env_jobs(top: Path, port: int, mini: Path, names: tuple[str, ...]) -> tuple[dict, list]:
    cases = {c.name: c for c in hostile_cases(port, []) if c.name in names}
    jobs = []
    for name, src in (
        ("baseline-reference", REPO / "solutions" / "hw1p1"),
        ("baseline-handout", REPO / "handouts" / "hw1p1"),
    ):
        (top / name).mkdir()
        jobs.append((name, src, top / name, {"tests_dir": mini}))
    for case in cases.values():
        (top / case.name).mkdir()
        jobs.append((case.name, case.build(top / case.name), top / case.name, {"tests_dir": mini}))
    return cases, jobs


@pytest.fixture(scope="module")
def docker(listener, mini_tests):
    """DOCKER_CASES graded by root with Docker's default capability set."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv not available: cannot drop capabilities")
    top = Path(tempfile.mkdtemp(prefix="w2a-docker-"))
    try:
        cases, jobs = _env_jobs(top, listener.port, mini_tests, DOCKER_CASES)
        results = grade_many([(n, s, w, {**kw, "docker": True}) for n, s, w, kw in jobs])
        yield cases, results, top
    finally:
        sandbox.remove_tree(top)


@pytest.fixture(scope="module")
def nonroot(listener):
    """A copy of the grader owned by nobody, and ENV_CASES graded by nobody."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv not available: cannot run the grader as another user")
    top = Path(tempfile.mkdtemp(prefix="w2a-nonroot-"))
    try:
        for rel in ("autograder", "solutions", "handouts", "tests/hostile"):
            shutil.copytree(REPO / rel, top / rel, ignore=shutil.ignore_patterns("__pycache__"))
        mini = make_mini_tests(top / "mini")
        cases, jobs = _env_jobs(top, listener.port, mini, ENV_CASES)
        subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(top)], check=True)
        jobs = [
            (n, s, w, {**kw, "user": NOBODY, "pythonpath": top, "reference_root": top / "solutions" / "hw1p1"})
            for n, s, w, kw in jobs
        ]
        results = grade_many(jobs)
        yield cases, results, top
    finally:
        sandbox.remove_tree(top)
        # Without Landlock and a dedicated uid, what the attacks wrote to /tmp cannot be told apart from
        # the grader's own files, so it stays (a documented missing protection); tidy it for other tests.
        for path in shallow_marked(SHARED_DIRS):
            if os.lstat(path).st_uid == NOBODY:
                sandbox.remove_tree(path)


ENVS = ("docker", "nonroot")


@pytest.mark.parametrize("env, name", [(env, name) for env in ENVS for name in CASES_IN[env]])
def test_hostile_case_holds_in_other_environments(request, schema, listener, env, name):
    """Bounded, valid report, no gain, no forgery, no survivor, no secret line; no write outside the
    worker's scratch where Landlock holds (without it, nobody's worker shares the grader's uid)."""
    cases, results, top = request.getfixturevalue(env)
    case, g = cases[name], results[name]
    assert g.seconds < GRADE_TIMEOUT and g.returncode == 0, f"{env}/{name}: rc {g.returncode}\n{g.stderr[-3000:]}"
    assert g.report is not None, f"{env}/{name}: no readable report: {g.raw[:300]!r}"
    schema(g.report)
    assert results["baseline-reference"].score == MINI_MAX and results["baseline-handout"].score == 0
    assert FORGED_TEXT not in g.raw, f"{env}/{name}: the report is the attacker's forgery"
    assert g.score <= results[f"baseline-{case.base}"].score, f"{env}/{name}: the attack gained points"
    uids = [NOBODY] if env == "nonroot" else [UID_BASE + s for s in SLOTS]
    assert not leftover_processes(uids), leftover_processes(uids)
    leaks = leaked_lines(g.raw, secret_lines())
    assert not leaks, f"{env}/{name}: the report leaks {len(leaks)} secret line(s), e.g. {leaks[:2]}"
    assert listener.connections == 0
    if MECH.landlock is None:
        assert g.held("filesystem") == "held by Landlock", g.stdout
        assert not marked_files([top]) and not shallow_marked(SHARED_DIRS), f"{env}/{name}: wrote outside"
    assert g.held("network").startswith("held by seccomp socket filter") or MECH.seccomp is not None, g.stdout
    assert ("uid held" in g.stdout) == (env == "docker"), g.stdout
    if env == "nonroot":  # and the staff log names the missing uid drop
        assert "sandbox: UNAVAILABLE: privilege drop" in g.stdout, g.stdout


def _probe_result(g) -> dict[str, str]:
    text = g.task_output("2.3")
    start = text.index(PROBE_MARK) + len(PROBE_MARK)
    return json.loads(text[start : text.index(":END", start)])


# errno -> the mechanism that refuses with it (the probe runs as the worker: DAC would also say EACCES,
# but every target it reads is world-readable, so only Landlock can refuse those reads)
REFUSED_BY = {"EPERM": "seccomp", "ENETUNREACH": "network namespace", "EACCES": "Landlock"}


@pytest.mark.parametrize("env", ("root", "docker", "nonroot"))
def test_probe_says_which_mechanism_held_each_door(request, env):
    """From inside the worker: TCP connect, reading the hidden tests, reference, sample handin, git
    objects and grader source, writing shared folders. Every door is shut, and the errno names by what."""
    fixture = "graded" if env == "root" else env
    _, results, _ = request.getfixturevalue(fixture)
    got = _probe_result(results["probe_sandbox"])
    held = {door: REFUSED_BY.get(code, f"OPEN ({code})" if code == "OPEN" else code) for door, code in got.items()}
    print(f"\nprobe [{env}]: " + "; ".join(f"{d}: {m}" for d, m in held.items()))
    assert "OPEN" not in got.values(), held
    if MECH.seccomp is None:
        assert held["connect"] == "seccomp", held
    if MECH.landlock is None:
        assert {m for d, m in held.items() if d != "connect"} == {"Landlock"}, held


def test_git_attack_would_find_the_reference_unconfined():
    """The git-objects attack is not vacuous: run unconfined here (as the test), it finds reference lines."""
    import tempfile as _t

    case = next(c for c in hostile_cases(0, []) if c.name == "rebuild_from_git_objects")
    src = (case.build(Path(_t.mkdtemp())) / "mytorch" / "ops" / "elementwise.py").read_text()
    namespace: dict = {}
    exec(src[src.index("def _git_loot") : src.index("_orig_Mul")], namespace)
    assert leaked_lines(namespace["_git_loot"](), secret_lines())
