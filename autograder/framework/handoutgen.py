"""solutions/<assignment>/ -> handouts/<assignment>/: fenced reference code becomes `NotImplementedError`
stubs, plus public tests.

The generated tree (see `generate_handout`) is what students receive:

    README.md                                         the writeup (rubric table and feedback policy filled in)
    Makefile, conftest.py, pytest.ini                 the generic student runtime (framework/handout_runtime/)
    figures/                                          the writeup's pictures (the solutions' figures/, as they are)
    <package>/                                        the reference with every solution fence stubbed out
    tests/test_*.py ...                               the public tests, verbatim (the grader runs the same files)
    tests/expected.npz                                the reference's answers to those tests, recorded here
    tests/_support/assignment.json                    the assignment as data for the runtime (handout_config.py)
    tests/_support/handout_backend.py, handout_config.py, handin.py      the rest of the runtime
    tests/_support/autograder/framework/...           the framework modules the tests, the runtime and the
                                                      package import (found with `ast`, transitively), verbatim
    tests/_support/autograder/assignments/<name>/     the scenarios file and the data files

Generation is deterministic (sorted walks, "\\n" newlines, fixed zip timestamps) so that a test can prove
the committed handout equals a fresh generation.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autograder.framework import handout_runtime
from autograder.framework.handout_runtime.handout_config import CONFIG_FILE, FORMAT
from autograder.framework.pytest_session import collect_tests
from autograder.framework.rubric import Assignment, FeedbackPolicy, Task
from autograder.framework.zips import write_zip as write_entries

FRAMEWORK_DIR = Path(__file__).resolve().parent
FRAMEWORK = "autograder.framework"
SUPPORT = handout_runtime.SUPPORT  # "tests/_support"
EXPECTED_FILE = "tests/expected.npz"
FIGURES = "figures"  # beside the writeup: its pictures, copied into the handout as they are
SKIP_NAMES = {"__pycache__", ".pytest_cache", ".DS_Store", ".hypothesis"}
SKIP_SUFFIXES = (".pyc", ".pyo")
RUBRIC_START, RUBRIC_END = "<!-- rubric:start -->", "<!-- rubric:end -->"
FEEDBACK_START, FEEDBACK_END = "<!-- feedback:start -->", "<!-- feedback:end -->"

BEGIN_RE = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?P<rest>.*)$")
END_RE = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")
MESSAGE_RE = re.compile(r"^Task (?P<task>[0-9][0-9A-Za-z.]*): \S.*$")


class HandoutError(Exception):
    """A mistake in the reference or the assignment that stops generation; the message names file and line."""


@dataclass(frozen=True)
class Fence:
    """One `# BEGIN SOLUTION Task <id>: <message>` ... `# END SOLUTION` block of a reference file."""

    path: str  # relative to the reference root, "/"-separated
    begin: int  # 1-based line of the BEGIN marker
    end: int  # 1-based line of the END marker
    task: str
    message: str
    lines: tuple[str, ...]  # the fenced lines (the reference code students must write)


# ----------------------------------------------------------------------------------------- fences


def strip_fences(text: str, path: str, task_ids: Iterable[str] | None = None) -> tuple[str, list[Fence]]:
    """Replace each fenced block of `text` by one `raise NotImplementedError("<message>")`.

    The stub is that one line, at the BEGIN marker's indentation: the hint lives in the docstring above it
    and the formulas in the writeup, so the message only names the task. Raises HandoutError (naming
    `path` and the line) for an END without BEGIN, a nested or unclosed BEGIN, a fence whose message
    does not start with `Task <id>: `, or an id that is not one of `task_ids` (when given).
    """
    known = set(task_ids) if task_ids is not None else None
    out: list[str] = []
    fences: list[Fence] = []
    open_at: int | None = None
    indent = task = message = ""
    body: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        begin, end = BEGIN_RE.match(line), END_RE.match(line)
        if begin:
            if open_at is not None:
                raise HandoutError(
                    f"{path}:{number}: BEGIN SOLUTION inside the fence opened at line {open_at} "
                    "(fences cannot nest; close the first with '# END SOLUTION')"
                )
            message = begin.group("rest").strip()
            parsed = MESSAGE_RE.match(message)
            if not begin.group("rest").startswith(" ") or not parsed:
                raise HandoutError(
                    f"{path}:{number}: the fence needs a stub message starting with 'Task <id>: ', "
                    f"e.g. '# BEGIN SOLUTION Task 2.3: Mul.backward — ...'; got {line.strip()!r}"
                )
            task = parsed.group("task")
            if known is not None and task not in known:
                raise HandoutError(
                    f"{path}:{number}: unknown task {task!r} in the fence; known: {', '.join(sorted(known))}"
                )
            open_at, indent, body = number, begin.group("indent"), []
        elif end:
            if open_at is None:
                raise HandoutError(f"{path}:{number}: END SOLUTION without a BEGIN SOLUTION before it")
            fences.append(Fence(path, open_at, number, task, message, tuple(body)))
            # json.dumps gives a valid Python string literal for any message (quotes, backslashes escaped)
            literal = json.dumps(message, ensure_ascii=False)
            out.append(f"{indent}raise NotImplementedError({literal})")
            open_at = None
        elif "BEGIN SOLUTION" in line or "END SOLUTION" in line:
            # A marker the regexes do not accept (typo, trailing code) would otherwise leak the solution.
            raise HandoutError(
                f"{path}:{number}: malformed fence marker {line.strip()!r}; "
                "write '# BEGIN SOLUTION Task <id>: <message>' or '# END SOLUTION' on a line of its own"
            )
        elif open_at is not None:
            body.append(line)
        else:
            out.append(line)
    if open_at is not None:
        raise HandoutError(f"{path}:{open_at}: BEGIN SOLUTION is never closed by '# END SOLUTION'")
    return "\n".join(out) + "\n", fences


def find_fences(reference_root: Path, package: str) -> list[Fence]:
    """Every fence of the reference package, in sorted file order (no task-id check)."""
    fences: list[Fence] = []
    for path in _walk(reference_root / package):
        if path.suffix == ".py":
            rel = path.relative_to(reference_root).as_posix()
            fences += strip_fences(_read_text(path), rel)[1]
    return fences


# ----------------------------------------------------------------------------------------- rubric table


def _points(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def rubric_table(tasks: Sequence[Task], checks: Mapping[str, Mapping[str, int]] | None = None) -> str:
    """The Markdown rubric table (task, what to write, points, and a total row).

    With `checks` (task id -> {"public": n, "hidden": m}, from `count_checks`), two more columns say
    how many graded checks each task has and how many of them students can run locally.
    """
    if checks is None:
        rows = ["| Task | What you write | Points |", "|---|---|---:|"]
        rows += [f"| {t.id} | {t.title.replace('|', '&#124;')} | {_points(t.points)} |" for t in tasks]
        rows.append(f"| | **Total** | **{_points(sum(t.points for t in tasks))}** |")
        return "\n".join(rows)
    rows = ["| Task | What you write | Points | Public checks | Hidden checks |", "|---|---|---:|---:|---:|"]
    for t in tasks:
        n = checks.get(t.id, {})
        rows.append(
            f"| {t.id} | {t.title.replace('|', '&#124;')} | {_points(t.points)} "
            f"| {n.get('public', 0)} | {n.get('hidden', 0)} |"
        )
    public = sum(n.get("public", 0) for n in checks.values())
    hidden = sum(n.get("hidden", 0) for n in checks.values())
    rows.append(f"| | **Total** | **{_points(sum(t.points for t in tasks))}** | **{public}** | **{hidden}** |")
    return "\n".join(rows)


def count_checks(assignment: Assignment) -> dict[str, dict[str, Any]]:
    """Task id -> {"public": n, "hidden": m, "public_weight": w}: the graded checks, collected with pytest
    (pytest_session.collect_tests, as `autograder check` collects them)."""
    code, harness, _ = collect_tests(assignment)
    if code != 0 or harness.problems:
        raise HandoutError(
            f"collecting the tests in {assignment.tests_dir} failed (pytest exit {code}"
            + "".join(f"; {p}" for p in harness.problems)
            + "); run `autograder check` to see why"
        )
    checks: dict[str, dict[str, Any]] = {}
    for nodeid, record in harness.records.items():
        kind = "public" if nodeid.split("/", 1)[0] == "public" else "hidden"
        counts = checks.setdefault(record["task"], {"public": 0, "hidden": 0, "public_weight": 0.0})
        counts[kind] += 1
        if kind == "public":
            counts["public_weight"] += record["weight"]
    return checks


def fill_rubric(
    text: str, tasks: Sequence[Task], where: str = "README.md", checks: Mapping[str, Mapping[str, int]] | None = None
) -> str:
    """`text` with the rubric table between its marker lines; unchanged when it has no markers."""
    return fill_between(text, RUBRIC_START, RUBRIC_END, rubric_table(tasks, checks), where)


def fill_feedback(text: str, policy: FeedbackPolicy, where: str = "README.md") -> str:
    """`text` with the assignment's feedback policy, in words, between its feedback marker lines."""
    return fill_between(text, FEEDBACK_START, FEEDBACK_END, policy.describe(), where)


