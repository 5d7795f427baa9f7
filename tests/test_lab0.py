"""lab0 (`scalargrad`), the second assignment, graded by the unchanged framework: the reference gets full
marks and the stubbed handout 0 through the same CLI and grade_submission as hw1p1; each classic bug of
scalar autograd, planted in the reference, loses points in its own task and nowhere else; grading is
deterministic; the Gradescope zip builds."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

from autograder.assignments.lab0.assignment import ASSIGNMENT
from autograder.cli import main
from autograder.framework.grade import GradeOutcome, grade_submission
from autograder.framework.handoutgen import strip_fences

SLOT = 41  # a sandbox slot (worker uid) no other test file uses
PACKAGE = ASSIGNMENT.reference_root / ASSIGNMENT.package
FULL = {t.id: t.points for t in ASSIGNMENT.tasks}

# name -> (file, old text, new text, the task that must lose points, a phrase its message must contain)
BUGS: dict[str, tuple[str, str, str, str, str]] = {
    "mul assigns instead of +=": (
        "value.py",
        "            self.grad += other.data * out.grad\n            other.grad += self.data * out.grad",
        "            self.grad = other.data * out.grad\n            other.grad = self.data * out.grad",
        "1.2",
        "was overwritten; use `+=`, not `=`",
    ),
    "add assigns instead of +=": (
        "value.py",
        "            self.grad += out.grad\n            other.grad += out.grad",
        "            self.grad = out.grad\n            other.grad = out.grad",
        "1.1",
        "the second use of `a` overwrote the first; accumulate with `+=`",
    ),
    "add ignores the upstream gradient": (
        "value.py",
        "            self.grad += out.grad\n            other.grad += out.grad",
        "            self.grad += 1.0\n            other.grad += 1.0",
        "1.1",
        "_backward ignores out.grad",
    ),
    "pow does not lower the exponent": (
        "value.py",
        "exponent * self.data ** (exponent - 1) * out.grad",
        "exponent * self.data ** exponent * out.grad",
        "1.3",
        "the exponent is not lowered",
    ),
    "tanh derivative from the input": (
        "value.py",
        "(1.0 - out.data * out.data) * out.grad",
        "(1.0 - self.data * self.data) * out.grad",
        "1.4",
        "computed from the input a instead of the output",
    ),
    "relu derivative 1 at zero": (
        "value.py",
        "(1.0 if self.data > 0 else 0.0) * out.grad",
        "(1.0 if self.data >= 0 else 0.0) * out.grad",
        "1.4",
        "relu's derivative at exactly 0",
    ),
    "breadth-first order": (
        "value.py",
        "        order: list[Value] = []\n        seen: set[int] = set()",
        "        order: list[Value] = []\n        queue, seen = [self], {id(self)}\n"
        "        while queue:\n            node = queue.pop(0)\n            order.append(node)\n"
        "            for child in node.children:\n                if id(child) not in seen:\n"
        "                    seen.add(id(child))\n                    queue.append(child)\n"
        "        return order[::-1]\n        seen: set[int] = set()",
        "2.1",
        "comes before its child",
    ),
    "visited on push": (
        "value.py",
        "            if id(node) in seen:  # pushed twice before it was entered: expand it once only\n"
        "                continue\n            seen.add(id(node))\n            stack.append((node, True))\n"
        "            for child in reversed(node.children):\n                if id(child) not in seen:\n"
        "                    stack.append((child, False))",
        "            stack.append((node, True))\n            for child in reversed(node.children):\n"
        "                if id(child) not in seen:\n                    seen.add(id(child))\n"
        "                    stack.append((child, False))",
        "2.1",
        "marked visited when it is pushed",
    ),
    "expands a node pushed twice": (
        "value.py",
        "            if id(node) in seen:  # pushed twice before it was entered: expand it once only\n"
        "                continue\n",
        "",
        "2.1",
        "more than once",
    ),
    "recursive DFS": (
        "value.py",
        "        order: list[Value] = []\n        seen: set[int] = set()",
        "        order: list[Value] = []\n        done: set[int] = set()\n\n"
        "        def visit(node):\n            if id(node) in done:\n                return\n"
        "            done.add(id(node))\n            for child in node.children:\n                visit(child)\n"
        "            order.append(node)\n\n        visit(self)\n        return order\n        seen: set[int] = set()",
        "2.1",
        "RecursionError",
    ),
    "backward in forward order": (
        "value.py",
        "        for node in reversed(order):\n            node._backward()",
        "        for node in order:\n            node._backward()",
        "2.2",
        "before that of",
    ),
    "backward keeps stale intermediate grads": (
        "value.py",
        "            if node.children:\n                node.grad = 0.0\n",
        "            pass\n",
        "2.2",
        "intermediate nodes start every backward() from grad 0.0",
    ),
    "zero_grad does nothing": (
        "nn.py",
        "        for p in self.parameters():\n            p.grad = 0.0",
        "        pass",
        "3.1",
        "zero_grad",
    ),
    "neuron without bias": (
        "nn.py",
        "        total = self.b\n        for wi, xi in zip(self.w, x):",
        "        total = Value(0.0)\n        for wi, xi in zip(self.w, x):",
        "3.1",
        "bias missing?",
    ),
    "train_step returns the loss Value": (
        "train.py",
        "    return loss.data",
        "    return loss",
        "3.2",
        "train_step (step 0) returned a Value; return loss.data (a float).",
    ),
    "train_step never clears gradients": (
        "train.py",
        "    model.zero_grad()\n    loss = mse_loss",
        "    loss = mse_loss",
        "3.2",
        "zero_grad",
    ),
}


def plant(tmp: Path, file: str, old: str, new: str) -> Path:
    """A copy of the reference package under tmp with `old` replaced by `new` in `file` (exactly once)."""
    package = tmp / "handin" / ASSIGNMENT.package
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    text = (package / file).read_text()
    assert text.count(old) == 1, f"{file}: the planted bug's anchor is not unique (reference changed?)"
    (package / file).write_text(text.replace(old, new))
    return package.parent


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], GradeOutcome]:
    """grade(name) -> outcome for "reference", "stubs" or a BUGS name; each graded once per module."""
    cache: dict[str, GradeOutcome] = {}

    def grade(name: str) -> GradeOutcome:
        if name not in cache:
            tmp = tmp_path_factory.mktemp(name.replace(" ", "_"))
            if name == "reference":
                handin = PACKAGE.parent
            elif name == "stubs":
                handin = tmp / "handin"
                for path in sorted(PACKAGE.rglob("*.py")):
                    rel = path.relative_to(PACKAGE.parent)
                    stubbed, _ = strip_fences(path.read_text(), rel.as_posix(), FULL)
                    (handin / rel).parent.mkdir(parents=True, exist_ok=True)
                    (handin / rel).write_text(stubbed)
            else:
                handin = plant(tmp, *BUGS[name][:3])
            cache[name] = grade_submission(handin, ASSIGNMENT, tmp / "results.json", slot=SLOT)
        return cache[name]

    return grade


def test_reference_gets_full_marks(graded: Callable[[str], GradeOutcome]) -> None:
    outcome = graded("reference")
    assert not outcome.internal_errors and not outcome.grader_failed
    assert outcome.tasks == FULL and outcome.score == outcome.max_score == 50.0
    assert len(outcome.tests) > 100  # public and hidden
    assert {t.nodeid.split("/")[0] for t in outcome.tests} == {"public", "hidden"}


def test_stubbed_handout_gets_zero_with_each_task_named(graded: Callable[[str], GradeOutcome]) -> None:
    outcome = graded("stubs")
    assert outcome.score == 0.0 and not outcome.internal_errors and not outcome.grader_failed
    for task in ASSIGNMENT.tasks:  # every task's failures name a stub (its own, or a prerequisite's)
        messages = [t.message for t in outcome.tests if t.task == task.id]
        assert messages and all("NotImplementedError" in m for m in messages), task.id
    own = [t.message for t in outcome.tests if t.task == "1.3"]
    assert any("Task 1.3" in m for m in own)


def test_one_stub_per_fence_naming_its_task() -> None:
    stubs = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        text, fences = strip_fences(path.read_text(), path.name, FULL)
        stubs[path.name] = [f.task for f in fences]
        assert text.count("raise NotImplementedError") == len(fences)
    assert sorted({t for tasks in stubs.values() for t in tasks}) == sorted(FULL)  # every task has student code


@pytest.mark.parametrize("bug", list(BUGS))
def test_planted_bug_loses_points_in_its_task_only(graded: Callable[[str], GradeOutcome], bug: str) -> None:
    *_, task, phrase = BUGS[bug]
    outcome = graded(bug)
    assert not outcome.internal_errors and not outcome.grader_failed
    assert outcome.tasks[task] < FULL[task], f"{bug}: task {task} kept full marks"
    others = {t: s for t, s in outcome.tasks.items() if t != task and s != FULL[t]}
    assert not others, f"{bug}: other tasks lost points: {others}"
    failing = "\n".join(t.message for t in outcome.tests if t.task == task and not t.passed)
    assert phrase in failing, f"{bug}: no failure of task {task} says {phrase!r}:\n{failing[:2000]}"


def test_recursive_dfs_loses_only_the_small_weight_deep_chain_checks(graded: Callable[[str], GradeOutcome]) -> None:
    outcome = graded("recursive DFS")
    failed = sorted(t.nodeid.split("::")[1] for t in outcome.tests if not t.passed)
    assert failed == ["test_topological_order_beyond_the_recursion_limit", "test_topological_order_deep_chain"]
    assert 7.0 < outcome.tasks["2.1"] < 8.0  # correct on every graph a recursion can handle


def test_grading_is_deterministic(graded: Callable[[str], GradeOutcome], tmp_path: Path) -> None:
    first = graded("tanh derivative from the input")
    handin = plant(tmp_path, *BUGS["tanh derivative from the input"][:3])
    again = grade_submission(handin, ASSIGNMENT, tmp_path / "again.json", slot=SLOT)
    assert again.tasks == first.tasks
    strip = lambda r: {k: v for k, v in r.items() if k != "execution_time"}  # noqa: E731
    assert strip(again.report) == strip(first.report)


def test_cli_grades_lab0(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    run = CliRunner().invoke(
        main, ["grade", "--assignment", "lab0", str(PACKAGE.parent), "--results", str(results), "--slot", str(SLOT)]
    )
    assert run.exit_code == 0, run.output
    assert "TOTAL 50/50" in " ".join(run.output.split())
    report = json.loads(results.read_text())
    assert report["score"] == 50.0


def test_gradescope_zip_for_lab0(tmp_path: Path) -> None:
    out = tmp_path / "lab0.zip"
    run = CliRunner().invoke(main, ["gradescope", "--assignment", "lab0", "--out", str(out)])
    assert run.exit_code == 0, run.output
    names = zipfile.ZipFile(out).namelist()
    assert "solutions/lab0/scalargrad/value.py" in names
    assert "autograder/assignments/lab0/tests/hidden/test_1_ops_hidden.py" in names
    run_autograder = zipfile.ZipFile(out).read("run_autograder").decode()
    assert "lab0" in run_autograder  # the assignment it grades, filled in when the zip was built


def test_overwrite_hints_replace_the_generic_ratio_hint(graded: Callable[[str], GradeOutcome]) -> None:
    """`=` for `+=`: a * a says the second use overwrote the first (not "mean instead of sum?"), and an
    accumulate case names the earlier grad that was thrown away, with its value."""
    failing = {t.nodeid: t.message for t in graded("mul assigns instead of +=").tests if not t.passed}
    square = next(m for n, m in failing.items() if n.endswith("test_mul_div[a * a]"))
    assert "Hint: this is what you get when the second use of `a` overwrote the first" in square
    accumulate = next(m for n, m in failing.items() if n.endswith("test_mul_div_accumulate[a * b]"))
    before = re.search(r"and a\.grad = (\S+), b\.grad = (\S+) beforehand", accumulate)
    assert before, accumulate
    assert f"the earlier a.grad ({before[1]}) was overwritten; use `+=`, not `=`" in accumulate
    assert f"the earlier b.grad ({before[2]}) was overwritten" in accumulate
    assert not any("mean instead of sum" in m or "1/2 of the expected" in m for m in failing.values())


def test_neuron_failure_shows_its_parameters_and_input(graded: Callable[[str], GradeOutcome]) -> None:
    failing = [t.message for t in graded("neuron without bias").tests if not t.passed and "Neuron(3, " in t.message]
    assert failing
    linear = next(m for m in failing if "'linear'" in m)
    shown = re.search(r"with w = \[(\S+), (\S+), (\S+)\], b = (\S+), x = \[(\S+), (\S+), (\S+)\]", linear)
    assert shown, linear
    assert f"your output differs by exactly b ({shown[4]}): bias missing?" in linear
    tanh = next(m for m in failing if "'tanh'" in m)
    assert "your output is tanh(w . x) without b: bias missing?" in tanh


def test_neuron_hint_names_a_relu_linear_mixup() -> None:
    checks = _lab0_checks()
    w, b, x = [0.5, -1.0, 0.25], 0.1, [1.0, 2.0, -2.0]  # w . x + b = -1.9: relu gives 0
    assert "your output is linear(w . x + b), but this neuron's activation is 'relu'" in checks._neuron_hint(
        "relu", w, b, x, -1.9
    )
    assert "relu(w . x + b)" in checks._neuron_hint("linear", w, b, x, 0.0)
    assert checks._neuron_hint("linear", w, b, x, 1.234) == ""  # nothing recognised: no guess


def _lab0_checks() -> ModuleType:
    """lab0's shared checks module (tests/public/lab0_checks.py), imported by path."""
    path = ASSIGNMENT.tests_dir / "public" / "lab0_checks.py"
    spec = importlib.util.spec_from_file_location("lab0_checks", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SECTION = re.compile(r"\b[Ss]ections? (\d+(?:\.\d+)?(?:(?:,| and| to) \d+(?:\.\d+)?)*)")


def test_every_cited_writeup_section_exists() -> None:
    """Every "section N" / "section N.M" cited in lab0's messages, tests, docstrings and writeup is a
    heading of solutions/lab0/README.md (the sections were renumbered once already)."""
    readme = ASSIGNMENT.reference_root / "README.md"
    headings = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)[. ]", readme.read_text(), re.M))
    assert {"4.4", "6"} <= headings  # the parser sees the headings
    files = [readme, *sorted(Path(ASSIGNMENT.tests_dir).rglob("*.py")), *sorted(PACKAGE.rglob("*.py"))]
    files += sorted(Path(ASSIGNMENT.scenarios_file).parent.glob("*.py"))
    cited = []
    for path in files:
        for match in SECTION.finditer(path.read_text()):
            cited += [(path.name, n) for n in re.findall(r"\d+(?:\.\d+)?", match[1])]
    assert ("lab0_graphs.py", "4.4") in cited  # the hint that once said 3.3
    missing = [(name, n) for name, n in cited if n not in headings]
    assert not missing, f"cited sections with no heading in the writeup: {missing}"


def test_stale_section_reference_is_caught() -> None:
    """The section test's pattern finds the kind of citation that went stale."""
    assert SECTION.search("finished (writeup section 3.3).")[1] == "3.3"  # type: ignore[index]
    assert SECTION.search("chain rule (writeup sections 2 and 3).")[1] == "2 and 3"  # type: ignore[index]
