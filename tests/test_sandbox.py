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
SLOT = 173  # uid 64173 when root: away from the small slots real grading runs use

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
    c = make_client({"toy/__init__.py": """
        import numpy as np
        def double(x):
            print("doubling", x.shape)
            return {"y": 2 * x, "y32": (2 * x).astype(np.float32), "n": 3, "s": np.float32(1.5)}
    """})
    x = np.arange(6.0).reshape(2, 3)
    got = c.run("call", fn="double", x=x)
    np.testing.assert_array_equal(got["y"], 2 * x)
    assert got["y32"].dtype == np.float32  # float32 arithmetic must stay visible to the checks
    assert got["n"] == 3 and type(got["s"]) is np.float32
    assert c.take_output() == "doubling (2, 3)\n"
    assert c.take_output() == ""  # taken once


def test_exception_traceback_shows_only_student_frames(make_client):
    c = make_client({
        "toy/__init__.py": "from toy.ops import grad\n",
        "toy/ops.py": """
            def grad(x):
                return helper(x)

            def helper(x):
                return x.shape[5]
        """,
    })
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
    c = make_client({"toy/__init__.py": """
        def grad(x):
            raise NotImplementedError("Task 2.3: implement Mul.backward")
    """})
    with pytest.raises(StudentException, match=r"^NotImplementedError: Task 2\.3: implement Mul\.backward\n"):
        c.run("grads", x=np.zeros(3))
    # The worker survives ordinary exceptions: the same worker answers the next call.
    pid = c.worker_pid
    with pytest.raises(StudentException):
        c.run("grads", x=np.zeros(3))
    assert c.worker_pid == pid


def test_syntax_error_names_file_line_and_caret_and_is_remembered(make_client):
    c = make_client({
        "toy/__init__.py": "from toy import bad\n",
        "toy/bad.py": "x = 1\n\ndef f(:\n    pass\n",
    })
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
    c = make_client({"toy/__init__.py": """
        import signal
        def spin():
            for s in (signal.SIGTERM, signal.SIGALRM, signal.SIGINT):
                signal.signal(s, signal.SIG_IGN)
            print("spinning")
            while True:
                pass
        def ok():
            return 42
    """})
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
    c = make_client({"toy/__init__.py": """
        def bomb():
            return len(bytearray(3 * 1024**3))
        def ok():
            return 1
    """})
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
        "your package exited while being imported (sys.exit / os._exit at import time?)")
    t = time.perf_counter()
    with pytest.raises(StudentCrash) as again:
        c.run("call", fn="anything")
    assert time.perf_counter() - t < 0.05
    assert again.value.message == info.value.message


def test_exit_and_crash_during_a_call(make_client):
    c = make_client({"toy/__init__.py": """
        import os, signal
        def leave():
            os._exit(0)
        def segv():
            os.kill(os.getpid(), signal.SIGSEGV)
        def ok():
            return "fine"
    """})
    with pytest.raises(StudentCrash, match=r"your code exited \(status 0\) while running scenario 'call'"):
        c.run("call", fn="leave")
    assert c.run("call", fn="ok") == "fine"
    with pytest.raises(StudentCrash, match="killed by SIGSEGV"):
        c.run("call", fn="segv")
    assert c.run("call", fn="ok") == "fine"


def test_cpu_limit_is_reported(make_client):
    c = make_client({"toy/__init__.py": """
        def burn():
            while True:
                pass
    """}, limits=Limits(cpu_seconds=1, call_timeout=20))
    # Not a timeout (20 s of wall clock): the CPU limit ended it, and the message says so.
    with pytest.raises(StudentCrash, match=r"^used more than 1 s of CPU"):
        c.run("call", fn="burn")


def test_escaped_setsid_grandchild_is_dead_after_close(make_client):
    c = make_client({"toy/__init__.py": """
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
    """})
    pid = c.run("call", fn="escape")
    assert _pid_alive(pid)
    c.close()
    assert not os.path.exists(f"/proc/{pid}")  # killed and reaped (we are its subreaper), no zombie left


def test_print_flood_is_bounded_and_does_not_block(make_client):
    c = make_client({"toy/__init__.py": """
        import sys
        def flood():
            chunk = "x" * (1024 * 1024 - 1) + "\\n"
            for _ in range(200):
                sys.stdout.write(chunk)
            return "done"
    """}, limits=Limits(output_bytes_per_call=1000))
    t = time.perf_counter()
    assert c.run("call", fn="flood") == "done"
    assert time.perf_counter() - t < 5
    out = c.take_output()
    assert out.startswith("x" * 1000)
    assert out.endswith(f"[... {200 * 1024 * 1024 - 1000} bytes cut]\n")
    assert len(out) < 1100


