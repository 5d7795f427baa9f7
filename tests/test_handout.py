"""The student handout: generated faithfully from the reference, leaks nothing, and works on its own.

One fresh generation (module fixture) is compared with the committed handout/ and then exercised the way
a student would: the public tests in a subprocess (bare stubs -> every task fails with its own stub
message, score 0; the reference's mytorch copied in -> full marks), and `make handin`.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.cli.ship import handout_command
from autograder.framework.handoutgen import (
    HandoutError,
    diff_trees,
    fill_feedback,
    fill_rubric,
    find_fences,
    generate_handout,
    handout_contents,
    rubric_table,
    strip_fences,
    tree_files,
    write_zip,
)
from autograder.framework.rubric import FeedbackPolicy, Task
from tools.make_sample import recipe, sample_files
from tools.planted import Bug, Patch

REPO = ASSIGNMENT.reference_root.parents[1]
PACKAGE = ASSIGNMENT.package
TASK_IDS = [t.id for t in ASSIGNMENT.tasks]

# A pytest plugin loaded (-p) into the handout's own test run: dumps the harness's per-test outcomes as
# JSON, so these tests read tasks, verdicts and messages instead of scraping the console.
PROBE = """
import json, os
def pytest_terminal_summary(terminalreporter, config):
    harness = config.pluginmanager.get_plugin("grading-harness")
    reports = [r for rs in terminalreporter.stats.values() for r in rs if hasattr(r, "when")]
    rows = [{"nodeid": o.nodeid, "task": o.task, "passed": o.passed, "message": o.message,
             "internal": o.internal} for o in harness.outcomes(reports)]
    import autograder.framework.harness as harness_module
    with open(os.environ["HANDOUT_PROBE_OUT"], "w") as f:
        json.dump({"outcomes": rows, "harness_file": harness_module.__file__}, f)
"""


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A handout generated now from the current reference, tests and framework."""
    out = tmp_path_factory.mktemp("fresh") / "handout"
    generate_handout(ASSIGNMENT, out)
    return out


def _copy(fresh: Path, dest: Path) -> Path:
    shutil.copytree(fresh, dest)
    return dest


def run_public_tests(handout: Path, tmp: Path, *args: str) -> tuple[list[dict], str, int]:
    """Run the handout's tests as `make test` does; (outcomes, console output, exit status).

    Also asserts that the framework the run used is the copy shipped in the handout, not the grader
    installed in this environment (a student has only the handout).
    """
    probe_dir = tmp / "probe"
    probe_dir.mkdir(exist_ok=True)
    (probe_dir / "handout_probe.py").write_text(PROBE)
    out_json = tmp / "outcomes.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGRADER_HANDOUT")}
    env.update(PYTHONPATH=str(probe_dir), HANDOUT_PROBE_OUT=str(out_json), PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "handout_probe", *args],
        cwd=handout,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    console = proc.stdout + proc.stderr
    assert out_json.is_file(), f"the handout's test run produced no outcomes:\n{console[-3000:]}"
    probe = json.loads(out_json.read_text())
    assert Path(probe["harness_file"]).resolve().is_relative_to((handout / "tests" / "_support").resolve())
    return probe["outcomes"], console, proc.returncode


def total_line(console: str) -> tuple[float, float]:
    """(earned, possible) from the scoreboard's TOTAL row."""
    match = re.search(r"^\s*TOTAL\s+([\d.]+)/([\d.]+)\s*$", console, re.M)
    assert match, f"no scoreboard TOTAL line in:\n{console[-3000:]}"
    return float(match.group(1)), float(match.group(2))


# ------------------------------------------------------------------------------------- generation


def test_committed_handout_equals_a_fresh_generation(fresh: Path) -> None:
    committed = REPO / "handouts" / ASSIGNMENT.name
    assert committed.is_dir(), "handout/ is missing: run `make handout` and commit it"
    differing = diff_trees(fresh, committed)
    assert differing == [], f"handout/ drifted from its sources (run `make handout` and commit): {differing[:10]}"


