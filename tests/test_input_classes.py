"""The input classes the suite used to never draw (issue 9, section 2), and the exception formatting.

For each class a bug that only that class reveals is planted in the reference and graded: the named
test must fail with a message pointing at the cause (and, where the class is new, an older test of the
same op still passes, showing that only the new input catches it). Then the check paths on 0-d,
1-element and empty arrays, the two reference fixes, and tracebacks (recursion collapsed as Python does;
a syntax error reported as the student's own, with its mytorch/ path).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.framework.compare import CheckFailed, check_array, check_close, check_gradients
from autograder.framework.errors import StudentException
from autograder.framework.gradcheck import check_gradient, diagnose, format_mismatch
from autograder.framework.harness import InProcessRunner, load_package
from bugs.catalog import Patch, apply_patches, cached_grader
from test_bug_catalog import RECURSIVE_TOPO, TOPO_BODY

SLOT = 10  # a sandbox slot no other test file uses

POW = "return (grad_output * self.exponent * a ** (self.exponent - 1),)"
POW_ZERO = (
    "        if self.exponent == 0:  # a**0 is constant: gradient 0 everywhere, also at a == 0 (0 * 0**-1 is "
    "NaN)\n            return (np.zeros_like(grad_output),)\n"
)
SGD_BUF = "g = self.buffers[i] = g.copy() if buf is None else self.momentum * buf + g"


@dataclass(frozen=True)
class ClassBug:
    """A bug only one input class reveals: where it must fail, what the message says, what still passes."""

    input_class: str
    patches: tuple[Patch, ...]
    fails: str  # substring of the node id of a test that must fail
    says: tuple[str, ...]  # each in that test's message (case-insensitive)
    passes: str = ""  # substring of node ids of older tests of the same op that must all pass


def P(file: str, old: str, new: str) -> tuple[Patch, ...]:
    return (Patch(file, old, new),)


HANDINS: dict[str, tuple[ClassBug, ...]] = {
    "classes": (
        ClassBug(
            "exact zeros in inputs",
            P("ops/elementwise.py", POW, "return (grad_output * self.exponent * a ** self.exponent / a,)"),
            "test_pow[zeros3x5**2]",
            ("nan",),
            "test_pow[3x5**2]",
        ),
        ClassBug(
            "a kink in the inputs (ReLU at exactly 0)",
            P("ops/activation.py", "return (grad_output * (x > 0),)", "return (grad_output * (x >= 0),)"),
            "test_relu_at_zero",
            ("compared with the reference only", "ReLU'(0) = 0"),
            "test_activations[relu",
        ),
        ClassBug(
            "exact zeros in the upstream gradient",
            P(
                "ops/elementwise.py",
                "unbroadcast(grad_output * b, a.shape)",
                "unbroadcast(grad_output ** 2 / grad_output * b, a.shape)",
            ),
            "test_mul_div_zero_upstream[3x5*3x1]",
            ("nan",),
            "test_mul[3x5*3x5]",
        ),
        ClassBug(
            "ties along several axes, with keepdims",
            P(
                "ops/reduce.py",
                "return (mask * (g / mask.sum(axis=self.axes, keepdims=True)),)",
                "return (mask * g,) if self.keepdims else (mask * (g / mask.sum(axis=self.axes, keepdims=True)),)",
            ),
            "test_max_ties_any_axes[2x3x5,axis=-1,keepdims]",
            ("compared with the reference only",),
            "test_max_ties[",
        ),
        ClassBug(
            "repeated backward through the same node",
            P(
                "ops/shape.py",
                "return (np.transpose(grad_output, np.argsort(self.axes)),)",
                "self.axes = tuple(int(a) for a in np.argsort(self.axes))\n"
                "        return (np.transpose(grad_output, self.axes),)",
            ),
            "test_transpose[2x3x5.transpose(2,0,1)]",
            ("a second time", "same node"),
        ),
        ClassBug(
            "a saved array changed by backward",
            P("ops/softmax.py", "grad = probs.copy()", "grad = probs"),
            "test_cross_entropy[5x7]",
            ("self.saved[0]", "in place"),
        ),
        ClassBug(
            "hyperparameters changed between steps",
            P(
                "optim/sgd.py",
                SGD_BUF + "\n            p.data -= self.lr * g",
                "g = self.buffers[i] = self.lr * g if buf is None else self.momentum * buf + self.lr * g\n"
                "                p.data -= g\n                continue\n            p.data -= self.lr * g",
            ),
            "test_sgd_changing_hyperparameters[momentum,lr_schedule]",
            ("set on the optimizer before this step", "learning rate is inside"),
            "test_sgd[",
        ),
        ClassBug(
            "parameters whose grad is None in some steps",
            P(
                "optim/adam.py",
                "        for i, p in enumerate(self.params):\n            if p.grad is None:\n"
                "                continue\n            self.t[i] += 1\n",
                "        self.t = [t + 1 for t in self.t]\n        for i, p in enumerate(self.params):\n"
                "            if p.grad is None:\n                continue\n",
            ),
            "test_adam_changing_hyperparameters[lr_schedule,none_grad]",
            ("one step counter",),
            "test_adam[default]",
        ),
        ClassBug(
            "a 0-d input with a wrong gradient (was an internal grader error)",
            P("ops/elementwise.py", "return (-grad_output,)", "return (grad_output,)"),
            "test_neg[-()]",
            ("Neg.backward", "a.grad: expected"),
        ),
        ClassBug(
            "an empty axis",
            P(
                "ops/broadcast.py",
                "    if grad.shape == tuple(shape):",
                "    if grad.size == 0:\n        return grad  # nothing to sum\n    if grad.shape == tuple(shape):",
            ),
            "test_unbroadcast[0x5->5]",
            ("shape (0, 5), expected (5,)",),
            "test_unbroadcast[3x5->1x5]",
        ),
    ),
    "stale": (
        ClassBug(
            "train_step entered with stale gradients",
            P(
                "train.py",
                "    optimizer.zero_grad()\n    loss = loss_fn(model(x), y)\n    loss.backward()\n"
                "    optimizer.step()\n",
                "    loss = loss_fn(model(x), y)\n    loss.backward()\n"
                "    optimizer.step()\n    optimizer.zero_grad()  # cleared after the update instead\n",
            ),
            "test_train_step_with_stale_gradients",
            ("left gradients behind",),
            "test_train_step[",
        ),
    ),
    "pow0": (
        ClassBug(
            "exponent 0 at x == 0 (the reference's old NaN)",
            P("ops/elementwise.py", POW_ZERO, ""),
            "test_pow[zeros3x5**0]",
            ("nan",),
            "test_pow[3x5**2]",
        ),
        # not an input class: the sandboxed worker's traceback of a recursive DFS, collapsed as Python does
        ClassBug(
            "recursion in the sandbox",
            P("autograd_engine.py", TOPO_BODY, RECURSIVE_TOPO),
            "test_topological_sort_deep_chain",
            ("RecursionError", "[Previous line repeated"),
        ),
    ),
}
KEEP = ("test_2", "test_3", "test_5", "test_7")
CASES = [
    pytest.param(name, bug, id=bug.input_class.replace(" ", "_")[:40]) for name, bugs in HANDINS.items() for bug in bugs
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory):
    """grade(handin name) -> GradeOutcome, each handin graded once per module."""
    return cached_grader(
        ASSIGNMENT,
        HANDINS,
        lambda name: {"pow0": ("test_1", "test_2"), "stale": ("test_8",)}.get(name, KEEP),
        tmp_path_factory,
        SLOT,
    )


@pytest.mark.parametrize("name, bug", CASES)
def test_input_class_catches_its_bug(graded, name: str, bug: ClassBug):
    outcome = graded(name)
    assert not outcome.grader_failed and not outcome.internal_errors, outcome.internal_errors
    failing = [t for t in outcome.tests if bug.fails in t.nodeid and not t.passed]
    assert failing, f"{bug.input_class}: {bug.fails!r} did not fail"
    message = "\n".join(t.message for t in failing)
    missing = [w for w in bug.says if w.lower() not in message.lower()]
    assert not missing, f"{bug.input_class}: message lacks {missing}:\n{message}"
    assert len(message.splitlines()) < 60, f"{bug.input_class}: a message of {len(message.splitlines())} lines"
    if bug.passes:
        older = [t for t in outcome.tests if bug.passes in t.nodeid]
        assert older and all(t.passed for t in older), f"{bug.input_class}: an older test already caught it"


# ---- every check path on 0-d, 1-element and empty arrays ------------------------------------------------


@pytest.mark.parametrize("shape", [(), (1,), (1, 1), (0,), (3, 0)], ids=["0d", "1", "1x1", "0", "3x0"])
def test_check_paths_take_0d_1element_and_empty_arrays(shape):
    want = np.full(shape, 2.0)
    check_gradients("Op", {"grad_a": want.copy()}, {"grad_a": want}, names=["a"])
    check_array("x", want.copy(), want)
    if want.size == 0:
        return
    wrong = -want
    for check in (
        lambda: check_gradients("Op", {"grad_a": wrong}, {"grad_a": want}, names=["a"], upstream=np.ones(shape)),
        lambda: check_array("x", wrong, want),
        lambda: check_close("x", wrong, want),
    ):
        with pytest.raises(CheckFailed) as info:  # a student message, never a numpy error
            check()
        assert "expected 2.000000, got -2.000000" in info.value.message
    assert "sign" in diagnose(want, wrong)
    assert "got -2.000000" in format_mismatch("Op", "a", want, wrong, 1e-6, 1e-9)


@pytest.mark.parametrize("shape", [(), (1,), (0,), (0, 3)], ids=["0d", "1", "0", "0x3"])
def test_numerical_checker_takes_0d_1element_and_empty_arrays(shape):
    x = np.full(shape, 0.5)
    up = np.ones(shape)
    f = lambda xs: np.sin(xs[0])  # noqa: E731
    [ok] = check_gradient(f, [x], up, [np.cos(x)], op="Sin", names=["x"], rng=np.random.default_rng(0))
    assert ok.ok, ok.message
    if x.size:
        [bad] = check_gradient(f, [x], up, [-np.cos(x)], op="Sin", names=["x"], rng=np.random.default_rng(0))
        assert not bad.ok and "sign" in bad.message


def test_sharper_generic_hints():
    a = np.arange(1.0, 31.0).reshape(2, 3, 5)
    b = np.arange(1.0, 28.0).reshape(3, 3, 3)
    with pytest.raises(CheckFailed, match=r"permuted by \(1, 2, 0\)"):
        check_array("x.grad", np.ascontiguousarray(b.transpose(1, 2, 0)), b)
    with pytest.raises(CheckFailed, match="permutation instead of its inverse"):
        check_array("x.grad", a.transpose(2, 0, 1), a)
    x = np.ones((5, 3))
    with pytest.raises(CheckFailed, match="5 is the size of axis 0 of x"):
        check_gradients("Mean.backward", {"grad_x": 5.0 * x}, {"grad_x": x}, names=["x"])
    up = np.random.default_rng(0).standard_normal((5, 3)) + 3.0
    local = np.random.default_rng(1).standard_normal((5, 3))
    with pytest.raises(CheckFailed, match="ignores grad_output"):
        check_gradients("Exp.backward", {"grad_x": local}, {"grad_x": local * up}, names=["x"], upstream=up)


# ---- the reference fixes --------------------------------------------------------------------------------


def test_reference_pow_0_has_gradient_0_at_0():
    mytorch = load_package(ASSIGNMENT.reference_root, ASSIGNMENT.package)
    x = mytorch.Tensor(np.array([0.0, 2.0, -1.0]), requires_grad=True)
    (x**0).backward(np.ones(3))
    assert np.array_equal(x.grad, np.zeros(3))


def test_reference_indexing_with_a_tensor_is_refused_and_a_bool_mask_works():
    mytorch = load_package(ASSIGNMENT.reference_root, ASSIGNMENT.package)
    x = mytorch.Tensor(np.arange(5.0), requires_grad=True)
    with pytest.raises(IndexError, match="boolean mask stored in a Tensor"):
        x[mytorch.Tensor(np.array([True, False, True, False, True]))]
    with pytest.raises(IndexError, match="whole numbers"):
        x[mytorch.Tensor(np.array([0.5]))]
    assert np.array_equal(x[mytorch.Tensor(np.array([4.0, 1.0, 1.0]))].data, [4.0, 1.0, 1.0])  # positions
    mask = np.array([True, False, True, False, True])
    x[mask].backward(np.array([1.0, 2.0, 3.0]))
    assert np.array_equal(x.grad, [1.0, 0.0, 2.0, 0.0, 3.0])


# ---- tracebacks on the student's machine (the in-process runner shares the worker's format) -------------


def _patched_reference(tmp_path: Path, patches: tuple[Patch, ...]) -> Path:
    root = tmp_path / "handin"
    shutil.copytree(
        ASSIGNMENT.reference_root / ASSIGNMENT.package,
        root / ASSIGNMENT.package,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    apply_patches(root / ASSIGNMENT.package, patches)
    return root


def test_recursion_is_collapsed_like_python(tmp_path: Path):
    root = _patched_reference(tmp_path, (Patch("autograd_engine.py", TOPO_BODY, RECURSIVE_TOPO),))
    runner = InProcessRunner(root, ASSIGNMENT.package, ASSIGNMENT.scenarios_file, student=True)
    try:
        with pytest.raises(StudentException) as info:
            runner.run("deep_chain", x=np.ones(3), n=2_000, upstream=np.ones(3), sort_only=True)
    finally:
        load_package(ASSIGNMENT.reference_root, ASSIGNMENT.package)  # leave the reference loaded, as found
    message = info.value.message
    assert message.startswith("RecursionError")
    assert "more times]" in message and "[Previous line repeated" in message
    assert len(message.splitlines()) < 40, message


def test_syntax_error_in_the_students_file_is_theirs(tmp_path: Path):
    root = _patched_reference(
        tmp_path,
        (Patch("optim/adam.py", "            self.t[i] += 1\n", "            self.t[i] += 1\n          oops = 1\n"),),
    )
    runner = InProcessRunner(root, ASSIGNMENT.package, ASSIGNMENT.scenarios_file, student=True)
    try:
        with pytest.raises(StudentException) as info:
            runner.run("optimizer_steps", kind="adam", params=[np.ones(2)], grads=[[np.ones(2)]], options={"lr": 0.1})
    finally:
        load_package(ASSIGNMENT.reference_root, ASSIGNMENT.package)
    message = info.value.message
    assert message.startswith("IndentationError")
    assert 'File "mytorch/optim/adam.py", line' in message and "oops = 1" in message
    assert "grader's scenario code" not in message
