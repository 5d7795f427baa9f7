"""Aggregate limits (issue 14 item 5): what all of a worker's files and processes use together.

Each test plants the attack and sees it held: many files each under RLIMIT_FSIZE, deleted-but-open
files, a folder of 12,000 entries, fork attempts past the process limit (with and without a slot
cgroup, and as a non-root grader), and a correct handin graded beside an attacker on the next slot.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from autograder.framework import sandbox
from autograder.framework.client import Limits, WorkerClient
from autograder.framework.errors import StudentCrash
from autograder.framework.sandbox import cgroups

ROOT = os.geteuid() == 0
SLOT = 181  # uid BASE+181 when root: away from the slots other suites use
MECH = sandbox.mechanisms()
MIB = 2**20

SCENARIOS = '''
def call(lib, fn, **kwargs):
    """Call lib.<fn>(**kwargs) and return what it returns."""
    return getattr(lib, fn)(**kwargs)
'''

WRITER = """
    import os, time

    def files(n, mib):
        for i in range(n):
            with open(f"f{i}", "wb") as f:
                f.write(os.urandom(mib * 2**20))
        return n

    def forever(mib):
        i = 0
        while True:  # a file at a time, each under RLIMIT_FSIZE
            with open(f"g{i}", "wb") as f:
                f.write(b"x" * (mib * 2**20))
            i += 1

    def hidden(n, mib):
        global KEEP
        KEEP = []
        for i in range(n):  # deleted at once, kept open: no name in the folder, the blocks stay used
            f = open(f"h{i}", "wb")
            os.unlink(f"h{i}")
            f.write(b"x" * (mib * 2**20))
            f.flush()
            KEEP.append(f)
        return n

    def entries(n):
        for i in range(n):
            open(f"e{i}", "w").close()
        return n

    def listing():
        return sorted(os.listdir("."))

    def leave(n):
        started = 0
        for _ in range(n):
            try:
                if os.fork() == 0:
                    try:
                        os.setsid()
                        if os.fork() == 0:  # an orphan: re-parented to the grader
                            time.sleep(60)
                    finally:
                        os._exit(0)
                started += 1
            except OSError:
                break
        return started

    def forks(n):
        pids, refused = [], 0
        for _ in range(n):
            try:
                pid = os.fork()
            except OSError:
                refused += 1
                continue
            if pid == 0:
                time.sleep(3)
                os._exit(0)
            pids.append(pid)
        for p in pids:
            os.kill(p, 9)
            os.waitpid(p, 0)
        return [len(pids), refused]
"""


@pytest.fixture
def make_client(tmp_path):
    """A WorkerClient on a `toy` package built from WRITER (closed afterwards)."""
    clients = []

    def make(limits: Limits) -> WorkerClient:
        pkg = tmp_path / "sub" / "toy"
        pkg.mkdir(parents=True, exist_ok=True)
        (pkg / "__init__.py").write_text(textwrap.dedent(WRITER))
        (tmp_path / "scenarios.py").write_text(SCENARIOS)
        client = WorkerClient(tmp_path / "sub", "toy", tmp_path / "scenarios.py", limits=limits, slot=SLOT)
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.close()


def work_bytes(c: WorkerClient) -> int:
    """What the client's work folder holds now."""
    return sandbox.disk_use(c.sandbox.scratch.work).bytes


# ---- disk ---------------------------------------------------------------------------------------------


def test_many_files_each_under_the_file_limit_pass_the_folder_budget(make_client):
    """Twelve 4 MiB files, each under an 8 MiB RLIMIT_FSIZE, make 48 MiB: over a 32 MiB budget. The call
    fails with a message, the files are gone, the next call works; with a bigger budget they pass."""
    c = make_client(Limits(file_bytes=8 * MIB, disk_bytes=32 * MIB))
    with pytest.raises(
        StudentCrash,
        match=r"wrote (\d+) MiB of files while running scenario 'call', more "
        r"than the grader allows \(32 MiB",
    ) as err:
        c.run("call", fn="files", n=12, mib=4, timeout=20)
    assert 32 < float(err.value.message.split("wrote ")[1].split()[0]) <= 48  # caught during or after the call
    assert c.run("call", fn="listing") == []  # the next worker starts with an empty folder
    assert c.run("call", fn="files", n=4, mib=4, timeout=20) == 4  # under the budget: fine
    c.close()
    roomy = make_client(Limits(file_bytes=8 * MIB, disk_bytes=64 * MIB))
    assert roomy.run("call", fn="files", n=12, mib=4, timeout=20) == 12  # the same writes, a bigger budget