def fill_between(text: str, start: str, end: str, body: str, where: str) -> str:
    """`text` with `body` between its `start` and `end` marker lines; unchanged when it has no markers."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == start]
    ends = [i for i, line in enumerate(lines) if line.strip() == end]
    if not starts and not ends:
        return text
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise HandoutError(f"{where}: expected one '{start}' line followed by one '{end}' line")
    filled = lines[: starts[0] + 1] + body.splitlines() + lines[ends[0] :]
    return "\n".join(filled) + "\n"


# ----------------------------------------------------------------------------------------- generation


def framework_imports(source: bytes, filename: str = "<source>", package: str = "") -> set[str]:
    """The `autograder.framework` modules a Python source imports (anywhere in it, lazy imports included),
    as dotted names below the framework: "harness", or "sandbox.limits" for a subpackage's module.

    `package` is the dotted package of the source when it lives in the framework (for relative imports).
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if package else []
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from autograder.framework import harness` names a module; `from ...harness import x` an attribute
            candidates = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in candidates:
            if name.startswith(FRAMEWORK + ".") and _framework_file(name[len(FRAMEWORK) + 1 :]) is not None:
                found.add(name[len(FRAMEWORK) + 1 :])
    return found


def _framework_file(dotted: str) -> Path | None:
    """The file of framework module `dotted` ("harness", "sandbox.limits"), or None when it is not a module."""
    base = FRAMEWORK_DIR.joinpath(*dotted.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def vendored_modules(sources: Mapping[str, bytes]) -> dict[str, bytes]:
    """Handout-relative path -> content of every framework module `sources` (name -> Python source) import,
    transitively within autograder.framework, plus the `__init__.py` of each package on the way.

    What the handout vendors is computed, never listed by hand: a test (tests/test_handout_runtime.py) checks
    that all of it imports only the standard library, numpy and pytest.
    """
    todo = sorted({m for name, data in sources.items() for m in framework_imports(data, name)})
    seen: set[str] = set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        path = _framework_file(module)
        assert path is not None  # framework_imports names existing modules only
        inside = module if path.name == "__init__.py" else module.rpartition(".")[0]
        package = f"{FRAMEWORK}.{inside}" if inside else FRAMEWORK
        todo += sorted(framework_imports(path.read_bytes(), str(path), package) - seen)
    out: dict[str, bytes] = {
        f"{SUPPORT}/autograder/__init__.py": b'"""The grading framework modules the handout needs."""\n',
        f"{SUPPORT}/autograder/framework/__init__.py": b'"""Copied verbatim from the grader."""\n',
    }
    for module in sorted(seen):
        parts = module.split(".")
        for depth in range(1, len(parts)):  # a subpackage's __init__.py, verbatim
            init = FRAMEWORK_DIR.joinpath(*parts[:depth], "__init__.py")
            out[f"{SUPPORT}/autograder/framework/{'/'.join(parts[:depth])}/__init__.py"] = init.read_bytes()
        path = _framework_file(module)
        assert path is not None  # as above
        out[f"{SUPPORT}/autograder/framework/{path.relative_to(FRAMEWORK_DIR).as_posix()}"] = path.read_bytes()
    return out


def handout_config(
    assignment: Assignment, checks: Mapping[str, Mapping[str, Any]], scenarios: str, data_files: Sequence[str]
) -> dict[str, Any]:
    """The handout's tests/_support/assignment.json: the assignment as data for the student runtime
    (every key is documented in framework/handout_runtime/handout_config.py)."""
    return {
        "format": FORMAT,
        "name": assignment.name,
        "package": assignment.package,
        "tasks": [dataclasses.asdict(t) for t in assignment.tasks],
        "budget": dataclasses.asdict(assignment.budget),
        "feedback": dataclasses.asdict(assignment.feedback),
        "scenarios": scenarios,
        "data_files": list(data_files),
        "expected": EXPECTED_FILE,
        # What a full run of the public tests has, per task: the local scoreboard marks partial runs with it.
        "planned": {
            t.id: {
                "checks": checks.get(t.id, {}).get("public", 0),
                "weight": checks.get(t.id, {}).get("public_weight", 0.0),
            }
            for t in assignment.tasks
        },
        "likely_causes": [list(cause) for cause in assignment.likely_causes],
    }


def generate_handout(assignment: Assignment, out_dir: Path, *, record: bool = True) -> list[Path]:
    """Write the student handout for `assignment` into `out_dir` (created; must be empty or absent).

    Returns the written files, sorted. With `record`, the public tests are then run once against the
    reference (a subprocess) to store the reference's answers in tests/expected.npz.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise HandoutError(f"{out_dir} is not empty; generate into an empty folder")
    files = handout_contents(assignment)  # all checks first: a mistake leaves nothing half-written
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for rel in sorted(files):
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[rel])
        written.append(target)
    if record:
        written.append(record_expected(assignment, out_dir))
    return sorted(written)


def handout_contents(assignment: Assignment) -> dict[str, bytes]:
    """Handout-relative path -> content of every file except the recorded answers (no I/O but reads)."""
    ref, pkg = assignment.reference_root, assignment.package
    task_ids = [t.id for t in assignment.tasks]
    if not (ref / pkg / "__init__.py").is_file():
        raise HandoutError(f"{ref / pkg}/__init__.py not found: the reference package is missing")

    files: dict[str, bytes] = {}
    for path in _walk(ref / pkg):
        rel = path.relative_to(ref).as_posix()
        if path.suffix == ".py":
            files[rel] = _stub_file(path, rel, task_ids).encode("utf-8")
        else:
            files[rel] = path.read_bytes()
    checks = count_checks(assignment)
    writeup = ref / "README.md"
    if writeup.is_file():
        text = fill_rubric(_read_text(writeup), assignment.tasks, str(writeup), checks)
        files["README.md"] = fill_feedback(text, assignment.feedback, str(writeup)).encode()
    for path in _walk(ref / FIGURES):  # the writeup's pictures (regenerated by `make handout`)
        files[path.relative_to(ref).as_posix()] = path.read_bytes()
    public = assignment.tests_dir / "public"
    if not public.is_dir():
        raise HandoutError(f"{public} not found: the assignment has no public tests")
    for path in _walk(public):
        files["tests/" + path.relative_to(public).as_posix()] = path.read_bytes()

    # The student runtime, generic: everything about the assignment reaches it through assignment.json.
    for name, rel in handout_runtime.LAYOUT.items():
        files[rel] = (handout_runtime.RUNTIME_DIR / name).read_bytes()
    # The scenarios file and its data files, in their folder's layout (a scenario finds data beside it).
    home = f"{SUPPORT}/autograder/assignments/{assignment.name}/"
    scenarios_dir = assignment.scenarios_file.parent
    files[home + assignment.scenarios_file.name] = assignment.scenarios_file.read_bytes()
    data: list[str] = []
    for path in assignment.data_files:
        if not path.resolve().is_relative_to(scenarios_dir.resolve()):
            raise HandoutError(f"{path}: a data file must lie under the scenarios file's folder {scenarios_dir}")
        data.append(home + path.resolve().relative_to(scenarios_dir.resolve()).as_posix())
        files[data[-1]] = path.read_bytes()
    config = handout_config(assignment, checks, home + assignment.scenarios_file.name, data)
    files[CONFIG_FILE] = (json.dumps(config, indent=1, sort_keys=True) + "\n").encode()

    extras = assignment.handout_extras
    if extras is not None:
        for path in _walk(extras):
            files[path.relative_to(extras).as_posix()] = path.read_bytes()

    # What the Python files students get import from the framework, computed (ast), never a hand-kept list.
    python = {rel: data for rel, data in files.items() if rel.endswith(".py")}
    files.update(vendored_modules(python))

    # Fences are only stripped from .py files: one in any other file of the package would ship the answer.
    leaks = [
        rel
        for rel, data in files.items()
        if rel.startswith(pkg + "/") and b"BEGIN SOLUTION" in data and not rel.endswith(".py")
    ]
    if leaks:
        raise HandoutError(f"solution fences in non-Python files of the package: {', '.join(sorted(leaks))}")
    return files


def _stub_file(path: Path, rel: str, task_ids: Sequence[str]) -> str:
    """The handout version of one reference .py file; it must still compile."""
    text, _ = strip_fences(_read_text(path), rel, task_ids)
    try:
        compile(text, rel, "exec")
    except SyntaxError as exc:
        raise HandoutError(
            f"{rel}:{exc.lineno}: the stubbed file does not compile ({exc.msg}); "
            "a fence must cover a whole block (e.g. a function's whole remaining body)"
        ) from exc
    return text


def record_expected(assignment: Assignment, out_dir: Path, *, timeout: float = 600.0) -> Path:
    """Run the handout's public tests once against the reference and store its answers in tests/expected.npz.

    The subprocess uses the handout's own conftest in record mode (handout_runtime/handout_backend.py): the reference
    plays both student and reference, and every `reference.run(...)` result is saved under a hash of its
    (scenario, kwargs). Node ids, hence the `rng` seeds, are the ones students will have.
    """
    target = out_dir / EXPECTED_FILE
    env = dict(os.environ)
    env.update(
        {
            "AUTOGRADER_HANDOUT_RECORD": str(target),
            "AUTOGRADER_HANDOUT_REFERENCE": str(assignment.reference_root),
            "PYTHONDONTWRITEBYTECODE": "1",  # leave no __pycache__ in the generated tree
            "PYTHONHASHSEED": "0",
            # One BLAS thread: the recorded floats then do not depend on the machine's core count.
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
    )
    env.pop("PYTHONPATH", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "tests"]
    try:
        proc = subprocess.run(cmd, cwd=out_dir, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise HandoutError(f"recording the reference's answers took more than {timeout:.0f} s") from exc
    _remove_caches(out_dir)
    if proc.returncode != 0 or not target.is_file():
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise HandoutError(
            "the public tests fail against the reference, so its answers cannot be recorded "
            f"(exit {proc.returncode}):\n{tail}"
        )
    return target


def _remove_caches(root: Path) -> None:
    for cache in sorted(root.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(root / ".pytest_cache", ignore_errors=True)


# ----------------------------------------------------------------------------------------- trees and zips


def _walk(root: Path) -> list[Path]:
    """Files under `root` (sorted, caches and bytecode skipped; symlinks never followed)."""
    if not root.is_dir():
        return []
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_NAMES)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name in SKIP_NAMES or name.endswith(SKIP_SUFFIXES) or path.is_symlink():
                continue
            found.append(path)
    return sorted(found)


def _read_text(path: Path) -> str:
    """UTF-8 text with newlines normalised to "\\n"."""
    return path.read_bytes().decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def tree_files(root: Path) -> dict[str, bytes]:
    """Relative path -> bytes for every file under `root` (caches skipped)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in _walk(root)}


def diff_trees(expected: Path, actual: Path) -> list[str]:
    """Relative paths that differ between two trees (missing on either side, or different bytes).

    tests/expected.npz is compared by value when its bytes differ: BLAS kernels on another CPU may change
    the last bits of a recorded float, which is no drift (tolerance 1e-9 relative, far below any check's).
    """
    a, b = tree_files(expected), tree_files(actual)
    differing = []
    for rel in sorted(set(a) | set(b)):
        if a.get(rel) == b.get(rel):
            continue
        if rel == EXPECTED_FILE and rel in a and rel in b and _npz_close(a[rel], b[rel]):
            continue
        differing.append(rel)
    return differing


def _npz_close(x: bytes, y: bytes) -> bool:
    with np.load(io.BytesIO(x), allow_pickle=False) as p, np.load(io.BytesIO(y), allow_pickle=False) as q:
        if sorted(p.files) != sorted(q.files):
            return False
        for key in p.files:
            u, v = p[key], q[key]
            if u.dtype != v.dtype or u.shape != v.shape:
                return False
            if u.dtype.kind in "fc":
                if not np.allclose(u, v, rtol=1e-9, atol=1e-12, equal_nan=True):
                    return False
            elif not np.array_equal(u, v):
                return False
    return True


def write_zip(root: Path, zip_path: Path, prefix: str = "handout") -> Path:
    """A deterministic zip of `root` (zips.write_zip: sorted entries, fixed timestamps and modes) under `prefix/`."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    write_entries(zip_path, {f"{prefix}/{rel}" if prefix else rel: data for rel, data in tree_files(root).items()})
    return zip_path


def digest(root: Path) -> str:
    """A sha256 over a tree's relative paths and contents (for messages and quick comparisons)."""
    h = hashlib.sha256()
    for rel, data in sorted(tree_files(root).items()):
        h.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


# ----------------------------------------------------------------------------------------- output folder


def replace_tree(fresh: Path, out_dir: Path, repo_root: Path) -> None:
    """Make `out_dir` hold exactly `fresh`'s files; refuses folders that could hold anything else of value."""
    resolved = out_dir.resolve()
    if resolved in (repo_root.resolve(), Path.home().resolve(), Path("/")) or resolved in repo_root.resolve().parents:
        raise HandoutError(f"refusing to replace {out_dir}: choose a dedicated output folder")
    if resolved.exists():
        shutil.rmtree(resolved)
    shutil.copytree(fresh, resolved)