def test_generation_is_deterministic_and_zips_are_byte_identical(fresh: Path, tmp_path: Path) -> None:
    same = {rel: data for rel, data in tree_files(fresh).items() if rel != "tests/expected.npz"}
    assert handout_contents(ASSIGNMENT) == same
    a, b = write_zip(fresh, tmp_path / "a.zip"), write_zip(fresh, tmp_path / "b.zip")
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as archive:
        assert sorted(archive.namelist()) == sorted(f"handout/{rel}" for rel in tree_files(fresh))


def test_no_fenced_line_of_the_reference_reaches_the_handout(fresh: Path) -> None:
    fenced = {line.strip() for f in find_fences(ASSIGNMENT.reference_root, PACKAGE) for line in f.lines}
    fenced = {line for line in fenced if len(line) > 20}
    assert fenced, "the reference has no fenced lines longer than 20 characters: are the fences there?"
    for rel, data in tree_files(fresh).items():
        if rel.endswith((".npz", ".zip")):
            continue
        text = data.decode("utf-8")
        leaked = sorted(line for line in fenced if line in text)
        assert not leaked, f"{rel} contains reference solution lines: {leaked[:3]}"
        assert "BEGIN SOLUTION" not in text or rel.startswith("tests/"), f"{rel} still has a fence marker"


def test_every_fence_becomes_exactly_one_raise_naming_its_task(fresh: Path) -> None:
    fences = find_fences(ASSIGNMENT.reference_root, PACKAGE)
    assert {f.task for f in fences} == set(TASK_IDS), "every task needs a fence, and every fence a known task"
    by_file: dict[str, list] = {}
    for f in fences:
        by_file.setdefault(f.path, []).append(f)
    for rel, file_fences in by_file.items():
        text = (fresh / rel).read_text(encoding="utf-8")
        stubs = re.findall(r'raise NotImplementedError\("(Task [^"]*)"\)', text)
        assert stubs == [f.message for f in file_fences], f"{rel}: stubs do not match the fences one to one"
        for f in file_fences:
            assert f.message.startswith(f"Task {f.task}: ")


def test_stubs_are_one_short_raise_under_a_docstring_with_one_hint(fresh: Path) -> None:
    """The issue's stub rules: the hint once (docstring), one raise naming the task, no line over 100."""
    fences = find_fences(ASSIGNMENT.reference_root, PACKAGE)
    for rel in sorted({f.path for f in fences}):
        text = (fresh / rel).read_text(encoding="utf-8")
        assert "TODO" not in text, f"{rel}: a TODO line repeats the stub's message"
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef) or 'NotImplementedError("Task' not in ast.unparse(node):
                continue
            doc = ast.get_docstring(node) or ""
            assert doc.count("Hint:") == 1, f"{rel}: {node.name}'s docstring needs exactly one 'Hint:'"
            segment = ast.get_source_segment(text, node) or ""
            long = [line for line in segment.splitlines() if len(line) > 100]
            assert not long, f"{rel}: {node.name} has lines over 100 characters: {long[:2]}"
            stubs = [s for s in node.body if isinstance(s, ast.Raise)]
            assert len(stubs) == 1 and len(node.body) == 2, f"{rel}: {node.name} is not docstring + one raise"
    # No formula given away: the two the issue found are gone from every stubbed file.
    # Compared without spaces, so any formatting of the code (`a/b**2`, `a / b**2`) still counts.
    handout_code = "".join((fresh / rel).read_text(encoding="utf-8") for rel in {f.path for f in fences}).replace(
        " ", ""
    )
    for formula in ("softmax - onehot", "-a/b**2", "g @ b.T", "1 - t**2", "s * (1 - s)"):
        assert formula.replace(" ", "") not in handout_code, f"the stubs give away {formula!r}"


