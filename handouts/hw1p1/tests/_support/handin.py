"""`make handin`: check that your package compiles and imports, then write handin.zip for Gradescope.

The archive holds only <package>/**/*.py (no caches, no tests, no data), with fixed timestamps, so the same
code always gives the same handin.zip. Nothing is written when a file has a syntax error or the package
does not import: upload only an archive this script reports as written. The package's name is read from
tests/_support/assignment.json.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from handout_config import ConfigError, read_config  # type: ignore  # (this script's folder)

from autograder.framework.zips import write_zip  # the handout's shipped copy (this script's folder)

ROOT = Path(__file__).resolve().parents[2]  # the handout folder: tests/_support/handin.py -> ../../
ERRORS = Path(__file__).resolve().parent / "autograder" / "framework" / "errors.py"  # student tracebacks
ARCHIVE = "handin.zip"
# Run in a fresh interpreter: imports each module; on failure prints only the frames inside the handout
# (errors.student_traceback, the grader's own filter, loaded by path so nothing else joins sys.path).
IMPORT_CHECK = """
import importlib, importlib.util, os, sys
spec = importlib.util.spec_from_file_location("_handin_errors", sys.argv[1])
errors = importlib.util.module_from_spec(spec)
spec.loader.exec_module(errors)
for name in sys.argv[2:]:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        print(errors.student_traceback(exc, os.getcwd()), file=sys.stderr)
        print(f"{type(exc).__name__}: {exc}  (while importing {name})", file=sys.stderr)
        sys.exit(1)
"""
STUB = re.compile(r'raise NotImplementedError\("Task ([^:"]+):')


def python_files(root: Path, package: str) -> list[Path]:
    """Every .py file of the package, sorted (caches skipped)."""
    return sorted(p for p in (root / package).rglob("*.py") if "__pycache__" not in p.parts)


def syntax_errors(root: Path, files: list[Path]) -> list[str]:
    """'file:line: message' for each file that does not compile (without writing any .pyc)."""
    problems = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        try:
            compile(path.read_bytes(), rel, "exec")
        except SyntaxError as exc:  # IndentationError and TabError are SyntaxErrors too
            line = (exc.text or "").rstrip()
            shown = f"\n    {line.strip()}" if line else ""
            problems.append(f"{rel}:{exc.lineno}: {type(exc).__name__}: {exc.msg}{shown}")
        except ValueError as exc:  # e.g. a NUL byte in the file
            problems.append(f"{rel}: {exc}")
    return problems


def import_error(root: Path, files: list[Path], package: str) -> str:
    """'' when every module of the package imports in a fresh interpreter, else the end of the traceback."""
    modules = [".".join(p.relative_to(root).with_suffix("").parts) for p in files]
    modules = [m[: -len(".__init__")] if m.endswith(".__init__") else m for m in modules]
    try:
        proc = subprocess.run(
            [sys.executable, "-B", "-c", IMPORT_CHECK, str(ERRORS), *modules],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        return f"importing {package} did not finish in 120 s (a loop or heavy work at module level?)"
    if proc.returncode == 0:
        return ""
    return "\n".join(proc.stderr.strip().splitlines()[-12:])


def unfinished_tasks(files: list[Path]) -> list[str]:
    """Task ids whose stub `raise NotImplementedError("Task ...")` is still in the code."""
    found = {m.group(1) for p in files for m in STUB.finditer(p.read_text(encoding="utf-8", errors="replace"))}
    return sorted(found, key=lambda t: [int(x) if x.isdigit() else x for x in t.split(".")])


def foreign_imports(root: Path, files: list[Path], package: str) -> list[str]:
    """'file:line: name' for each absolute import of a module that is neither numpy, the package itself nor
    in Python's standard library: it may be installed here, but the grader has only numpy and the stdlib."""
    allowed = set(getattr(sys, "stdlib_module_names", ())) | {"numpy", package, "__future__"}
    if len(allowed) < 10:  # Python < 3.10 has no list of the standard library: no check
        return []
    found = []
    for path in files:
        try:
            tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError):
            continue
        # try: import x / except ImportError: an optional import is no problem
        guarded = {
            id(n)
            for t in ast.walk(tree)
            if isinstance(t, ast.Try)
            and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError") for h in t.handlers
            )
            for stmt in t.body
            for n in ast.walk(stmt)
        }
        for node in ast.walk(tree):
            if id(node) in guarded:
                continue
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                else []
            )
            for name in names:
                if name.split(".")[0] not in allowed:
                    found.append(f"{path.relative_to(root).as_posix()}:{node.lineno}: {name}")
    return found


def write_archive(root: Path, files: list[Path], target: Path) -> None:
    """A deterministic zip of `files` (paths relative to `root`)."""
    write_zip(target, {path.relative_to(root).as_posix(): path.read_bytes() for path in files})


def main(root: Path = ROOT) -> int:
    """Check and pack; 0 when handin.zip was written, 1 otherwise."""
    try:
        package = read_config(root)["package"]
    except ConfigError as exc:
        print(f"error: {exc}")
        return 1
    target = root / ARCHIVE
    files = python_files(root, package)
    if not (root / package / "__init__.py").is_file():
        print(f"error: {root / package}/__init__.py not found: run `make handin` in the handout folder")
        return 1
    problems = syntax_errors(root, files)
    reason = "syntax errors" if problems else ""
    if not problems:
        failure = import_error(root, files, package)
        if failure:
            problems, reason = [f"`import {package}` fails:\n" + textwrap.indent(failure, "    ")], "an import error"
    if problems:
        print(f"error: {ARCHIVE} was NOT written because of {reason}; fix these and run `make handin` again:")
        for problem in problems:
            print(f"  {problem}")
        if target.exists():
            target.unlink()  # an older archive is out of date: never let it be uploaded by mistake
            print(f"  (removed the out-of-date {ARCHIVE})")
        return 1
    write_archive(root, files, target)
    print(f"wrote {target} ({len(files)} files, {target.stat().st_size:,} bytes): upload it to Gradescope")
    for line in foreign_imports(root, files, package):
        print(f"warning: {line} is neither numpy nor the standard library: the grader cannot import it")
    left = unfinished_tasks(files)
    if left:
        print(f"note: still stubbed (NotImplementedError): task {', '.join(left)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
