"""The layout a maintainer relies on: the framework knows no assignment and no command line.

- nothing under autograder/framework/ (subpackages included) imports the assignment registry, the CLI
  or click, nor names a registered assignment (comments and docstrings included);
- no framework default is an assignment's name or package;
- the registry finds assignments by name or by folder path, and the CLI's default is the only
  registered assignment, never a literal: with several, --assignment is required and the error lists them.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import autograder.framework
from autograder import assignments
from autograder.cli import main

FRAMEWORK = Path(autograder.framework.__file__).resolve().parent
FORBIDDEN_IMPORTS = ("autograder.assignments", "autograder.cli", "click")


def framework_modules() -> list[Path]:
    """Every Python file of the framework, in subpackages too (the sandbox, the handout runtime)."""
    return sorted(p for p in FRAMEWORK.rglob("*.py") if "__pycache__" not in p.parts)


def imported_names(tree: ast.AST, module_name: str) -> set[str]:
    """Absolute names of every module an AST imports (relative imports resolved against `module_name`)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module_name.split(".")[: -node.level]
                base = ".".join(parent + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(str(node.args[0].value))
    return found


def _module_name(path: Path) -> str:
    rel = path.relative_to(FRAMEWORK.parent.parent).with_suffix("")
    return ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)


def test_the_scan_sees_every_kind_of_import() -> None:
    """The checker itself: it catches plain, from-, relative and importlib imports."""
    code = (
        "import click\nfrom autograder import assignments\nfrom ..assignments import hw\n"
        "importlib.import_module('autograder.cli')\n"
    )
    names = imported_names(ast.parse(code), "autograder.framework.grade")
    assert {"click", "autograder.assignments", "autograder.assignments.hw", "autograder.cli"} <= names


def test_the_framework_imports_neither_the_assignments_nor_the_cli_nor_click() -> None:
    assert len(framework_modules()) > 20
    offenders = []
    for path in framework_modules():
        text = path.read_text(encoding="utf-8")
        names = imported_names(ast.parse(text), _module_name(path))
        bad = sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in FORBIDDEN_IMPORTS))
        if bad:
            offenders.append(f"{path.relative_to(FRAMEWORK)}: {', '.join(bad)}")
        if "autograder.assignments" in text:  # e.g. importlib on a formatted name
            offenders.append(f"{path.relative_to(FRAMEWORK)}: names the autograder.assignments package")
    assert not offenders, offenders


def test_no_framework_file_names_a_registered_assignment() -> None:
    """`grep -ri <name> autograder/framework` finds nothing, for every registered assignment."""
    known = assignments.names()
    assert "hw1p1" in known
    hits = [
        f"{p.relative_to(FRAMEWORK)}: {name}"
        for p in sorted(FRAMEWORK.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
        for name in known
        if name.lower() in p.read_bytes().decode("utf-8", "replace").lower()
    ]
    assert not hits, hits


def test_no_framework_default_is_an_assignments_name_or_package() -> None:
    """A string constant equal to an assignment's name or package (a default, a literal) is a hidden tie."""
    tied = set()
    for name in assignments.names():
        a = assignments.load(name)
        tied |= {a.name, a.package}
    hits = []
    for path in framework_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in tied:
                hits.append(f"{path.relative_to(FRAMEWORK)}:{node.lineno}: {node.value!r}")
    assert not hits, hits


def test_every_command_takes_an_assignment_from_the_registry_not_a_literal() -> None:
    for name, command in main.commands.items():
        option = next(p for p in command.params if "--assignment" in getattr(p, "opts", ()))
        assert option.default is None, f"{name}: --assignment defaults to {option.default!r}"


def test_the_registry_loads_by_name_and_by_folder_and_lists_the_names_when_lost(tmp_path: Path) -> None:
    hw = assignments.load("hw1p1")
    assert hw.package == "mytorch" and hw.source == "hw1p1"
    folder = tmp_path / "course" / "hw1p1-copy"
    shutil.copytree(hw.scenarios_file.parent, folder, ignore=shutil.ignore_patterns("__pycache__"))
    copy = assignments.load(str(folder))
    assert copy.tasks == hw.tasks and copy.source == str(folder.resolve())
    for bad in ("nope", str(tmp_path / "empty")):
        with pytest.raises(assignments.UnknownAssignment) as info:
            assignments.load(bad)
        assert "hw1p1" in str(info.value)


def test_the_cli_default_is_the_only_registered_assignment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOGRADER_ASSIGNMENT", raising=False)
    monkeypatch.setattr(assignments, "names", lambda: ["hw1p1"])
    assert assignments.default_name() == "hw1p1"
    monkeypatch.setattr(assignments, "names", lambda: ["hw1p1", "lab0"])
    assert assignments.default_name() is None
    run = CliRunner().invoke(main, ["check"])
    assert run.exit_code == 2 and "hw1p1, lab0" in run.output and "--assignment" in run.output, run.output