def test_the_bare_handout_imports(fresh: Path) -> None:
    code = f"import {PACKAGE}, {PACKAGE}.nn, {PACKAGE}.optim, {PACKAGE}.train"
    proc = subprocess.run([sys.executable, "-B", "-c", code], cwd=fresh, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_the_writeup_carries_the_rubric_table(fresh: Path) -> None:
    from autograder.framework.handoutgen import count_checks

    readme = (fresh / "README.md").read_text(encoding="utf-8")
    assert rubric_table(ASSIGNMENT.tasks, count_checks(ASSIGNMENT)) in readme


# ------------------------------------------------------------------------------------- fence parser


GOOD = '''def f(x):
    """Doc."""
    # BEGIN SOLUTION Task 2.3: Mul.backward — "quoted" \\ path
    y = x * 2
    return y
    # END SOLUTION
'''


def test_strip_fences_replaces_the_block_with_one_raise_at_its_indentation() -> None:
    text, fences = strip_fences(GOOD, "m.py", TASK_IDS)
    assert text.splitlines()[2:] == [
        '    raise NotImplementedError("Task 2.3: Mul.backward — \\"quoted\\" \\\\ path")',
    ]
    assert len(fences) == 1 and fences[0].task == "2.3" and fences[0].lines == ("    y = x * 2", "    return y")
    namespace: dict = {}
    exec(compile(text, "m.py", "exec"), namespace)
    with pytest.raises(NotImplementedError, match=r'^Task 2\.3: Mul\.backward — "quoted" \\ path$'):
        namespace["f"](1)


@pytest.mark.parametrize(
    "source, line, fragment",
    [
        ("# BEGIN SOLUTION Task 2.3: a\n# BEGIN SOLUTION Task 2.3: b\n# END SOLUTION\n", 2, "nest"),
        ("x = 1\n# BEGIN SOLUTION Task 2.3: a\nx = 2\n", 2, "never closed"),
        ("x = 1\n# END SOLUTION\n", 2, "without a BEGIN"),
        ("# BEGIN SOLUTION Mul.backward\n# END SOLUTION\n", 1, "Task <id>"),
        ("# BEGIN SOLUTION\n# END SOLUTION\n", 1, "Task <id>"),
        ("# BEGIN SOLUTION Task 9.9: nope\n# END SOLUTION\n", 1, "unknown task"),
        ("x = 1  # BEGIN SOLUTION Task 2.3: a\n", 1, "malformed"),
    ],
)
def test_fence_mistakes_name_file_and_line(source: str, line: int, fragment: str) -> None:
    with pytest.raises(HandoutError) as info:
        strip_fences(source, "mytorch/ops/x.py", TASK_IDS)
    assert f"mytorch/ops/x.py:{line}:" in str(info.value) and fragment in str(info.value)


def test_the_writeup_states_the_assignments_feedback_policy(fresh: Path) -> None:
    readme = (fresh / "README.md").read_text(encoding="utf-8")
    assert f"<!-- feedback:start -->\n{ASSIGNMENT.feedback.describe()}\n<!-- feedback:end -->" in readme
    strict = fill_feedback("a\n<!-- feedback:start -->\n<!-- feedback:end -->\n", FeedbackPolicy("no_values"))
    assert "Before the due date" in strict and "no expected values" in strict


def test_fill_rubric_writes_between_the_markers_only() -> None:
    tasks = (Task("1", "one", 2), Task("2", "two | pipes", 1.5))
    text = "intro\n<!-- rubric:start -->\nstale\n<!-- rubric:end -->\nend\n"
    filled = fill_rubric(text, tasks)
    assert filled == (
        "intro\n<!-- rubric:start -->\n| Task | What you write | Points |\n|---|---|---:|\n"
        "| 1 | one | 2 |\n| 2 | two &#124; pipes | 1.5 |\n| | **Total** | **3.5** |\n"
        "<!-- rubric:end -->\nend\n"
    )
    assert fill_rubric(filled, tasks) == filled
    assert fill_rubric("no markers\n", tasks) == "no markers\n"
    with pytest.raises(HandoutError):
        fill_rubric("<!-- rubric:end -->\n<!-- rubric:start -->\n", tasks)


def test_check_only_names_the_files_that_drifted(fresh: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = _copy(fresh, tmp_path / "stale")
    (stale / PACKAGE / "tensor.py").write_text("# edited by hand\n")
    (stale / "extra.txt").write_text("not generated\n")
    monkeypatch.setattr(
        "autograder.framework.handoutgen.generate_handout", lambda assignment, out, **kw: shutil.copytree(fresh, out)
    )
    result = CliRunner().invoke(handout_command, ["--out", str(stale), "--check-only", "--assignment", "hw1p1"])
    assert result.exit_code == 1
    assert f"{PACKAGE}/tensor.py" in result.output and "extra.txt" in result.output
    clean = CliRunner().invoke(handout_command, ["--out", str(fresh), "--check-only", "--assignment", "hw1p1"])
    assert clean.exit_code == 0, clean.output


# ------------------------------------------------------------------------------------- the student's side


def test_bare_handout_fails_every_task_with_its_stub_message_and_scores_zero(fresh: Path, tmp_path: Path) -> None:
    outcomes, console, status = run_public_tests(_copy(fresh, tmp_path / "h"), tmp_path)
    assert status == 1, console[-3000:]  # tests failed; not a usage error or a crash
    assert {o["task"] for o in outcomes} == set(TASK_IDS), "every task needs at least one public test"
    assert not [o for o in outcomes if o["passed"] or o["internal"]], console[-3000:]
    engine = {t for t in TASK_IDS if t.startswith("1.")}
    for task in TASK_IDS:
        for o in (o for o in outcomes if o["task"] == task):
            stub = re.search(r"NotImplementedError: Task ([^:\s]+): ", o["message"])
            assert stub, f"{o['nodeid']} failed without a stub message: {o['message'][:300]}"
            # Tests that call .backward() go through the engine, so its stubs (tasks 1.x) come first;
            # any other task's stub would mean this test depends on work of another task.
            assert stub.group(1) in {task} | engine, f"{o['nodeid']} (task {task}) stops at task {stub.group(1)}'s stub"
        own = [o for o in outcomes if o["task"] == task and f"NotImplementedError: Task {task}: " in o["message"]]
        assert own, f"no public test of task {task} shows the task's own stub message on the bare handout"
    earned, possible = total_line(console)
    assert (earned, possible) == (0.0, ASSIGNMENT.max_score)


def test_reference_code_in_the_handout_scores_full_marks(fresh: Path, tmp_path: Path) -> None:
    handout = _copy(fresh, tmp_path / "h")
    shutil.rmtree(handout / PACKAGE)
    shutil.copytree(
        ASSIGNMENT.reference_root / PACKAGE, handout / PACKAGE, ignore=shutil.ignore_patterns("__pycache__")
    )
    outcomes, console, status = run_public_tests(handout, tmp_path)
    assert status == 0, console[-3000:]
    assert outcomes and all(o["passed"] for o in outcomes)
    assert total_line(console) == (ASSIGNMENT.max_score, ASSIGNMENT.max_score)
    assert "partial run" not in console and " run " not in console.split("scoreboard")[-1]  # a full run


def test_task_option_runs_one_task(fresh: Path, tmp_path: Path) -> None:
    outcomes, console, _ = run_public_tests(_copy(fresh, tmp_path / "h"), tmp_path, "--task", "2.3")
    assert outcomes and {o["task"] for o in outcomes} == {"2.3"}, console[-2000:]
    rows = [line for line in console.splitlines() if re.match(r"^\d[\d.]*\s.*\s(PASS|PARTIAL|FAIL)\b", line)]
    assert len(rows) == 1 and rows[0].startswith("2.3 "), rows


def _handin(handout: Path) -> subprocess.CompletedProcess:
    if shutil.which("make"):
        cmd = ["make", "-s", "handin", f"PYTHON={sys.executable}"]
    else:
        cmd = [sys.executable, "tests/_support/handin.py"]
    return subprocess.run(cmd, cwd=handout, capture_output=True, text=True, timeout=120)


def test_handin_refuses_a_syntax_error_with_file_and_line(fresh: Path, tmp_path: Path) -> None:
    handout = _copy(fresh, tmp_path / "h")
    target = handout / PACKAGE / "ops" / "broadcast.py"
    lines = target.read_text().splitlines()
    lines.append("def oops(:")
    target.write_text("\n".join(lines) + "\n")
    proc = _handin(handout)
    assert proc.returncode != 0
    assert f"{PACKAGE}/ops/broadcast.py:{len(lines)}:" in proc.stdout, proc.stdout
    assert not (handout / "handin.zip").exists()


def test_handin_refuses_a_package_that_does_not_import(fresh: Path, tmp_path: Path) -> None:
    handout = _copy(fresh, tmp_path / "h")
    with open(handout / PACKAGE / "optim" / "sgd.py", "a") as f:
        f.write("\nimport numpyy\n")
    proc = _handin(handout)
    assert proc.returncode != 0 and "numpyy" in proc.stdout and "not written" in proc.stdout.lower()
    assert not (handout / "handin.zip").exists()


def test_handin_archives_exactly_the_python_files(fresh: Path, tmp_path: Path) -> None:
    handout = _copy(fresh, tmp_path / "h")
    (handout / PACKAGE / "__pycache__").mkdir()
    (handout / PACKAGE / "__pycache__" / "tensor.cpython-311.pyc").write_bytes(b"\0junk")
    (handout / PACKAGE / "notes.txt").write_text("my notes\n")
    proc = _handin(handout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    expected = sorted(
        p.relative_to(handout).as_posix() for p in (handout / PACKAGE).rglob("*.py") if "__pycache__" not in p.parts
    )
    with zipfile.ZipFile(handout / "handin.zip") as archive:
        assert sorted(archive.namelist()) == expected
        assert archive.read(f"{PACKAGE}/tensor.py") == (handout / PACKAGE / "tensor.py").read_bytes()
    assert "still stubbed" in proc.stdout and "1.1" in proc.stdout


# ------------------------------------------------------------------------------------- handout backend


def _backend_module():
    """handout_backend.py imported from the framework's handout runtime (it runs in the handout normally)."""
    import importlib.util

    from autograder.framework.handout_runtime import RUNTIME_DIR

    path = RUNTIME_DIR / "handout_backend.py"
    spec = importlib.util.spec_from_file_location("_handout_backend_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOY_PACKAGE = """
class Box:
    data = 1
def loop():
    while True:
        pass
def chatty(x):
    print("hello from toy")
    return x * 2
def boom():
    raise ValueError("bad shape (3, 5)")
"""
TOY_SCENARIOS = """
def loop(lib):
    lib.loop()
def chatty(lib, x):
    return {"y": lib.chatty(x), "n": 3}
def boom(lib):
    lib.boom()
def box(lib):
    return {"out": lib.Box()}
"""


def test_in_process_student_runs_with_deadline_capture_and_plain_data(tmp_path: Path) -> None:
    import numpy as np

    from autograder.framework.errors import BadObservation, StudentException, StudentTimeout

    hb = _backend_module()
    (tmp_path / "toylib").mkdir()
    (tmp_path / "toylib" / "__init__.py").write_text(TOY_PACKAGE)
    (tmp_path / "scen.py").write_text(TOY_SCENARIOS)
    student = hb.InProcessStudent(tmp_path, "toylib", tmp_path / "scen.py")
    x = np.arange(3.0)
    got = student.run("chatty", x=x)
    assert np.array_equal(got["y"], [0.0, 2.0, 4.0]) and got["n"] == 3 and np.array_equal(x, [0.0, 1.0, 2.0])
    assert student.take_output() == "hello from toy\n" and student.take_output() == ""
    with pytest.raises(StudentTimeout, match="timed out after 0.2 s"):
        student.run("loop", timeout=0.2)
    with pytest.raises(StudentException, match=r"ValueError: bad shape \(3, 5\)") as info:
        student.run("boom")
    assert "toylib/__init__.py" in info.value.message and "scen.py" not in info.value.message
    with pytest.raises(
        BadObservation,
        match=r"scenario 'box' returned Box for 'out'; expected a numpy array "
        r"\(a Tensor\? return its \.data\)",
    ):
        student.run("box")


def test_recorded_answers_round_trip_and_keys_ignore_absolute_paths(tmp_path: Path) -> None:
    import numpy as np

    hb = _backend_module()
    answers = {
        hb.call_key("s", {"a": np.ones((2, 3)), "k": [1, 2.5, None, "x"]}): {
            "out": np.arange(6.0).reshape(2, 3),
            "zero_d": np.array(2.0),
            "scalar": np.float64(1.5),
            "flag": np.bool_(True),
            "nested": [np.int64(3), {"g": None}],
            "name": "ok",
            "py_float": 0.1,
        }
    }
    hb.save_recordings(tmp_path / "e.npz", answers)
    first = (tmp_path / "e.npz").read_bytes()
    hb.save_recordings(tmp_path / "e.npz", answers)
    assert (tmp_path / "e.npz").read_bytes() == first  # deterministic bytes
    loaded = hb.load_recordings(tmp_path / "e.npz")
    ((key, want),) = answers.items()
    got = loaded[key]
    assert np.array_equal(got["out"], want["out"]) and got["out"].dtype == np.float64
    assert got["zero_d"].shape == () and got["scalar"] == 1.5 and isinstance(got["scalar"], np.float64)
    assert got["flag"] == True and got["nested"][0] == 3 and got["nested"][1] == {"g": None}  # noqa: E712
    assert got["name"] == "ok" and got["py_float"] == 0.1 and isinstance(got["py_float"], float)
    assert hb.call_key("s", {"d": "/home/ta/data"}) == hb.call_key("s", {"d": "/Users/me/data"})
    assert hb.call_key("s", {"a": np.ones(3)}) != hb.call_key("s", {"a": np.ones(3) * 1.0000001})
    assert hb.call_key("s", {"a": 1}) != hb.call_key("s", {"a": 1.0})


def test_tree_diff_tolerates_only_last_bits_in_the_recorded_answers(tmp_path: Path) -> None:
    import numpy as np

    hb = _backend_module()
    trees = {}
    for name, scale in [("a", 1.0), ("b", 1.0 + 1e-13), ("c", 1.0 + 1e-6)]:
        root = tmp_path / name
        hb.save_recordings(root / "tests" / "expected.npz", {"k": {"g": np.linspace(1, 2, 7) * scale}})
        (root / "README.md").write_text("same\n")
        trees[name] = root
    assert diff_trees(trees["a"], trees["b"]) == []  # another CPU's BLAS: not drift
    assert diff_trees(trees["a"], trees["c"]) == ["tests/expected.npz"]
    (trees["b"] / "README.md").write_text("changed\n")
    assert diff_trees(trees["a"], trees["b"]) == ["README.md"]


def test_handout_code_needs_only_numpy_pytest_and_what_it_ships(fresh: Path) -> None:
    import ast

    shipped = {
        ".".join(p.relative_to(fresh / "tests" / "_support").with_suffix("").parts)
        for p in (fresh / "tests" / "_support").rglob("*.py")
    }
    shipped |= {m[: -len(".__init__")] for m in shipped if m.endswith(".__init__")}
    shipped |= {p.stem for p in (fresh / "tests").glob("*.py")} | {PACKAGE}
    allowed_top = set(sys.stdlib_module_names) | {"numpy", "pytest", "__future__"}
    for path in sorted(fresh.rglob("*.py")):
        rel = path.relative_to(fresh).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                else []
            )
            for name in names:
                ok = name.split(".")[0] in allowed_top or name in shipped or name.split(".")[0] == PACKAGE
                assert ok, f"{rel} imports {name}, which a student with only numpy and pytest does not have"


def test_rubric_table_counts_the_collected_checks_of_every_task() -> None:
    """The rubric table is generated from the tests: every task has public and hidden checks, counted right."""
    from autograder.framework.handoutgen import count_checks, rubric_table

    checks = count_checks(ASSIGNMENT)
    assert set(checks) == {t.id for t in ASSIGNMENT.tasks}, "a test names an unknown task, or a task has no test"
    for task_id, n in checks.items():
        assert n["public"] >= 1 and n["hidden"] >= 1, f"task {task_id}: {n}"
    public_files = sorted((ASSIGNMENT.tests_dir / "public").glob("test_*.py"))
    assert sum(n["public"] for n in checks.values()) >= len(public_files)
    table = rubric_table(ASSIGNMENT.tasks, checks)
    first = ASSIGNMENT.tasks[0]
    assert (
        f"| {first.id} | {first.title} | {int(first.points)} | {checks[first.id]['public']} | "
        f"{checks[first.id]['hidden']} |" in table
    )


# ------------------------------------------------------------------------------------- the writeup tells the truth


# Slips planted into the reference's code (the sample handin's mechanism) for the writeup's quoted messages.
def _slip(task: str, file: str, old: str, new: str, why: str) -> Bug:
    """A one-patch student bug in `file` (relative to the package)."""
    return Bug(task, (Patch(file, old, new),), why)


ADD_NO_UNBROADCAST = _slip(
    "2.2",
    "ops/elementwise.py",
    "return unbroadcast(grad_output, a_shape), unbroadcast(grad_output, b_shape)",
    "return unbroadcast(grad_output, a_shape), grad_output",
    "Add forgets to un-broadcast b",
)
TRANSPOSE_NOT_INVERTED = _slip(
    "3.3",
    "ops/shape.py",
    "np.transpose(grad_output, np.argsort(self.axes))",
    "np.transpose(grad_output, self.axes)",
    "Transpose undone with the permutation itself",
)
CE_NO_MEAN = _slip(
    "5.3",
    "ops/softmax.py",
    "return (grad * (grad_output / n),)",
    "return (grad * grad_output,)",
    "cross-entropy's gradient without the 1/N of the mean",
)
_DFS = """        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node.grad_fn is not None:
            stack.extend((p, False) for p in node.grad_fn.inputs if p.requires_grad and id(p) not in visited)
"""
MARKED_WHEN_PUSHED = _slip(
    "1.1",
    "autograd_engine.py",
    _DFS,
    """        stack.append((node, True))
        if node.grad_fn is not None:
            for p in node.grad_fn.inputs:
                if p.requires_grad and id(p) not in visited:
                    visited.add(id(p))
                    stack.append((p, False))
""",
    "nodes marked visited when pushed, not when entered (root never marked: harmless here)",
)
NO_VISITED_SET = _slip(
    "1.1",
    "autograd_engine.py",
    _DFS,
    """        stack.append((node, True))
        if node.grad_fn is not None:
            stack.extend((p, False) for p in node.grad_fn.inputs if p.requires_grad)
""",
    "no visited set: every path is followed",
)


def _student_copy(fresh: Path, dest: Path, stubbed: tuple[str, ...] = (), bugs: tuple = ()) -> Path:
    """A handout whose student wrote the reference's code except for `stubbed` tasks, with `bugs` planted."""
    handout = _copy(fresh, dest)
    shutil.rmtree(handout / PACKAGE)
    for rel, data in sample_files(ASSIGNMENT, stubbed=stubbed, bugs=bugs).items():
        (handout / rel).parent.mkdir(parents=True, exist_ok=True)
        (handout / rel).write_bytes(data)
    return handout


def _python_block(readme: str, needle: str) -> str:
    """The writeup's ```python block that contains `needle`."""
    blocks = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if needle in b]
    assert len(blocks) == 1, f"expected one python block with {needle!r} in the writeup, found {len(blocks)}"
    return blocks[0]


def _scratch(handout: Path, code: str) -> str:
    """Run `code` as the student's scratch.py in the handout folder; its output."""
    (handout / "scratch.py").write_text(code)
    proc = subprocess.run([sys.executable, "scratch.py"], cwd=handout, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_every_message_the_writeup_quotes_is_real_output(fresh: Path, tmp_path: Path) -> None:
    """Each block after `<!-- real output -->` in the writeup appears verbatim in a run of the handout."""
    readme = (fresh / "README.md").read_text(encoding="utf-8")
    quoted = re.findall(r"<!-- real output -->\n```\n(.*?)```", readme, re.S)
    assert len(quoted) >= 10, "the writeup should mark its quoted messages with <!-- real output -->"
    outputs = []
    # Three slips (section 9.2's scoreboard and messages) and the gradcheck example (section 4.1).
    slips = _student_copy(fresh, tmp_path / "slips", bugs=(ADD_NO_UNBROADCAST, *recipe(ASSIGNMENT).bugs))
    outputs.append(run_public_tests(slips, tmp_path)[1])
    outputs.append(_scratch(slips, _python_block(readme, "from mytorch.testing import gradcheck")))
    # Sections 3.5, 6.4 and 6.9: nodes marked when pushed; Transpose not inverted; cross-entropy without 1/N.
    order = _student_copy(fresh, tmp_path / "order", bugs=(MARKED_WHEN_PUSHED, TRANSPOSE_NOT_INVERTED, CE_NO_MEAN))
    outputs.append(run_public_tests(order, tmp_path, "-k", "topological_sort or reshape_transpose or cross_entropy")[1])
    # Section 3.4: a traversal without a visited set times out on the chain of diamonds.
    paths = _student_copy(fresh, tmp_path / "paths", bugs=(NO_VISITED_SET,))
    outputs.append(run_public_tests(paths, tmp_path, "-k", "chain_of_diamonds")[1])
    # Section 9.2's partial run and task 8's training run, with correct code.
    right = _student_copy(fresh, tmp_path / "right")
    outputs.append(run_public_tests(right, tmp_path, "tests/test_2_elementwise.py::test_mul_div[3x5*3x1]")[1])
    outputs.append(_scratch(right, _python_block(readme, "train.make_mlp")))
    drawn = _scratch(right, _python_block(readme, "mytorch.draw(M"))  # section 4.2's example runs as printed
    assert drawn.startswith("digraph mytorch {") and '"#1  M: Mul' in drawn and "grad -7" in drawn, drawn
    seen = {line.rstrip() for out in outputs for line in out.splitlines()}
    for block in quoted:
        for line in block.splitlines():
            if line.strip() and line.strip() != "...":
                assert line.rstrip() in seen, f"the writeup quotes a line no run prints:\n{line}"


def test_a_partial_run_never_shows_pass_and_says_so_in_the_total(fresh: Path, tmp_path: Path) -> None:
    right = _student_copy(fresh, tmp_path / "right")
    _, console, status = run_public_tests(right, tmp_path, "tests/test_2_elementwise.py::test_mul_div[3x5*3x1]")
    assert status == 0, console[-2000:]
    row = next(line for line in console.splitlines() if line.startswith("2.3 "))
    assert re.search(r"\s2\.5/5\s+1/2 run\s*$", row) and "PASS" not in row, row
    total = next(line for line in console.splitlines() if line.lstrip().startswith("TOTAL"))
    planned = json.loads((fresh / "tests/_support/assignment.json").read_text())["planned"]
    full = sum(p["checks"] for p in planned.values())
    assert total.rstrip().endswith(f"(partial run: 1 of {full} checks ran)"), total
    # A whole task run with --task is complete for that task (PASS) but still a partial run overall.
    _, console, _ = run_public_tests(right, tmp_path, "--task", "2.3")
    assert re.search(r"^2\.3 .*\s5/5\s+PASS\s*$", console, re.M) and "(partial run: 2 of" in console


def _prerequisites(readme: str) -> dict[str, set[str]]:
    """Task -> the tasks its public tests also need, from the writeup's table (absent: none)."""
    table = readme.split("<!-- prerequisites:start -->")[1].split("<!-- prerequisites:end -->")[0]
    needs: dict[str, set[str]] = {t: set() for t in TASK_IDS}
    for row in table.strip().splitlines()[2:]:
        tasks, also = (cell.strip() for cell in row.strip("|").split("|")[:2])
        for task in tasks.split(", "):
            needs[task] = set(also.split(", "))
    return needs


def _check_prerequisites(fresh: Path, tmp_path: Path, tasks: list[str]) -> None:
    """With only a task and its listed prerequisites written, all of the task's public tests pass."""
    needs = _prerequisites((fresh / "README.md").read_text(encoding="utf-8"))
    assert needs["1.2"] == {"1.1", "2.1", "2.2", "2.3", "2.4"}
    for task in tasks:
        written = {task} | needs[task]
        handout = _student_copy(fresh, tmp_path / f"t{task}", stubbed=tuple(t for t in TASK_IDS if t not in written))
        outcomes, console, status = run_public_tests(handout, tmp_path, "--task", task, "-x")
        assert status == 0 and outcomes, f"task {task} with {sorted(needs[task])} written fails:\n{console[-2500:]}"


def test_the_writeups_prerequisites_are_enough_for_the_tasks_that_have_them(fresh: Path, tmp_path: Path) -> None:
    _check_prerequisites(fresh, tmp_path, ["1.2", "4.1", "5.3"])  # the longest lists; all tasks: --run-slow


@pytest.mark.slow
def test_the_writeups_prerequisites_are_enough_for_every_task(fresh: Path, tmp_path: Path) -> None:
    _check_prerequisites(fresh, tmp_path, TASK_IDS)