def test_a_call_that_writes_forever_is_stopped_near_the_budget(make_client):
    """Writing 1 MiB files in a loop: the checks during the call stop it long before its 30 s deadline,
    not far past the budget (what the page cache takes in 20 ms between two checks: ~20 MiB here), and
    the folder is emptied."""
    c = make_client(Limits(file_bytes=4 * MIB, disk_bytes=32 * MIB))
    start = time.monotonic()
    with pytest.raises(StudentCrash, match="more than the grader allows") as err:
        c.run("call", fn="forever", mib=1, timeout=30)
    seconds = time.monotonic() - start
    written = int(err.value.message.split("wrote ")[1].split()[0])
    print(f"\nstopped after {seconds:.2f} s at {written} MiB (budget 32 MiB)")
    assert seconds < 15 and written < 32 + 160, err.value.message  # 0.25 s between checks let 240 MiB through
    assert work_bytes(c) == 0


def test_deleted_files_held_open_count(make_client):
    c = make_client(Limits(file_bytes=8 * MIB, disk_bytes=32 * MIB))
    with pytest.raises(StudentCrash, match="more than the grader allows"):
        c.run("call", fn="hidden", n=12, mib=4, timeout=20)
    assert c.run("call", fn="hidden", n=4, mib=4, timeout=20) == 4  # under the budget: fine


def test_too_many_entries_count(make_client):
    c = make_client(Limits())
    with pytest.raises(StudentCrash, match="more than 10,000 files and folders"):
        c.run("call", fn="entries", n=12_000, timeout=30)
    assert c.run("call", fn="listing") == []
    assert c.run("call", fn="entries", n=100) == 100


def test_disk_use_walks_any_depth_and_stops_at_its_entry_bound(tmp_path):
    fd = os.open(tmp_path, os.O_RDONLY)
    for _ in range(3000):  # past PATH_MAX as one path
        os.mkdir("d", dir_fd=fd)
        fd, old = os.open("d", os.O_RDONLY, dir_fd=fd), fd
        os.close(old)
    with open(os.open("big", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd), "wb") as f:
        f.write(b"x" * MIB)
    os.close(fd)
    use = sandbox.disk_use(tmp_path)
    assert use.entries == 3001 and use.bytes >= MIB
    assert sandbox.disk_use(tmp_path, max_entries=100).entries == 101
    sandbox.remove_tree(tmp_path / "d")


# ---- processes ----------------------------------------------------------------------------------------


@pytest.mark.skipif(not ROOT, reason="needs root for a dedicated uid")
@pytest.mark.parametrize("layers", ["all", "no cgroups"])
def test_fork_attempts_stop_at_the_process_limit(make_client, monkeypatch, layers):
    """With a slot cgroup the worker may run 64 processes (their memory counted together); without one,
    8 (so at most 8 x RLIMIT_AS of memory together). Orphans and zombies a handin leaves behind do not
    count against the next worker (before the fix, the restarted worker could not even start: EAGAIN)."""
    if layers != "all":
        monkeypatch.setenv(sandbox.SKIP_ENV, "cgroups")
    elif MECH.cgroups is not None or "cgroups" in os.environ.get(sandbox.SKIP_ENV, ""):
        pytest.skip(f"per-slot cgroups not available: {MECH.cgroups or 'left out'}")
    c = make_client(Limits())
    started, refused = c.run("call", fn="forks", n=80, timeout=30)
    expected = 64 if layers == "all" else 8
    assert started == expected - 1 and refused == 80 - started, (started, refused)  # the worker is one of them
    assert any(f"at most {expected} processes" in line for line in c.protections), c.protections
    for _ in range(3):  # processes left behind, orphans and zombies never eat into the next worker's count
        assert c.run("call", fn="leave", n=80, timeout=30) >= 2
        c.restart()
        assert c.run("call", fn="forks", n=80, timeout=30)[0] == expected - 1


NON_ROOT_SCRIPT = r"""
import sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from autograder.framework.client import WorkerClient
folder = Path(sys.argv[2])
c = WorkerClient(folder / "sub", "toy", folder / "scenarios.py", slot=0)
print(*c.run("call", fn="forks", n=40, timeout=30))
print(any("more than the grader's user runs" in line for line in c.protections))
c.close()
"""


