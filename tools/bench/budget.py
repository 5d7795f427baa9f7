"""The time budget under the worst handins: one whose every student function loops forever, and one
that is correct but 20 times slower than the reference.

Both are built here from any assignment's reference, in a temporary folder (no copy of reference code
is kept): the all-loops handin replaces the body of every solution fence with `while True: pass`; the
slow one is the whole reference with every function and method wrapped so that each outermost call into
the package computes (spins) for 19 times its own CPU time. The slowdown is measured on the scenario the
assignment's devtools.py names as `BENCH_YARDSTICK` (none: not measured).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from autograder.cli.common import load_assignment
from autograder.framework.handoutgen import strip_fences
from autograder.framework.rubric import Assignment
from tools import assignment as assignments
from tools.planted import patched_reference

SLOWDOWN = 20
LOOP_SLOT = 93  # sandbox slots of their own: a bench may run beside a grade on slot 0
SLOW_SLOT = 94

# Appended to the slow handin's package: wraps every function of every module of the package.
_SLOWDOWN_MODULE = '''"""Bench only: every call into this package takes FACTOR times its CPU time (busy, like slow code)."""

import functools
import importlib
import inspect
import pkgutil
import time

FACTOR = {factor}
_depth = 0


def _slow(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        global _depth
        if _depth:  # only the outermost call into the package waits: nested calls are part of its time
            return fn(*args, **kwargs)
        _depth += 1
        start = time.thread_time()  # CPU time: slow code computes more, whatever the machine's load
        try:
            return fn(*args, **kwargs)
        finally:
            _depth -= 1
            end = time.thread_time() + (FACTOR - 1) * (time.thread_time() - start)
            while time.thread_time() < end:
                pass
    return wrapper


def _wrap(value):
    """The slowed version of a class attribute, or None to leave it alone."""
    if isinstance(value, staticmethod):
        return staticmethod(_slow(value.__func__))
    if isinstance(value, classmethod):
        return classmethod(_slow(value.__func__))
    if inspect.isfunction(value) and not inspect.isgeneratorfunction(value):
        return _slow(value)
    return None


def install(package):
    modules = [importlib.import_module(package)]
    for info in pkgutil.walk_packages(modules[0].__path__, package + "."):
        if not info.name.endswith("_slowdown"):
            modules.append(importlib.import_module(info.name))
    slowed = {{}}
    for module in modules:
        for name, value in list(vars(module).items()):
            if name.startswith("__") or getattr(value, "__module__", None) != module.__name__:
                continue
            if inspect.isclass(value):
                for attr, member in list(vars(value).items()):
                    if attr in ("__new__", "__init_subclass__", "__class_getitem__", "__getattr__", "__del__"):
                        continue
                    new = _wrap(member)
                    if new is not None:
                        setattr(value, attr, new)
            elif inspect.isfunction(value) and not inspect.isgeneratorfunction(value):
                slowed[id(value)] = _slow(value)
    for module in modules:  # module functions, wherever they were imported to
        for name, value in list(vars(module).items()):
            if id(value) in slowed and not name.startswith("__"):
                setattr(module, name, slowed[id(value)])
'''


def loop_fences(text: str, path: str) -> str:
    """`text` with the body of every solution fence replaced by an infinite loop."""
    lines = text.splitlines()
    fences = strip_fences(text, path)[1]
    for fence in reversed(fences):
        indent = lines[fence.begin - 1][: len(lines[fence.begin - 1]) - len(lines[fence.begin - 1].lstrip())]
        lines[fence.begin - 1 : fence.end] = [f"{indent}while True:  # the all-loops bench handin", f"{indent}    pass"]
    return "\n".join(lines) + "\n"


def make_loop_handin(assignment: Assignment, dest: Path) -> Path:
    """A handin where every fenced (student-written) block loops forever; returns its folder."""
    patched_reference(assignment, (), dest)
    for path in sorted((dest / assignment.package).rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "BEGIN SOLUTION" in text:
            path.write_text(loop_fences(text, path.relative_to(dest).as_posix()), encoding="utf-8")
    return dest


def make_slow_handin(assignment: Assignment, dest: Path, factor: int = SLOWDOWN) -> Path:
    """The reference, every call into the package `factor` times slower; returns its folder."""
    package = assignment.package
    patched_reference(assignment, (), dest)
    (dest / package / "_slowdown.py").write_text(_SLOWDOWN_MODULE.format(factor=factor), encoding="utf-8")
    with open(dest / package / "__init__.py", "a", encoding="utf-8") as f:
        f.write(f"\nfrom . import _slowdown\n_slowdown.install({package!r})\n")
    return dest


def measured_slowdown(assignment: Assignment, slow: Path, scenario: str, kwargs: dict[str, Any]) -> float:
    """How many times more CPU time `scenario(**kwargs)` takes in a worker on the slow handin than on the reference."""
    from autograder.framework import sandbox
    from autograder.framework.client import WorkerClient

    times = []
    for root in (slow, assignment.reference_root):
        with WorkerClient(
            root, assignment.package, assignment.scenarios_file, assignment.data_files, slot=SLOW_SLOT
        ) as client:
            client.run(scenario, timeout=300, **kwargs)  # warm: imports, first-call caches
            start = sandbox.cpu_seconds_used(client.worker_pid)  # CPU time: the machine's load does not count
            client.run(scenario, timeout=300, **kwargs)
            times.append(sandbox.cpu_seconds_used(client.worker_pid) - start)
    return times[0] / times[1]


def _grade(assignment: Assignment, handin: Path, results: Path, slot: int) -> tuple[float, Any]:
    """(wall seconds, GradeOutcome) of grading `handin` end to end, sandbox on."""
    from autograder.framework.grade import grade_submission

    start = time.perf_counter()
    outcome = grade_submission(handin, assignment, results, slot=slot)
    return time.perf_counter() - start, outcome


def budget_figures(assignment: Assignment) -> list[dict]:
    """Worst-case grade time (all-loops handin) and the score of a correct handin 20 times slower."""
    budget = assignment.budget
    yardstick = assignments.devtools(assignment).get("BENCH_YARDSTICK")
    with tempfile.TemporaryDirectory(prefix="ag-bench-budget-") as tmp:
        root = Path(tmp)
        loops = make_loop_handin(assignment, root / "loops")
        wall, outcome = _grade(assignment, loops, root / "loops.json", LOOP_SLOT)
        messages = [t.message for t in outcome.tests if not t.passed]
        timeouts = sum("timed out after" in m for m in messages)
        not_run = sum(m.startswith("not run:") for m in messages)
        loop_figure = {
            "name": "worst_case_grade_wall",
            "value": round(wall, 1),
            "unit": "s",
            "target": f"<= {budget.total:g}",
            "detail": f"all-loops handin: {outcome.score}/{outcome.max_score}, {len(outcome.tests)} checks: "
            f"{timeouts} timed out, {not_run} not run",
        }
        slow = make_slow_handin(assignment, root / "slow")
        wall, outcome = _grade(assignment, slow, root / "slow.json", SLOW_SLOT)
        if yardstick:
            scenario, kwargs = yardstick
            measured = f"measured {measured_slowdown(assignment, slow, scenario, kwargs):.1f}x on {scenario}"
        else:
            measured = "slowdown not measured: no BENCH_YARDSTICK in the assignment's devtools.py"
        lost = [f"{t.case}: {t.message.splitlines()[0]}" for t in outcome.tests if not t.passed]
        slow_figure = {
            "name": "slow_handin_score",
            "value": outcome.score,
            "unit": "pts",
            "target": f"= {outcome.max_score:g} (full marks)",
            "detail": f"correct handin {SLOWDOWN}x slower ({measured}), "
            f"graded in {wall:.1f} s" + "".join(f"; lost {x}" for x in lost[:3]),
        }
    return [loop_figure, slow_figure]


if __name__ == "__main__":  # python -m tools.bench.budget [ASSIGNMENT]
    import sys

    for figure in budget_figures(load_assignment(sys.argv[1] if len(sys.argv) > 1 else None)):
        print(figure)
