"""Issue 14, items 2-4: spoofed worker replies are the student's failure and leak nothing; student text
is safe in every output; the grader's own memory and stack are bounded by what a handin holds.

The spoofing corpus (tests/hostile/spoofing.py) is graded once, two at a time, on the task-2 mini suite
(as test_hostile.py does); every output of each run (report, stdout, stderr) is searched for the hidden
tests' and the reference's lines, and the grading process's peak memory is read from run_grade.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autograder.framework import reports
from autograder.framework.archive import prepare_submission, remove_tree
from autograder.framework.errors import UNREADABLE, SubmissionError
from autograder.framework.harness import INTERNAL_PREFIX, short_traceback, unreadable
from autograder.framework.rubric import Task
from autograder.framework.scoreboard import render
from autograder.framework.scoring import TestOutcome, score_tasks
from autograder.framework.text import cap, clean, clean_tree
from hostile.corpus import REPO
from hostile.harness import MINI_MAX, grade_many, leaked_lines, make_mini_tests, secret_lines
from hostile.spoofing import deep_archive, deep_tree, long_name_tar_bomb, pax_tar_bomb, spoofing_cases

PEAK_MIB = 300  # the grading process's peak resident memory for any hostile case
UGLY = "\U0001f600\x00\x07\x1b[31m\r\n\ud800\udfff\u202e\x9b"
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="graded as root with the uid drop, as CI does")


# ---- text: one clean-and-cap rule -------------------------------------------------------------------


def _safe(text: str) -> None:
    """Valid UTF-8, no control characters but newline and tab."""
    text.encode("utf-8")  # raises on a lone surrogate
    assert not any((ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F for c in text), repr(text)


def test_clean_replaces_surrogates_and_controls_keeps_astral_newline_tab() -> None:
    out = clean("a\x00b\ud800c\r\nd\te\U0001f600\x1b[2J")
    _safe(out)
    assert out == "a\ufffdb\ufffdc\nd\te\U0001f600\ufffd[2J"


@pytest.mark.parametrize("limit", [0, 1, 5, 40, 100, 4096])
def test_cap_counts_encoded_bytes_and_never_splits_a_character(limit: int) -> None:
    text = (UGLY + "\U0001f4a9" * 50) * 40
    out = cap(text, limit)
    _safe(out)
    assert len(out.encode("utf-8")) <= limit
    assert cap("short", limit) == ("short" if limit >= 5 else cap("short", limit))


def test_clean_tree_cleans_keys_and_values_at_any_depth() -> None:
    node: object = {"k\x00": [UGLY * 100]}
    for _ in range(5000):  # deeper than Python's recursion limit
        node = [node]
    out = clean_tree(node, 64)
    for _ in range(5000):
        out = out[0]
    ((key, value),) = out.items()
    _safe(key)
    _safe(value[0])
    assert len(value[0].encode()) <= 64


TASKS = tuple(Task(f"{i}.1", f"task {i}", 5) for i in range(20))


def _ugly_scores(n_cases: int = 40):
    """Every task failing many cases with distinct, huge, hostile messages and printed output."""
    outcomes = [
        TestOutcome(
            f"hidden/t.py::test_{t.id}_{i}", t.id, 1, "visible", False, f"case {i}: " + UGLY * 4000, UGLY * 4000, 0.1
        )
        for t in TASKS
        for i in range(n_cases)
    ]
    return score_tasks(TASKS, outcomes)


@pytest.mark.parametrize("fmt", reports.FORMATS)
def test_reports_of_hostile_text_fit_1mb_and_encode(tmp_path: Path, fmt: str, schema) -> None:
    report = reports.build(fmt, _ugly_scores(), notes=[UGLY * 100000])
    path = tmp_path / "results.json"
    reports.write_atomic(path, report)
    data = path.read_bytes()
    assert len(data) < 1_000_000, len(data)
    text = data.decode("utf-8")  # strict: valid UTF-8
    assert "\\u0000" not in text and "\\ud800" not in text and "\x1b" not in text
    parsed = json.loads(text)
    if fmt == "gradescope":
        schema(parsed)
        assert "\U0001f600" in parsed["tests"][0]["output"]  # astral characters survive, as 4 bytes
    reports.json_line(report).encode("ascii")


def test_scoreboard_of_hostile_text_prints_anywhere() -> None:
    board = render(_ugly_scores(1))
    _safe(board)
    board.encode("ascii", "backslashreplace")


# ---- replies that do not fit the protocol ----------------------------------------------------------


def test_unreadable_names_the_first_difference_in_form() -> None:
    want = {"out": np.zeros((3, 5)), "grads": [np.zeros(3), None], "n": 3}
    assert unreadable({"out": np.ones((3, 5)), "grads": [np.ones(3), None], "n": 4.0}, want) is None
    cases = [
        ({"out": np.ones((3, 5)), "grads": [np.ones(3), None]}, "keys"),
        ({"out": np.ones((3, 5)) * 1j, "grads": [np.ones(3), None], "n": 3}, "complex"),
        ({"out": np.ones((5, 3)), "grads": [np.ones(3), None], "n": 3}, "shape (5, 3)"),
        ({"out": np.ones((3, 5)), "grads": [np.ones(3)], "n": 3}, "list of 1 items"),
        ({"out": np.ones((3, 5)), "grads": [np.ones(3), np.ones(2)], "n": 3}, "where the grader expects None"),
        (["out"], "where the grader expects a dict"),
    ]
    for got, words in cases:
        problem = unreadable(got, want)
        assert problem is not None and words in problem, (got, problem)


def test_short_traceback_has_frames_but_no_source_lines() -> None:
    def secret_function_name_here() -> None:
        very_secret_expected_value = {"grad": 1}  # a source line that must not be printed
        very_secret_expected_value["missing"]

    try:
        secret_function_name_here()
    except KeyError as exc:
        text = short_traceback(exc)
    assert "KeyError: 'missing'" in text and "secret_function_name_here" in text
    assert "very_secret_expected_value" not in text and "test_hardening.py:" in text


@pytest.fixture(scope="module")
def spoofed(tmp_path_factory):
    """Grade the reference baseline and every spoofing case once (slots 5 and 6)."""
    mini = make_mini_tests(tmp_path_factory.mktemp("mini"))
    base = tmp_path_factory.mktemp("spoof")
    jobs = []
    work = base / "baseline-reference"
    work.mkdir()
    jobs.append(("baseline-reference", REPO / "solutions" / "hw1p1", work, {"tests_dir": mini}))
    for case in spoofing_cases():
        work = base / case.name
        work.mkdir()
        jobs.append((case.name, case.build(work), work, {"tests_dir": mini}))
    return grade_many(jobs)


SPOOF_NAMES = [c.name for c in spoofing_cases()]
# Replies outside the protocol, said so in the student's report (complex numbers, deep lists or huge
# arrays are plain data: the checks themselves explain what is wrong with them).
UNREADABLE_CASES = (
    "spoof_grader_kind",
    "spoof_unknown_scenario",
    "spoof_unknown_kind",
    "spoof_bad_envelope",
    "spoof_missing_key",
    "spoof_huge_int",
    "spoof_wrong_types",
    "spoof_json_flood",
)


@root_only
@pytest.mark.parametrize("name", SPOOF_NAMES)
def test_spoofed_reply_is_the_students_failure_and_leaks_nothing(spoofed, schema, name: str) -> None:
    g, base = spoofed[name], spoofed["baseline-reference"]
    assert base.score == MINI_MAX, base.stderr[-2000:]
    assert g.returncode == 0 and g.report is not None, f"{name}: rc {g.returncode}\n{g.stderr[-3000:]}"
    schema(g.report)
    assert g.score < MINI_MAX, f"{name}: the attack did not lose the points it broke"
    assert INTERNAL_PREFIX not in g.raw and "INTERNAL GRADER ERROR" not in g.stderr, (
        f"{name}: a spoofed reply became an internal grader error:\n{g.stderr[-2000:]}"
    )
    if name in UNREADABLE_CASES:
        assert UNREADABLE in g.raw, f"{name}: {g.report['tests'][2]['output'][:600]}"
    data = g.results.read_bytes()
    assert len(data) < 1_000_000
    _safe(data.decode("utf-8"))
    for where, text in (("report", g.raw), ("stdout", g.stdout), ("stderr", g.stderr)):
        leaks = leaked_lines(text, secret_lines())
        assert not leaks, f"{name}: {where} quotes {len(leaks)} hidden/reference line(s), e.g. {leaks[:2]}"
    assert g.peak_mib < PEAK_MIB, f"{name}: the grader peaked at {g.peak_mib} MiB"


def test_hostile_text_reaches_every_output_path_safely(tmp_path: Path) -> None:
    """The CLI with each format: exit 0, a scoreboard, the Autolab line last, under LANG=C too."""
    from hostile.spoofing import _ugly_text, _variant

    handin = _variant(_ugly_text)(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(LANG="C", LC_ALL="C", PYTHONIOENCODING="ascii")
    for fmt in reports.FORMATS:
        out = tmp_path / f"{fmt}.json"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "autograder",
                "grade",
                str(handin),
                "--results",
                str(out),
                "--format",
                fmt,
                "--slot",
                "7",
                "--assignment",
                "hw1p1",
            ],
            env=env,
            capture_output=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
        stdout = proc.stdout.decode("ascii")
        assert "TOTAL" in stdout
        assert len(out.read_bytes()) < 1_000_000
        _safe(out.read_bytes().decode("utf-8"))
        if fmt == "autolab":
            assert "scores" in json.loads(stdout.strip().splitlines()[-1])


# ---- the grader's own memory and stack -------------------------------------------------------------


def _prepare_in_child(src: Path, dest: Path, bypass_scan: bool = False) -> dict:
    """prepare_submission in a fresh interpreter: its outcome and that process's peak memory.
    `bypass_scan`: without the header pre-scan, to test the bounded reads behind it on their own."""
    code = (
        "import json, resource, sys\n"
        "from pathlib import Path\n"
        "from autograder.framework import archive\n"
        + ("archive._scan_tar = lambda path, limits: True\n" if bypass_scan else "")
        + "from autograder.framework.archive import prepare_submission\n"
        "from autograder.framework.errors import SubmissionError\n"
        "try:\n"
        "    prepare_submission(Path(sys.argv[1]), Path(sys.argv[2]), 'mytorch'); msg = None\n"
        "except SubmissionError as e:\n"
        "    msg = e.message\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
        "print(json.dumps({'message': msg, 'peak_mib': int(hwm) / 1024}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(src), str(dest)], capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


@pytest.mark.parametrize("bypass_scan", [False, True], ids=["scan", "bounded-reads-alone"])
@pytest.mark.parametrize("bomb", [long_name_tar_bomb, pax_tar_bomb])
def test_tar_header_bomb_is_refused_before_tarfile_allocates(tmp_path: Path, bomb, bypass_scan: bool) -> None:
    archive = bomb(tmp_path)
    assert archive.stat().st_size < 3 * 2**20  # a small upload...
    result = _prepare_in_child(archive, tmp_path / "out", bypass_scan)  # ...that claims a 1.6 GB header
    assert result["message"] and "header" in result["message"], result
    assert result["peak_mib"] < 100, result
    assert not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_deep_archive_is_refused_with_a_message_and_leaves_nothing(tmp_path: Path, kind: str) -> None:
    archive = deep_archive(tmp_path)
    if kind == "zip":  # the same entries in a zip
        import tarfile
        import zipfile

        with tarfile.open(archive) as t, zipfile.ZipFile(tmp_path / "deep.zip", "w") as z:
            for m in t.getmembers():
                if m.isreg():
                    z.writestr(m.name, t.extractfile(m).read())
        archive = tmp_path / "deep.zip"
    with pytest.raises(SubmissionError, match="folders deep"):
        prepare_submission(archive, tmp_path / "out", "mytorch")
    assert not any((tmp_path / "out").iterdir())


def test_deep_tree_is_refused_with_a_message_and_leaves_nothing(tmp_path: Path) -> None:
    handin = deep_tree(tmp_path)
    try:
        with pytest.raises(SubmissionError, match="folders deep"):
            prepare_submission(handin, tmp_path / "out", "mytorch")
        assert not any((tmp_path / "out").iterdir())
    finally:  # pytest's own clean-up of old tmp folders is recursive (shutil.rmtree): leave no deep tree
        assert remove_tree(handin) and not handin.exists()


@root_only
def test_deep_tree_in_the_workers_folder_is_cleaned_up(tmp_path: Path) -> None:
    """A worker that builds a 3,000-deep tree in its folder: the grader removes it, no RecursionError."""
    from autograder.framework.client import WorkerClient

    scenarios = tmp_path / "scen.py"
    scenarios.write_text(
        "import os\ndef deep(lib):\n    for _ in range(3000):\n        os.mkdir('d'); os.chdir('d')\n    return 1\n"
    )
    pkg = tmp_path / "sub" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    with WorkerClient(tmp_path / "sub", "pkg", scenarios, slot=44) as c:  # a slot no other test file uses
        scratch = c.sandbox.scratch.root
        assert c.run("deep", timeout=120) == 1
        c.restart()  # resets the work folder (reset_work_dir)
        assert not any((scratch / "work").iterdir())
        fd = os.open(scratch / "work", os.O_RDONLY)  # 1,200 deep (past shutil.rmtree), for close: remove_scratch
        for _ in range(1200):
            os.mkdir("d", dir_fd=fd)
            fd, old = os.open("d", os.O_RDONLY, dir_fd=fd), fd
            os.close(old)
        os.close(fd)
    assert not scratch.exists()


def test_a_refused_or_failed_reply_is_not_kept_alive_by_its_error(tmp_path: Path) -> None:
    """pytest keeps each failure's exception; it must not hold the reply (up to 32 MiB) it came from."""
    import gc
    import tracemalloc

    from autograder.framework.client import WorkerClient
    from autograder.framework.errors import BadObservation, StudentException

    scenarios = tmp_path / "scen.py"
    scenarios.write_text(
        "import sys\n"
        "import numpy as np\n"
        "def flood(lib):\n"
        "    return {'x': 'x' * (8 << 20)}  # 8 MB of JSON: refused (limit 1 MiB)\n"
        "def ballast(lib):\n"
        "    W = sys.modules['__main__'].Worker\n"
        "    orig = W.send\n"
        "    def send(self, reply):\n"
        "        W.send = orig\n"
        "        return orig(self, {'ok': False, 'error': {'kind': 'exception', 'type': 'E', 'message': 'm',\n"
        "                                                'traceback': '', 'ballast': [np.ones(1 << 20)]}})\n"
        "    W.send = send\n"
        "    return 1\n"
    )
    pkg = tmp_path / "sub" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    kept: list[BaseException] = []
    with WorkerClient(tmp_path / "sub", "pkg", scenarios, slot=44) as c:  # a slot no other test file uses
        tracemalloc.start()
        try:
            for scenario, error in (("flood", BadObservation), ("ballast", StudentException)) * 2:
                with pytest.raises(error) as info:
                    c.run(scenario, timeout=60)
                kept.append(info.value)
            gc.collect()
            current, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert UNREADABLE in str(kept[0])
    assert current < 4 << 20, f"{current / 2**20:.1f} MiB still held by {len(kept)} errors"


def test_zip_with_a_huge_central_directory_is_refused_before_zipfile_reads_it(tmp_path: Path) -> None:
    import zipfile

    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i in range(3000):
            z.writestr(f"mytorch/f{i}.py", "")
    with pytest.raises(SubmissionError, match="more than 2000 files"):
        prepare_submission(archive, tmp_path / "out", "mytorch")
    assert not any((tmp_path / "out").iterdir())