@pytest.mark.skipif(not ROOT, reason="needs root to switch to the unprivileged user 'nobody'")
def test_without_a_dedicated_uid_the_worker_adds_at_most_8_processes():
    """As nobody (no uid to give the worker) RLIMIT_NPROC counts the grader's user's processes: the
    worker may add 8 to what that user ran when it started."""
    folder = Path(tempfile.mkdtemp())
    try:
        (folder / "sub" / "toy").mkdir(parents=True)
        (folder / "sub" / "toy" / "__init__.py").write_text(textwrap.dedent(WRITER))
        (folder / "scenarios.py").write_text(SCENARIOS)
        for p in [folder, *folder.rglob("*")]:
            p.chmod(0o777)

        def as_nobody() -> None:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)

        done = subprocess.run(
            [sys.executable, "-c", NON_ROOT_SCRIPT, str(Path(__file__).parents[1]), str(folder)],
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=as_nobody,
            cwd=str(folder),
        )
        if "Permission denied" in done.stderr and not done.stdout:
            pytest.skip(f"the interpreter or repository is not readable by nobody: {done.stderr[-2000:]}")
        assert done.returncode == 0, done.stderr[-3000:]
        counts, described = done.stdout.split("\n")[:2]
        started, refused = map(int, counts.split())
        # nobody's other processes (the grader itself, at least) were counted when the worker started
        assert 1 <= started <= 7 and started + refused == 40, done.stdout
        assert described == "True"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---- a neighbour graded beside an attacker ---------------------------------------------------------------

NEIGHBOUR_SLOTS = {"root": (11, 12), "docker": (13, 14)}  # attacker, neighbour (other suites use 5-7 and 173+)
ATTACK = '''

import os as _os, time as _time


def _attack():
    """CPU burners in their own sessions, each holding 150 MiB, forked until refused; the worker burns too."""
    refused = 0
    for _ in range(200):
        try:
            pid = _os.fork()
        except OSError:
            refused += 1
            if refused > 20:
                break
            continue
        if pid == 0:
            try:
                _os.setsid()  # a scheduler autogroup of its own
                import numpy
                hog = numpy.ones(150 * 2**20 // 8)  # touched: real memory
            except BaseException:
                pass
            end = _time.time() + 40
            while _time.time() < end:
                pass
            _os._exit(0)
    end = _time.time() + 7
    while _time.time() < end:  # the worker burns too, then its import fails: the grade ends, killing the rest
        pass
    raise RuntimeError("attack over")


_attack()
'''


