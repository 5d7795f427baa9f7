"""The sandboxed worker: normal calls, student errors, deadlines, limits, escapes and the trust boundary.

Every test builds a tiny fake submission (package `toy`) and a tiny scenarios file in tmp_path.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from autograder.framework import sandbox
from autograder.framework.client import Limits, WorkerClient
from autograder.framework.errors import (
    BadObservation,
    StudentCrash,
    StudentError,
    StudentException,
    StudentOutOfMemory,
    StudentTimeout,
    SubmissionError,
)

ROOT = os.geteuid() == 0
SLOT = 173  # uid BASE+173 when root: away from the small slots real grading runs use
BASE = int(os.environ.get("AUTOGRADER_WORKER_UID_BASE", sandbox.DEFAULT_UID_BASE))
MECH = sandbox.mechanisms()

SCENARIOS = '''
import json, os, sys
from pathlib import Path
import numpy as np

def call(lib, fn, **kwargs):
    """Call lib.<fn>(**kwargs) and return what it returns."""
    return getattr(lib, fn)(**kwargs)

def grads(lib, x):
    """A result whose 'grad_a' is whatever the student returns."""
    return {"out": np.asarray(x), "grad_a": lib.grad(x)}

def read_data(lib):
    """Data files sit in data/ next to the scenarios file."""
    return np.load(Path(__file__).parent / "data" / "tiny.npz")["x"]

def forge_reply(lib):
    """Student code that writes a frame header claiming a huge reply onto the channel."""
    fd = json.loads(sys.argv[1])["rep_fd"]
    os.write(fd, (10**12).to_bytes(8, "big"))
    import time; time.sleep(10)
'''


@pytest.fixture
def make_client(tmp_path):
    """Build a submission from {relative path: source} and return a WorkerClient for it (closed afterwards)."""
    clients = []

    def make(files: dict[str, str], limits: Limits | None = None, data_files=()) -> WorkerClient:
        sub = tmp_path / "sub"
        for rel, text in files.items():
            p = sub / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(textwrap.dedent(text))
        scenarios = tmp_path / "scenarios.py"
        scenarios.write_text(SCENARIOS)
        client = WorkerClient(sub, "toy", scenarios, data_files=data_files, limits=limits or Limits(), slot=SLOT)
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.close()


def _pid_alive(pid: int) -> bool:
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_normal_call_returns_plain_data_and_output(make_client):
    c = make_client(
        {
            "toy/__init__.py": """
        import numpy as np
        def double(x):
            print("doubling", x.shape)
            return {"y": 2 * x, "y32": (2 * x).astype(np.float32), "n": 3, "s": np.float32(1.5)}
    """
        }
    )
    x = np.arange(6.0).reshape(2, 3)
    got = c.run("call", fn="double", x=x)
    np.testing.assert_array_equal(got["y"], 2 * x)
    assert got["y32"].dtype == np.float32  # float32 arithmetic must stay visible to the checks
    assert got["n"] == 3 and type(got["s"]) is np.float32
    assert c.take_output() == "doubling (2, 3)\n"
    assert c.take_output() == ""  # taken once


def test_exception_traceback_shows_only_student_frames(make_client):
    c = make_client(
        {
            "toy/__init__.py": "from toy.ops import grad\n",
            "toy/ops.py": """
            def grad(x):
                return helper(x)

            def helper(x):
                return x.shape[5]
        """,
        }
    )
    with pytest.raises(StudentException) as info:
        c.run("grads", x=np.zeros(3))
    msg = info.value.message
    assert msg.startswith("IndexError: tuple index out of range")
    assert 'File "toy/ops.py", line 3, in grad' in msg and "return helper(x)" in msg
    assert 'File "toy/ops.py", line 6, in helper' in msg and "return x.shape[5]" in msg
    for leak in ("worker_main", "scenarios.py", "ag-worker-", "channel.py"):
        assert leak not in msg
    assert info.value.exc_type == "IndexError"
    assert not isinstance(info.value, AssertionError)


def test_not_implemented_error_keeps_its_message(make_client):
    c = make_client(
        {
            "toy/__init__.py": """
        def grad(x):
            raise NotImplementedError("Task 2.3: implement Mul.backward")
    """
        }
    )
    with pytest.raises(StudentException, match=r"^NotImplementedError: Task 2\.3: implement Mul\.backward\n"):
        c.run("grads", x=np.zeros(3))
    # The worker survives ordinary exceptions: the same worker answers the next call.
    pid = c.worker_pid
    with pytest.raises(StudentException):
        c.run("grads", x=np.zeros(3))
    assert c.worker_pid == pid


def test_syntax_error_names_file_line_and_caret_and_is_remembered(make_client):
    c = make_client(
        {
            "toy/__init__.py": "from toy import bad\n",
            "toy/bad.py": "x = 1\n\ndef f(:\n    pass\n",
        }
    )
    with pytest.raises(StudentException) as info:
        c.run("call", fn="f")
    msg = info.value.message
    assert msg.startswith("importing your package 'toy' failed: SyntaxError:")
    assert 'File "toy/bad.py", line 3' in msg and "def f(:" in msg
    caret_line = msg.splitlines()[msg.splitlines().index("    def f(:") + 1]
    assert caret_line.strip() == "^"
    t = time.perf_counter()
    with pytest.raises(StudentException) as again:
        c.run("call", fn="f")
    assert again.value.message == msg and time.perf_counter() - t < 0.05  # no new worker per call


def test_timeout_kills_a_loop_that_ignores_signals_and_next_call_works(make_client):
    c = make_client(
        {
            "toy/__init__.py": """
        import signal
        def spin():
            for s in (signal.SIGTERM, signal.SIGALRM, signal.SIGINT):
                signal.signal(s, signal.SIG_IGN)
            print("spinning")
            while True:
                pass
        def ok():
            return 42
    """
        }
    )
    old_pid = None
    assert c.run("call", fn="ok") == 42
    old_pid = c.worker_pid
    t = time.perf_counter()
    with pytest.raises(StudentTimeout) as info:
        c.run("call", fn="spin", timeout=0.5)
    assert time.perf_counter() - t < 2.0
    assert info.value.message == "timed out after 0.5 s (an infinite loop, or a traversal that revisits nodes?)"
    assert not _pid_alive(old_pid)
    assert "spinning" in c.take_output()  # output printed before the kill is kept
    assert c.run("call", fn="ok") == 42 and c.worker_pid != old_pid


def test_memory_bomb_gives_an_out_of_memory_message(make_client):
    c = make_client(
        {
            "toy/__init__.py": """
        def bomb():
            return len(bytearray(3 * 1024**3))
        def ok():
            return 1
    """
        }
    )
    with pytest.raises(StudentOutOfMemory, match=r"^ran out of memory \(limit 2 GiB\)") as info:
        c.run("call", fn="bomb")
    assert 'File "toy/__init__.py", line 3, in bomb' in info.value.message
    assert c.run("call", fn="ok") == 1


@pytest.mark.parametrize("how", ["os._exit(0)", "sys.exit(3)"])
def test_exit_at_import_is_explained_and_fast_on_repeat(make_client, how):
    c = make_client({"toy/__init__.py": f"import os, sys\n{how}\n"})
    with pytest.raises(StudentCrash) as info:
        c.run("call", fn="anything")
    assert info.value.message.startswith(
        "your package exited while being imported (sys.exit / os._exit at import time?)"
    )
    t = time.perf_counter()
    with pytest.raises(StudentCrash) as again:
        c.run("call", fn="anything")
    assert time.perf_counter() - t < 0.05
    assert again.value.message == info.value.message


def test_exit_and_crash_during_a_call(make_client):
    c = make_client(
        {
            "toy/__init__.py": """
        import os, signal
        def leave():
            os._exit(0)
        def segv():
            os.kill(os.getpid(), signal.SIGSEGV)
        def ok():
            return "fine"
    """
        }
    )
    with pytest.raises(StudentCrash, match=r"your code exited \(status 0\) while running scenario 'call'"):
        c.run("call", fn="leave")
    assert c.run("call", fn="ok") == "fine"
    with pytest.raises(StudentCrash, match="killed by SIGSEGV"):
        c.run("call", fn="segv")
    assert c.run("call", fn="ok") == "fine"


def test_cpu_limit_is_reported(make_client):
    c = make_client(
        {
            "toy/__init__.py": """
        def burn():
            while True:
                pass
    """
        },
        limits=Limits(cpu_seconds=1, call_timeout=20),
    )
    # Not a timeout (20 s of wall clock): the CPU limit ended it, and the message says so.
    with pytest.raises(StudentCrash, match=r"^used more than 1 s of CPU"):
        c.run("call", fn="burn")


def test_escaped_setsid_grandchild_is_dead_after_close(make_client):
    c = make_client(
        {
            "toy/__init__.py": """
        import os, time
        def escape():
            r, w = os.pipe()
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:  # double fork: re-parented away from the worker
                    os.write(w, str(os.getpid()).encode())
                    os.close(w)
                    time.sleep(1000)
                os._exit(0)
            os.close(w)
            return int(os.read(r, 32))
    """
        }
    )
    pid = c.run("call", fn="escape")
    assert _pid_alive(pid)
    c.close()
    assert not os.path.exists(f"/proc/{pid}")  # killed and reaped (we are its subreaper), no zombie left


def test_print_flood_is_bounded_and_does_not_block(make_client):
    c = make_client(
        {
            "toy/__init__.py": """
        import sys
        def flood():
            chunk = "x" * (1024 * 1024 - 1) + "\\n"
            for _ in range(200):
                sys.stdout.write(chunk)
            return "done"
    """
        },
        limits=Limits(output_bytes_per_call=1000),
    )
    t = time.perf_counter()
    assert c.run("call", fn="flood") == "done"
    assert time.perf_counter() - t < 5
    out = c.take_output()
    assert out.startswith("x" * 1000)
    assert out.endswith(f"[... {200 * 1024 * 1024 - 1000} bytes cut]\n")
    assert len(out) < 1100


def test_student_redirecting_stdout_cannot_reach_the_channel(make_client):
    c = make_client(
        {
            "toy/__init__.py": """
        import io, os, sys
        def hijack():
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            sys.stdout = io.StringIO()
            return 1
        def talk():
            print("hello from student")
            return 2
    """
        }
    )
    assert c.run("call", fn="hijack") == 1
    assert c.run("call", fn="talk") == 2
    assert "hello from student" in c.take_output()


def test_objects_that_are_not_data_become_a_bad_observation(make_client):
    c = make_client(
        {
            "toy/__init__.py": """
        import numpy as np
        class Tensor:
            def __init__(self, data):
                self.data = data
            def __eq__(self, other):
                return True
        def grad(x):
            return Tensor(x)
    """
        }
    )
    with pytest.raises(BadObservation) as info:
        c.run("grads", x=np.zeros(3))
    assert info.value.message == (
        "scenario 'grads' returned Tensor for 'grad_a'; expected a numpy array (a Tensor? return its .data)"
    )


def test_forged_reply_is_refused_and_the_worker_restarted(make_client):
    c = make_client({"toy/__init__.py": "def ok():\n    return 7\n"})
    with pytest.raises(BadObservation, match="larger than the limit"):
        c.run("forge_reply")
    assert c.run("call", fn="ok") == 7


def test_unknown_scenario_is_a_grader_error_not_a_student_error(make_client):
    c = make_client({"toy/__init__.py": ""})
    with pytest.raises(LookupError, match="unknown scenario 'nope'") as info:
        c.run("nope")
    assert not isinstance(info.value, StudentError)


def test_data_files_are_next_to_the_scenarios(make_client, tmp_path):
    data = tmp_path / "tiny.npz"
    np.savez(data, x=np.arange(5))
    c = make_client({"toy/__init__.py": ""}, data_files=[data])
    np.testing.assert_array_equal(c.run("read_data"), np.arange(5))


def test_missing_package_is_a_submission_error(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "s.py").write_text(SCENARIOS)
    with pytest.raises(SubmissionError, match="no package 'toy'"):
        WorkerClient(tmp_path / "sub", "toy", tmp_path / "s.py", slot=SLOT)


def test_close_removes_scratch_and_kills_worker(make_client):
    c = make_client({"toy/__init__.py": "import os\ndef where():\n    return os.getcwd()\n"})
    cwd = c.run("call", fn="where")
    pid = c.worker_pid
    scratch = Path(cwd).parent
    assert scratch.name.startswith("ag-worker-") and scratch.exists()
    c.close()
    assert not scratch.exists() and not _pid_alive(pid)


def test_submission_copy_is_read_only_and_cwd_is_writable(make_client):
    c = make_client(
        {
            "toy/__init__.py": """
        import os
        def write_both():
            open("scratch.txt", "w").write("ok")
            try:
                open(os.path.join(os.path.dirname(__file__), "planted.py"), "w").write("x = 1")
                return "planted"
            except OSError:
                return "refused"
    """
        }
    )
    assert c.run("call", fn="write_both") == "refused"


@pytest.mark.skipif(not ROOT, reason="privilege drop needs root")
def test_worker_runs_as_slot_uid_and_cannot_read_root_only_files(make_client, monkeypatch):
    monkeypatch.setenv(sandbox.SKIP_ENV, "landlock")  # this layer alone: Landlock would refuse both reads
    folder = Path(tempfile.mkdtemp())
    try:
        folder.chmod(0o755)
        secret, public = folder / "answers.npz", folder / "public.txt"
        secret.write_text("expected values")
        secret.chmod(0o600)
        public.write_text("anyone")
        public.chmod(0o644)
        c = make_client(
            {
                "toy/__init__.py": """
            import os
            def ids():
                return [os.getuid(), os.getgid(), os.getgroups()]
            def read(path):
                try:
                    return open(path).read()
                except OSError as e:
                    return type(e).__name__
        """
            }
        )
        assert c.run("call", fn="ids") == [BASE + SLOT, BASE + SLOT, []]
        assert c.run("call", fn="read", path=str(public)) == "anyone"  # the check below is not vacuous
        assert c.run("call", fn="read", path=str(secret)) == "PermissionError"
    finally:
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()


CONNECT = {
    "toy/__init__.py": """
    import socket
    def connect(port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return "connected"
        except OSError as e:
            return f"{type(e).__name__} errno {e.errno}"
"""
}
ALL_LAYERS = ("netns", "seccomp", "landlock")
# How each layer refuses a TCP connection: the errno tells which one held.
NETWORK_SIGNATURE = {"netns": "errno 101", "seccomp": "PermissionError errno 1", "landlock": "PermissionError errno 13"}
LAYER_AVAILABLE = {
    "netns": ROOT and MECH.netns is None,
    "seccomp": MECH.seccomp is None,
    "landlock": MECH.landlock is None and MECH.landlock_abi >= 4,
}


@pytest.fixture
def listening_port():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    socket.create_connection(("127.0.0.1", port), timeout=1).close()  # reachable from the grader
    yield port
    server.close()


@pytest.mark.parametrize("layer", ALL_LAYERS)
def test_each_network_layer_holds_on_its_own(make_client, monkeypatch, listening_port, layer):
    """With the other two left out, each layer alone refuses the connection, with its own errno."""
    if not LAYER_AVAILABLE[layer]:
        pytest.skip(f"{layer} is not available here: {MECH}")
    monkeypatch.setenv(sandbox.SKIP_ENV, ",".join(x for x in ALL_LAYERS if x != layer))
    c = make_client(CONNECT)
    got = c.run("call", fn="connect", port=listening_port)
    assert got.endswith(NETWORK_SIGNATURE[layer]), got


def test_network_is_off_in_the_worker_and_the_log_says_by_what(make_client, listening_port):
    """All layers together: no connection; where the kernel has seccomp it refuses first (at socket())."""
    c = make_client(CONNECT)
    got = c.run("call", fn="connect", port=listening_port)
    assert got != "connected"
    if MECH.seccomp is None:
        assert got.endswith(NETWORK_SIGNATURE["seccomp"]), got
    held = c.sandbox.plan.held.get("network", [])
    assert held, c.sandbox.plan.staff_lines()
    assert ("network namespace" in held) == (ROOT and MECH.netns is None)


SECCOMP_PROBE = {
    "toy/__init__.py": """
    import ctypes, os, socket
    libc = ctypes.CDLL(None, use_errno=True)

    def err(result):
        return "ok" if result != -1 else os.strerror(ctypes.get_errno())

    def probe():
        out = {}
        try:
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()
            out["udp socket"] = "ok"
        except OSError as e:
            out["udp socket"] = e.strerror
        a, b = socket.socketpair()  # AF_UNIX: Python's own plumbing needs it
        out["socketpair"] = "ok"
        out["ptrace"] = err(libc.ptrace(16, os.getppid(), 0, 0))  # PTRACE_ATTACH
        out["unshare"] = err(libc.unshare(0x40000000))
        out["clone newuser"] = err(libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0))
        out["personality"] = err(libc.personality(0x0040000))
        out["keyctl"] = err(libc.syscall(250, 0, -3, 0, 0, 0))
        out["shmget"] = err(libc.shmget(0, 4096, 0o1600))
        out["msgget"] = err(libc.msgget(0, 0o1600))
        out["mount"] = err(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
        out["memfd_create"] = err(libc.syscall(319, b"hog", 0))
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        out["fork"] = str(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        return out
"""
}


@pytest.mark.skipif(MECH.seccomp is not None, reason="seccomp filter not available here")
def test_seccomp_filter_refuses_escapes_and_keeps_ordinary_code_working(make_client, monkeypatch):
    monkeypatch.setenv(sandbox.SKIP_ENV, "netns,landlock")  # this layer alone
    got = make_client(SECCOMP_PROBE).run("call", fn="probe")
    assert got.pop("socketpair") == "ok" and got.pop("fork") == "7"
    assert got == {k: "Operation not permitted" for k in got} and len(got) == 10, got


LANDLOCK_PROBE = {
    "toy/__init__.py": """
    import os, signal
    import numpy as np

    def attempt(fn):
        try:
            fn()
            return "ok"
        except OSError as e:
            return e.strerror

    def probe(secret, grader_source):
        here = os.path.dirname(__file__)
        return {
            "own package": attempt(lambda: open(os.path.join(here, "__init__.py")).read()),
            "write cwd": attempt(lambda: open("mine.txt", "w").write("x")),
            "numpy works": str(float(np.linalg.norm(np.ones(4)))),
            "world-readable secret": attempt(lambda: open(secret).read()),
            "grader source": attempt(lambda: os.listdir(grader_source)),
            "etc": attempt(lambda: open("/etc/hostname").read()),
            **{f"write {d}": attempt(lambda d=d: open(os.path.join(d, "w2a-pwned-ll"), "w").write("x"))
               for d in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")},
            "signal the grader": attempt(lambda: os.kill(os.getppid(), 0)),
        }
"""
}


@pytest.mark.skipif(MECH.landlock is not None, reason="Landlock not available here")
def test_landlock_confines_reads_writes_and_signals(make_client, monkeypatch, tmp_path):
    monkeypatch.setenv(sandbox.SKIP_ENV, "netns,seccomp")  # this layer alone
    secret = tmp_path / "public-but-secret.txt"
    secret.write_text("reference answers")
    secret.chmod(0o644)
    tmp_path.chmod(0o755)
    got = make_client(LANDLOCK_PROBE).run(
        "call", fn="probe", secret=str(secret), grader_source=str(Path(sandbox.__file__).parent)
    )
    assert got.pop("own package") == "ok" and got.pop("write cwd") == "ok" and got.pop("numpy works") == "2.0"
    denied = "Permission denied"
    if MECH.landlock_abi >= 6:
        assert got.pop("signal the grader") == "Operation not permitted"
    else:
        got.pop("signal the grader")
    assert got == {k: denied for k in got}, got
    assert not list(Path("/tmp").glob("w2a-pwned-ll"))


def test_deep_recursion_traceback_is_shortened(make_client):
    c = make_client(
        {
            "toy/__init__.py": """
        def down(n):
            return down(n + 1)
    """
        }
    )
    with pytest.raises(StudentException) as info:
        c.run("call", fn="down", n=0)
    msg = info.value.message
    assert msg.startswith("RecursionError: maximum recursion depth exceeded")
    assert "[Previous line repeated" in msg and "more times]" in msg  # collapsed as Python does
    assert msg.count('File "toy/__init__.py"') == 3


NON_ROOT_SCRIPT = """
import os, sys, time
sys.path.insert(0, sys.argv[1])
from autograder.framework.client import WorkerClient
from autograder.framework.errors import StudentTimeout
folder = sys.argv[2]
c = WorkerClient(folder + "/sub", "toy", folder + "/scenarios.py", slot=0)
c2 = WorkerClient(folder + "/sub", "toy", folder + "/scenarios.py", slot=1)
assert c.run("call", fn="uid") == os.getuid()
assert c2.run("call", fn="uid") == os.getuid()
pid = c.run("call", fn="escape")
try:
    c.run("call", fn="spin", timeout=0.3)
except StudentTimeout:
    pass
c.close()
c2.close()
print("escapee", "alive" if os.path.exists(f"/proc/{pid}") else "gone")
print("missing", len(c.missing_protections))
"""


@pytest.mark.skipif(not ROOT, reason="needs root to switch to the unprivileged user 'nobody'")
def test_without_root_missing_protections_are_named_once_and_escapees_still_die():
    folder = Path(tempfile.mkdtemp())
    try:
        folder.chmod(0o777)
        (folder / "sub" / "toy").mkdir(parents=True)
        (folder / "sub" / "toy" / "__init__.py").write_text(
            textwrap.dedent("""
            import os, time
            def uid():
                return os.getuid()
            def spin():
                while True:
                    pass
            def escape():
                r, w = os.pipe()
                if os.fork() == 0:
                    os.setsid()
                    if os.fork() == 0:
                        os.write(w, str(os.getpid()).encode())
                        time.sleep(1000)
                    os._exit(0)
                os.close(w)
                return int(os.read(r, 32))
        """)
        )
        (folder / "scenarios.py").write_text(SCENARIOS)
        for p in folder.rglob("*"):
            p.chmod(0o777)
        repo = Path(__file__).resolve().parents[1]

        def as_nobody() -> None:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)

        done = subprocess.run(
            [sys.executable, "-c", NON_ROOT_SCRIPT, str(repo), str(folder)],
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=as_nobody,
            cwd=str(folder),
        )
        if "Permission denied" in done.stderr and "autograder" not in done.stdout:
            pytest.skip(f"the interpreter or repository is not readable by nobody: {done.stderr[-3000:]}")
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["escapee", "gone", "missing", "3"]  # uid, netns, cgroups (nproc: relative limit)
        warnings = [line for line in done.stderr.splitlines() if "sandbox protections missing" in line]
        assert len(warnings) == 1 and "privilege drop" in warnings[0]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_worker_that_dies_before_student_code_runs_is_a_grader_error(tmp_path):
    (tmp_path / "sub" / "toy").mkdir(parents=True)
    (tmp_path / "sub" / "toy" / "__init__.py").write_text("")
    (tmp_path / "s.py").write_text("import os\nprint('scenarios broken')\nos._exit(1)\n")
    with WorkerClient(tmp_path / "sub", "toy", tmp_path / "s.py", slot=SLOT) as c:
        with pytest.raises(RuntimeError, match="the worker did not start") as info:
            c.run("anything")
        assert "scenarios broken" in str(info.value)
        assert not isinstance(info.value, StudentError)


@pytest.mark.skipif(not ROOT, reason="slots map to uids only when root")
def test_two_open_clients_cannot_share_a_slot(make_client, tmp_path):
    c = make_client({"toy/__init__.py": ""})
    with pytest.raises(RuntimeError, match=f"slot {SLOT} is already used"):
        WorkerClient(tmp_path / "sub", "toy", tmp_path / "scenarios.py", slot=SLOT)
    c.close()
    WorkerClient(tmp_path / "sub", "toy", tmp_path / "scenarios.py", slot=SLOT).close()  # free again


HOLD_SCRIPT = """
import sys, time
sys.path.insert(0, sys.argv[1])
from autograder.framework.client import WorkerClient
c = WorkerClient(sys.argv[2] + "/sub", "toy", sys.argv[2] + "/scenarios.py", slot=int(sys.argv[3]))
print("held", flush=True)
time.sleep(1.0)
c.close()
"""


@pytest.mark.skipif(not ROOT, reason="slots map to uids only when root")
def test_a_slot_held_by_another_process_is_waited_for(make_client, tmp_path):
    make_client({"toy/__init__.py": "def ok():\n    return 1\n"}).close()  # writes sub/ and scenarios.py
    repo = Path(__file__).resolve().parents[1]
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT, str(repo), str(tmp_path), str(SLOT)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        t = time.perf_counter()
        with WorkerClient(tmp_path / "sub", "toy", tmp_path / "scenarios.py", slot=SLOT) as c:
            waited = time.perf_counter() - t
            assert c.run("call", fn="ok") == 1
        assert waited > 0.5  # it waited for the other grader instead of killing its worker
    finally:
        holder.wait(timeout=30)


def test_memory_limit_comes_from_the_environment_with_a_floor() -> None:
    from autograder.framework.sandbox import Limits

    assert Limits.from_env({}).memory_bytes == Limits().memory_bytes
    assert Limits.from_env({"AUTOGRADER_MEMORY_LIMIT_MB": "512"}).memory_bytes == 512 * 1024**2
    with pytest.raises(ValueError, match="whole number"):
        Limits.from_env({"AUTOGRADER_MEMORY_LIMIT_MB": "lots"})
    with pytest.raises(ValueError, match="too small"):
        Limits.from_env({"AUTOGRADER_MEMORY_LIMIT_MB": "64"})


def test_calls_flow_one_way_and_only_the_sandbox_changes_a_worker() -> None:
    """client.py calls into sandbox/, never the reverse, and assigns no field of a worker process or of
    the sandbox (process.py owns WorkerProcess; session.py the sandbox's state)."""
    import ast

    framework = Path(sandbox.__file__).resolve().parent.parent
    for path in sorted((framework / "sandbox").glob("*.py")):
        tree = ast.parse(path.read_text())
        names = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [n for n in names if n.startswith("autograder.framework.client")], f"{path.name} imports the client"
    changed = []
    for node in ast.walk(ast.parse((framework / "client.py").read_text())):
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, (ast.AugAssign, ast.AnnAssign))
            else []
        )
        for target in targets:
            for attr in [t for t in ast.walk(target) if isinstance(t, ast.Attribute)]:
                base = ast.unparse(attr.value)
                if base == "proc" or base.startswith("self.sandbox") or base.endswith(".proc"):
                    changed.append(f"line {node.lineno}: {ast.unparse(target)}")
    assert not changed, changed


@pytest.mark.parametrize(
    "script, exit_code, signal_name",
    [("raise SystemExit(3)", 3, ""), ("import os; os.kill(os.getpid(), 9)", -9, "SIGKILL")],
)
def test_wait_worker_on_a_process_reaped_elsewhere_keeps_a_wait_status(script, exit_code, signal_name):
    from autograder.framework import sandbox

    popen = subprocess.Popen([sys.executable, "-c", script])
    popen.wait()  # reaped by Popen: wait4 now raises ChildProcessError
    sandbox.LIVE.workers.add(popen.pid)
    proc = sandbox.WorkerProcess(popen, -1, -1, -1, None, None, "token")
    assert sandbox.wait_worker(proc, timeout=1.0)
    assert os.waitstatus_to_exitcode(proc.status) == exit_code
    assert sandbox.describe_signal(proc.status) == signal_name
    assert popen.pid not in sandbox.LIVE.workers


# ---- nothing one handin leaves reaches the next (issue 10, cross-submission isolation) -----------------

PLACES = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
IPC_KEY = 0x5EED
PLANT = {
    "toy/__init__.py": """
    import ctypes, os, time
    libc = ctypes.CDLL(None, use_errno=True)
    PLACES = %r
    KEY = %d

    def plant(tag):
        done = []
        for d in PLACES:
            try:
                with open(os.path.join(d, "w2a-pwned-answers-" + tag), "w") as f:
                    f.write("answers")
                done.append(d)
            except OSError:
                pass
        for base in ("/tmp", "."):  # deeper than the recursion limit: a recursive cleanup would raise
            try:
                fd = os.open(base, os.O_RDONLY)
                for name in ["w2a-pwned-deep-" + tag] + ["d"] * 1200:
                    os.mkdir(name, dir_fd=fd)
                    sub = os.open(name, os.O_RDONLY, dir_fd=fd)
                    os.close(fd)
                    fd = sub
                os.close(fd)
                done.append("deep " + base)
            except OSError:
                pass
        if libc.shmget(KEY, 4096, 0o1666) != -1:
            done.append("shm")
        if libc.msgget(KEY, 0o1666) != -1:
            done.append("msg")
        if os.fork() == 0:
            os.setsid()
            time.sleep(1000)
        return done

    def look(tag):
        found = []
        for d in PLACES:
            try:
                open(os.path.join(d, "w2a-pwned-answers-" + tag)).read()
                found.append(d)
            except OSError:
                pass
        if libc.shmget(KEY, 0, 0) != -1:
            found.append("shm")
        if libc.msgget(KEY, 0) != -1:
            found.append("msg")
        return found
"""
    % (PLACES, IPC_KEY)
}


TAG = f"t{os.getpid()}"  # other suites on this machine plant their own w2a-pwned files


def _left_behind(uid: int | None) -> list[str]:
    """What a planting handin left, seen from the trusted side."""
    out = [str(p) for d in PLACES for p in Path(d).glob(f"w2a-pwned-*-{TAG}")]
    for kind in ("shm", "msg"):
        for line in Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]:
            if int(line.split()[0]) == IPC_KEY:
                out.append(f"sysv {kind}")
    if uid is not None:
        out += [
            f"pid {p}"
            for p in os.listdir("/proc")
            if p.isdigit()
            and os.stat(f"/proc/{p}").st_uid == uid
            and Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
        ]
    return out


@pytest.mark.parametrize("layers", ["all", "fallback"])
def test_nothing_a_handin_leaves_reaches_the_next_on_any_slot(make_client, monkeypatch, tmp_path, capfd, layers):
    """Plant answers in every world-writable folder, System V IPC, a 3,000-deep tree and a process; the
    next handin (same slot and another slot) finds nothing, and cleanup raises nothing (test_remove_tree
    covers 3,000 levels; 1,200 here keeps this test short and is past Python's recursion limit).

    'all': every layer this machine has (Landlock and seccomp refuse most of the planting).
    'fallback': without Landlock and seccomp (an older kernel): the uid's leftovers must be cleaned up."""
    if layers == "fallback":
        if not ROOT:
            pytest.skip("without Landlock and a dedicated uid the worker's files cannot be told apart (documented)")
        monkeypatch.setenv(sandbox.SKIP_ENV, "landlock,seccomp")
    a = make_client(PLANT)
    planted = a.run("call", fn="plant", tag=TAG, timeout=60)
    if layers == "fallback":
        assert {"/tmp", "shm", "msg", "deep /tmp", "deep ."} <= set(planted), planted  # not vacuous
    elif MECH.landlock is None:
        assert planted == ["deep ."], planted  # only its own work folder is writable
    a.close()
    assert _left_behind(BASE + SLOT if ROOT else None) == []
    for slot in (SLOT, SLOT + 1):
        sub = tmp_path / f"next{slot}"
        shutil.copytree(tmp_path / "sub", sub / "sub")
        with WorkerClient(sub / "sub", "toy", tmp_path / "scenarios.py", slot=slot) as b:
            assert b.run("call", fn="look", tag=TAG) == []
    assert "cleanup" not in capfd.readouterr().err


def test_remove_tree_handles_3000_levels_and_stays_in_bounds(tmp_path):
    # On tmpfs when there is one: each rmdir on a journalled disk costs milliseconds, the logic is the same.
    base = Path(tempfile.mkdtemp(dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else tmp_path))
    deep = base / "deep"
    fd = os.open(base, os.O_RDONLY)
    for name in ["deep"] + ["d"] * 3000:
        os.mkdir(name, dir_fd=fd)
        sub = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = sub
    os.close(fd)
    assert sandbox.remove_tree(deep, max_entries=100) is False and deep.exists()  # bounded: gives up, no raise
    assert sandbox.remove_tree(deep) is True and not deep.exists()
    assert sandbox.remove_tree(tmp_path / "missing") is True
    base.rmdir()


# ---- staff-only reporting, --require, and the TA's tree ---------------------------------------------


def test_staff_lines_name_every_protection_and_the_report_has_none(toy, tmp_path):
    from autograder.framework.grade import grade_submission

    out = grade_submission(toy.submission(), toy.assignment, tmp_path / "r.json")
    assert out.score == 12 and not out.grader_failed
    report = (tmp_path / "r.json").read_text()
    for word in ("sandbox", "Sandbox", "Landlock", "seccomp", "namespace", "privilege"):
        assert word not in report
    assert out.protections[-1].startswith("sandbox: network ")
    plan = sandbox.plan_protections(Limits(), sandbox.worker_ids(0)[0], 5.0)
    assert len(out.protections) == len(plan.applied) + len(plan.missing) + 1


def test_require_refuses_before_any_student_code_runs(toy, tmp_path, monkeypatch):
    from autograder.framework.grade import REFUSED, grade_submission

    drop = Path(tempfile.mkdtemp(dir="/var/tmp"))  # reachable by the worker uid once Landlock is left out
    drop.chmod(0o777)
    marker = drop / "w2a-pwned-require"
    spy = toy.submission("spy", __init__=f'open({str(marker)!r}, "w").write("student code ran")\n')
    monkeypatch.setenv(sandbox.SKIP_ENV, "landlock")
    try:
        out = grade_submission(spy, toy.assignment, tmp_path / "r.json", require=["filesystem", "network"])
        assert out.grader_failed and out.score == 0 and not marker.exists()
        report = (tmp_path / "r.json").read_text()
        assert REFUSED.split(":")[0] in report and "Landlock" not in report
        assert "sandbox: refused to run student code: required filesystem not held on this machine" in out.protections
        out = grade_submission(spy, toy.assignment, tmp_path / "r2.json")  # the control: the spy does run
        assert not out.grader_failed and marker.exists()
    finally:
        shutil.rmtree(drop, ignore_errors=True)


def test_cli_require_checks_its_names_and_prints_staff_lines(toy, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from autograder.cli import common as cli_common
    from autograder.cli.grade import grade_command

    monkeypatch.setattr(cli_common, "load_assignment", lambda name: toy.assignment)
    runner = CliRunner()
    bad = runner.invoke(grade_command, [str(toy.submission()), "--require", "network,bogus"])
    assert bad.exit_code == 2 and "bogus" in bad.output
    ok = runner.invoke(grade_command, [str(toy.submission("b")), "--results", str(tmp_path / "r.json")])
    assert ok.exit_code == 0, ok.output
    assert "sandbox: applied: Landlock" in ok.output or "sandbox: UNAVAILABLE: file-system" in ok.output
    assert "sandbox" not in (tmp_path / "r.json").read_text()


@pytest.mark.skipif(not ROOT, reason="the old chmod happened only when root")
def test_a_local_root_grade_leaves_the_checkout_permissions_alone(toy, tmp_path):
    from autograder.framework.grade import grade_submission

    folders = (toy.assignment.reference_root, toy.assignment.tests_dir)
    for f in folders:
        f.chmod(0o755)
    grade_submission(toy.submission(), toy.assignment, tmp_path / "r.json")
    assert [oct(f.stat().st_mode & 0o777) for f in folders] == ["0o755", "0o755"]


# ---- this suite where courses run the grader (issue 10): Docker's default capabilities, and nobody ----

NESTED = "AUTOGRADER_TEST_ENVIRONMENT"
IN_EVERY_ENVIRONMENT = "network or seccomp or landlock or reaches_the_next or require or staff"


@pytest.mark.skipif(not ROOT or bool(os.environ.get(NESTED)), reason="started once, from root")
@pytest.mark.parametrize("env", ["docker", "nonroot"])
def test_sandbox_suite_holds_in_other_environments(env):
    """The confinement tests above, rerun as real processes under Docker's capability set and as nobody;
    each layer's test skips (with the reason) where that layer is unavailable, the others must pass."""
    from hostile.harness import DOCKER_CAPS, NOBODY

    prefix = (
        DOCKER_CAPS
        if env == "docker"
        else ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
    )
    environ = {**{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}, NESTED: env}
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
            IN_EVERY_ENVIRONMENT,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=str(Path(__file__).parents[1]),
        env=environ,
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:]
    print(f"\n[{env}] {summary}")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    passed = int(summary.split(" passed")[0].split()[-1])
    assert passed >= 6, done.stdout[-3000:]


# ---- aggregate limits (issue 14): what the worker's processes use together --------------------------

MEMORY_SPLIT = {
    "toy/__init__.py": """
    import os, time
    import numpy as np

    def split(children, mib):
        pids = []
        for _ in range(children):
            pid = os.fork()
            if pid == 0:
                hog = np.ones(mib * 2**20 // 8)  # touched: real memory, under each process's RLIMIT_AS
                time.sleep(1.5)
                os._exit(0 if hog[-1] == 1 else 1)
            pids.append(pid)
        return [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]
"""
}


@pytest.mark.skipif(not ROOT or MECH.cgroups is not None, reason=f"per-slot cgroups not available: {MECH.cgroups}")
@pytest.mark.parametrize("layers", ["all", "no cgroups"])
def test_memory_of_all_worker_processes_counts_together(make_client, monkeypatch, layers):
    """Four processes of 250 MiB each fit their own 768 MiB RLIMIT_AS; together they exceed the slot's
    768 MiB cgroup, which stops some (OOM kill); without cgroups all four finish (the test is not vacuous)."""
    if layers != "all":
        monkeypatch.setenv(sandbox.SKIP_ENV, "cgroups")
    c = make_client(MEMORY_SPLIT, limits=Limits(memory_bytes=768 * 2**20))
    assert ("aggregate limits" in " ".join(c.missing_protections)) == (layers != "all")
    try:
        codes = c.run("call", fn="split", children=4, mib=250, timeout=30)
    except StudentCrash as e:  # the OOM killer may pick the worker itself
        assert layers == "all" and "SIGKILL" in e.message, e.message
        return
    assert (codes == [0, 0, 0, 0]) == (layers != "all"), codes


@pytest.mark.skipif(not ROOT or MECH.cgroups is not None, reason=f"per-slot cgroups not available: {MECH.cgroups}")
def test_the_worker_and_its_children_share_one_slot_group(make_client):
    c = make_client({"toy/__init__.py": "def ready():\n    return 1\n"})
    c.run("call", fn="ready")  # started
    text = Path(f"/proc/{c.worker_pid}/cgroup").read_text()
    name = sandbox.slot_cgroup_name(BASE + SLOT)
    assert (
        all(
            any(ctrl in line.split(":")[1].split(",") and line.endswith(name) for line in text.splitlines())
            for ctrl in ("memory", "pids", "cpu")
        )
        or f"0::/{name}" in text
    ), text


CPU_PAIR = {
    "toy/__init__.py": """
    import os, time

    def burners(n, seconds):
        for _ in range(n):
            if os.fork() == 0:
                os.setsid()  # each its own session: a scheduler autogroup of its own
                end = time.time() + seconds
                while time.time() < end:
                    pass
                os._exit(0)
        return n

    def work(n):
        t = time.perf_counter()
        x = 0
        for i in range(n):
            x += i * i
        return time.perf_counter() - t
"""
}


@pytest.mark.slow
@pytest.mark.skipif(not ROOT or MECH.cgroups is not None, reason=f"per-slot cgroups not available: {MECH.cgroups}")
def test_a_neighbour_keeps_its_cpu_share_beside_an_attacker(make_client, tmp_path):
    """40 CPU burners on one slot; the next slot's work slows by less than 4x (its cgroup's equal share),
    where per-process limits alone would leave it 1/41 of the CPU."""
    attacker = make_client(CPU_PAIR)
    shutil.copytree(tmp_path / "sub", tmp_path / "neighbour")
    with WorkerClient(tmp_path / "neighbour", "toy", tmp_path / "scenarios.py", slot=SLOT + 1) as neighbour:
        alone = min(neighbour.run("call", fn="work", n=2_000_000) for _ in range(3))
        attacker.run("call", fn="burners", n=40, seconds=20)
        time.sleep(0.5)
        beside = min(neighbour.run("call", fn="work", n=2_000_000) for _ in range(3))
    print(f"\nneighbour work: alone {alone:.3f} s, beside 40 burners {beside:.3f} s")
    assert beside < 4 * alone + 0.05, (alone, beside)