def test_student_redirecting_stdout_cannot_reach_the_channel(make_client):
    c = make_client({"toy/__init__.py": """
        import io, os, sys
        def hijack():
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            sys.stdout = io.StringIO()
            return 1
        def talk():
            print("hello from student")
            return 2
    """})
    assert c.run("call", fn="hijack") == 1
    assert c.run("call", fn="talk") == 2
    assert "hello from student" in c.take_output()


def test_objects_that_are_not_data_become_a_bad_observation(make_client):
    c = make_client({"toy/__init__.py": """
        import numpy as np
        class Tensor:
            def __init__(self, data):
                self.data = data
            def __eq__(self, other):
                return True
        def grad(x):
            return Tensor(x)
    """})
    with pytest.raises(BadObservation) as info:
        c.run("grads", x=np.zeros(3))
    assert info.value.message == "scenario 'grads' returned Tensor for 'grad_a'; expected a numpy array"


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
    c = make_client({"toy/__init__.py": """
        import os
        def write_both():
            open("scratch.txt", "w").write("ok")
            try:
                open(os.path.join(os.path.dirname(__file__), "planted.py"), "w").write("x = 1")
                return "planted"
            except OSError:
                return "refused"
    """})
    assert c.run("call", fn="write_both") == "refused"


@pytest.mark.skipif(not ROOT, reason="privilege drop needs root")
def test_worker_runs_as_slot_uid_and_cannot_read_root_only_files(make_client):
    folder = Path(tempfile.mkdtemp())
    try:
        folder.chmod(0o755)
        secret, public = folder / "answers.npz", folder / "public.txt"
        secret.write_text("expected values")
        secret.chmod(0o600)
        public.write_text("anyone")
        public.chmod(0o644)
        c = make_client({"toy/__init__.py": """
            import os
            def ids():
                return [os.getuid(), os.getgid(), os.getgroups()]
            def read(path):
                try:
                    return open(path).read()
                except OSError as e:
                    return type(e).__name__
        """})
        base = int(os.environ.get("AUTOGRADER_WORKER_UID_BASE", "64000"))
        assert c.run("call", fn="ids") == [base + SLOT, base + SLOT, []]
        assert c.run("call", fn="read", path=str(public)) == "anyone"  # the check below is not vacuous
        assert c.run("call", fn="read", path=str(secret)) == "PermissionError"
    finally:
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()


@pytest.mark.skipif(not ROOT, reason="network namespaces need root")
def test_network_is_off_in_the_worker(make_client):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()  # reachable from the grader
        c = make_client({"toy/__init__.py": """
            import socket
            def connect(port):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    return "connected"
                except OSError as e:
                    return type(e).__name__
        """})
        assert c.run("call", fn="connect", port=port) != "connected"
        assert "no network (own network namespace)" in c.protections
        assert not c.missing_protections
    finally:
        server.close()


def test_deep_recursion_traceback_is_shortened(make_client):
    c = make_client({"toy/__init__.py": """
        def down(n):
            return down(n + 1)
    """})
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
        (folder / "sub" / "toy" / "__init__.py").write_text(textwrap.dedent("""
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
        """))
        (folder / "scenarios.py").write_text(SCENARIOS)
        for p in folder.rglob("*"):
            p.chmod(0o777)
        repo = Path(__file__).resolve().parents[1]

        def as_nobody() -> None:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)

        done = subprocess.run([sys.executable,
                               "-c", NON_ROOT_SCRIPT, str(repo), str(folder)],
                              capture_output=True, text=True, timeout=60, preexec_fn=as_nobody, cwd=str(folder))
        if "Permission denied" in done.stderr and "autograder" not in done.stdout:
            pytest.skip(f"the interpreter or repository is not readable by nobody: {done.stderr[-300:]}")
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["escapee", "gone", "missing", "3"]
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
    holder = subprocess.Popen([sys.executable, "-c", HOLD_SCRIPT, str(repo), str(tmp_path), str(SLOT)],
                              stdout=subprocess.PIPE, text=True)
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


@pytest.mark.parametrize("script, exit_code, signal_name", [("raise SystemExit(3)", 3, ""),
                                                           ("import os; os.kill(os.getpid(), 9)", -9, "SIGKILL")])
def test_wait_worker_on_a_process_reaped_elsewhere_keeps_a_wait_status(script, exit_code, signal_name):
    from autograder.framework import sandbox

    popen = subprocess.Popen([sys.executable, "-c", script])
    popen.wait()  # reaped by Popen: wait4 now raises ChildProcessError
    sandbox._LIVE_WORKERS.add(popen.pid)
    proc = sandbox.WorkerProcess(popen, -1, -1, -1, None, None, "token")
    assert sandbox.wait_worker(proc, timeout=1.0)
    assert os.waitstatus_to_exitcode(proc.status) == exit_code
    assert sandbox.describe_signal(proc.status) == signal_name
    assert popen.pid not in sandbox._LIVE_WORKERS