def _uid_processes(uid: int) -> list[str]:
    """'pid state' of the processes of `uid` now, zombies included (they still count for RLIMIT_NPROC)."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    with open(f"/proc/{name}/stat") as f:
                        out.append(f"{name} {f.read().rsplit(')', 1)[1].split()[0]}")
            except (OSError, IndexError):
                pass
    return out


@pytest.mark.skipif(not ROOT, reason="needs root: dedicated worker uids (the attacker's processes are counted by uid)")
@pytest.mark.parametrize("env", ["root", "docker"])
def test_a_correct_handin_keeps_full_marks_beside_an_attacker(tmp_path, monkeypatch, env):
    """The reference, graded on the task-2 suite on one slot, keeps full marks while an attacker (fork until
    refused, every process a CPU burner holding 150 MiB, the worker itself looping) is graded at the same
    time on the next slot. As root with every capability the slot cgroups hold (equal CPU share, 2 GiB and
    64 tasks for the attacker); under Docker's capabilities (no cgroups) the 8-process limit and the
    CPU-time deadlines hold."""
    import threading

    from hostile.corpus import copy_package
    from hostile.harness import MINI_MAX, UID_BASE, grade, make_mini_tests

    if env == "root" and MECH.cgroups is not None:
        pytest.skip(f"per-slot cgroups not available: {MECH.cgroups}")
    if env == "docker":  # Docker mounts /sys/fs/cgroup read-only; this machine's is writable without CAP_SYS_ADMIN
        monkeypatch.setenv(sandbox.SKIP_ENV, "cgroups")
    tests = make_mini_tests(tmp_path)
    attacker, neighbour = tmp_path / "attacker", tmp_path / "neighbour"
    for root in (attacker, neighbour):
        root.mkdir()
        copy_package("reference", root)
    with open(attacker / "mytorch" / "__init__.py", "a") as f:
        f.write(ATTACK)
    for d in ("a_out", "n_out"):
        (tmp_path / d).mkdir()
    attacker_uid = UID_BASE + NEIGHBOUR_SLOTS[env][0]
    samples: list[tuple[float, int]] = []
    in_group: list[int] = []  # the slot cgroup's own task count (root): what its pids.max limits
    done = threading.Event()
    results = {}

    def sample() -> None:
        while not done.is_set():
            samples.append((time.monotonic(), len(_uid_processes(attacker_uid))))
            in_group.append(cgroups.pids_current(sandbox.slot_cgroup_name(attacker_uid)) or 0)
            time.sleep(0.2)

    def run_attacker() -> None:
        results["attacker"] = grade(
            "attacker", attacker, tmp_path / "a_out", NEIGHBOUR_SLOTS[env][0], tests_dir=tests, docker=env == "docker"
        )

    sampler = threading.Thread(target=sample)
    sampler.start()
    attack = threading.Thread(target=run_attacker)
    attack.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not samples or samples[-1][1] < 6):
            time.sleep(0.1)
        start = time.monotonic()
        g = grade(
            "neighbour", neighbour, tmp_path / "n_out", NEIGHBOUR_SLOTS[env][1], tests_dir=tests, docker=env == "docker"
        )
        end = time.monotonic()
    finally:
        attack.join(timeout=120)
        done.set()
        sampler.join()
    during = [n for t, n in samples if start <= t <= end]
    live = sum(0.2 for n in during if n >= 6)
    peak = max(n for _, n in samples)
    print(
        f"\n[{env}] neighbour {g.score}/{MINI_MAX} in {end - start:.1f} s; attacker processes: peak {peak} "
        f"(slot cgroup {max(in_group)}), "
        f"live for {live:.1f} s of it; attacker score {results['attacker'].score}"
    )
    assert g.report is not None and g.score == pytest.approx(MINI_MAX), (g.raw[-3000:], g.stderr[-3000:])
    assert live >= min(3.0, 0.8 * (end - start)), samples  # the attack really ran beside the neighbour's grade
    # The slot's process limit held. As root, counted by the slot cgroup itself: a scan of /proc by uid may
    # see 65 for an instant while the kill at the end of the grade reaps the 64 (a reaped task leaves the
    # group's count before it leaves /proc, and a forker still alive takes its place).
    if env == "root":
        assert 6 <= max(in_group) <= 64, (max(in_group), peak)  # the group was found full of the attack, no more
    else:
        # 8 forks at most (RLIMIT_NPROC), plus, for an instant, the grader's own kill helper: at the end of
        # the attacker's grade sandbox/reaping.kill_uid forks and setuid()s to the slot's uid to kill(-1)
        # the attack atomically. setuid() does not check RLIMIT_NPROC (only fork and execve do), so that
        # helper can be the ninth process of the uid; the attack itself never gets a ninth.
        assert peak <= 8 + 1, peak
    assert results["attacker"].report is not None and results["attacker"].score == 0
    left = [p for p in _uid_processes(attacker_uid) if not p.endswith(("Z", "X"))]
    assert not left, left  # nothing of the attacker runs on after its grade


# ---- the same tests where courses run the grader: Docker's default capabilities, and nobody ----------------

NESTED = "AUTOGRADER_TEST_ENVIRONMENT"


@pytest.mark.skipif(not ROOT or bool(os.environ.get(NESTED)), reason="started once, from root")
@pytest.mark.parametrize("env", ["docker", "nonroot"])
def test_disk_and_process_limits_hold_in_other_environments(env):
    """The disk and process tests above rerun as real processes under Docker's capability set (without
    cgroups, as Docker's read-only /sys/fs/cgroup; root reads the worker's /proc/<pid>/fd as its fsuid)
    and as nobody (no dedicated uid)."""
    from hostile.harness import DOCKER_CAPS, NOBODY

    prefix = (
        DOCKER_CAPS
        if env == "docker"
        else ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
    )
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
        NESTED: env,
        sandbox.SKIP_ENV: "cgroups",
    }
    environ.pop("AUTOGRADER_CACHE_DIR", None)
    done = subprocess.run(
        prefix
        + [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            str(Path(__file__)),
            "-k",
            "not beside and not nobody",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(Path(__file__).parents[1]),
        env=environ,
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:]
    print(f"\n[{env}] {summary}")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    passed = int(summary.split(" passed")[0].split()[-1])
    assert passed >= (6 if env == "docker" else 5), done.stdout[-3000:]
