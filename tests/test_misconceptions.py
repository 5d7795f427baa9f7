"""Misconception diagnosis: planted wrong formulas are caught AND named by the catalogue's text.

Each Planted bug patches one reference formula into a wrong one from hw1p1's catalogue
(autograder/assignments/hw1p1/misconceptions.py). Bugs in different ops share a handin; each handin is
graded once against the test files of tasks 2-7. We assert that every planted bug fails the named test,
that at least 80% of them are named in that test's message by their catalogue entry (`Hint: this is what
you get when <when>`), and that nothing is reported as an internal grader error.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.assignments.hw1p1.misconceptions import CATALOGUE
from autograder.framework.grade import GradeOutcome
from bugs.catalog import Patch, cached_grader

SLOT = 9  # a sandbox slot no other test file uses

EW, RED, SHAPE, MM = "ops/elementwise.py", "ops/reduce.py", "ops/shape.py", "ops/matmul.py"
ACT, SM, BN, SGD, ADAM, UB = (
    "ops/activation.py",
    "ops/softmax.py",
    "nn/batchnorm.py",
    "optim/sgd.py",
    "optim/adam.py",
    "ops/broadcast.py",
)


@dataclass(frozen=True)
class Planted:
    """A wrong formula planted in the reference: the catalogue entry (op, words of its `when`) it must be named by."""

    op: str  # catalogue key
    when: str  # a substring of the entry's `when`
    patches: tuple[Patch, ...]
    test: str  # substring of the node id of a test that must fail


def P(file: str, old: str, new: str) -> tuple[Patch, ...]:
    return (Patch(file, old, new),)


SUB = "return unbroadcast(grad_output, a_shape), unbroadcast(-grad_output, b_shape)"
MUL = "return unbroadcast(grad_output * b, a.shape), unbroadcast(grad_output * a, b.shape)"
DIV = "return unbroadcast(grad_output / b, a.shape), unbroadcast(-grad_output * a / (b * b), b.shape)"
POW = "return (grad_output * self.exponent * a ** (self.exponent - 1),)"
MEAN_COUNT = "count = np.prod([self.in_shape[a] for a in self.axes])"
MAX_RET = "return (mask * (g / mask.sum(axis=self.axes, keepdims=True)),)"
LOGSM = "return (grad_output - np.exp(out) * np.sum(grad_output, axis=self.axis, keepdims=True),)"
BN_X = "grad_x = inv_std / n * (n * grad_xhat - grad_xhat.sum(axis=0) - xhat * (grad_xhat * xhat).sum(axis=0))"
BN_RET = "return grad_x, (grad_output * xhat).sum(axis=0), grad_output.sum(axis=0)"
SGD_BUF = "g = self.buffers[i] = g.copy() if buf is None else self.momentum * buf + g"
SGD_WD = "g = p.grad + self.weight_decay * p.data if self.weight_decay != 0.0 else p.grad"
ADAM_HAT = (
    "            m_hat = self.m[i] / (1 - b1 ** self.t[i])\n            v_hat = self.v[i] / (1 - b2 ** self.t[i])\n"
)
ADAM_UPDATE = "p.data -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)"
MM_GRAD_B = "grad_b = unbroadcast(matmul_like(np.swapaxes(a2, -1, -2), g, b2), b2.shape).reshape(b.shape)"
MM_START = "        a, b = self.saved\n        # as np.matmul"
UB_RET = "return grad.sum(axis=axes).reshape(shape)"

# handin -> bugs; bugs in one handin touch different ops (and none breaks another's formula).
HANDINS: dict[str, tuple[Planted, ...]] = {
    "A": (
        Planted(
            "unbroadcast",
            "only the leading axes",
            P(UB, UB_RET, "return grad.sum(axis=tuple(range(extra)))"),
            "test_unbroadcast[3x5->3x1]",
        ),
        Planted(
            "neg",
            "passed through unchanged",
            P(EW, "return (-grad_output,)", "return (grad_output,)"),
            "test_neg[-3x5]",
        ),
        Planted(
            "pow",
            "not lowered",
            P(EW, POW, "return (grad_output * self.exponent * a ** self.exponent,)"),
            "test_pow[3x5**2]",
        ),
        Planted(
            "exp",
            "input a instead of",
            P(EW, "return (grad_output * out,)", "return (grad_output * np.log(out),)"),
            "test_exp[exp(3x5)]",
        ),
        Planted(
            "log",
            "multiplied by a instead",
            P(EW, "return (grad_output / a,)", "return (grad_output * a,)"),
            "test_log[log(3x5)]",
        ),
        Planted(
            "mean", "full size", P(RED, MEAN_COUNT, "count = np.prod(self.in_shape)"), "test_mean[mean(3x5,axis=0)]"
        ),
        Planted("max", "every tied maximum", P(RED, MAX_RET, "return (mask * g,)"), "test_max_ties["),
        Planted(
            "transpose",
            "permutation again",
            P(SHAPE, "np.transpose(grad_output, np.argsort(self.axes))", "np.transpose(grad_output, self.axes)"),
            "test_transpose[2x3x5.transpose(2,0,1)]",
        ),
        Planted(
            "getitem",
            "repeated index",
            P(SHAPE, "np.add.at(grad, self.index, grad_output)", "grad[self.index] += grad_output"),
            "test_getitem[7[[0,3,0,0]]]",
        ),
        Planted(
            "relu",
            "x >= 0",
            P(ACT, "return (grad_output * (x > 0),)", "return (grad_output * (x >= 0),)"),
            "test_relu_at_zero",
        ),
        Planted(
            "sigmoid",
            "applied again",
            P(
                ACT,
                "return (grad_output * s * (1.0 - s),)",
                "s2 = 1.0 / (1.0 + np.exp(-s))\n        return (grad_output * s2 * (1.0 - s2),)",
            ),
            "test_activations[sigmoid(3x5)]",
        ),
        Planted(
            "tanh",
            "1 - tanh (not squared)",
            P(ACT, "return (grad_output * (1.0 - t * t),)", "return (grad_output * (1.0 - t),)"),
            "test_activations[tanh(3x5)]",
        ),
        Planted(
            "log_softmax",
            "left out",
            P(SM, LOGSM, "return (grad_output - np.exp(out) * grad_output,)"),
            "test_log_softmax[3x5,axis=-1]",
        ),
        Planted(
            "ce",
            "1/N",
            P(SM, "return (grad * (grad_output / n),)", "return (grad * grad_output,)"),
            "test_cross_entropy[5x7]",
        ),
        Planted(
            "batchnorm", "mean term", P(BN, BN_X, BN_X.replace(" - grad_xhat.sum(axis=0)", "")), "test_batchnorm[5x3]"
        ),
        Planted(
            "sgd",
            "learning rate is inside",
            P(
                SGD,
                SGD_BUF + "\n            p.data -= self.lr * g",
                "g = self.buffers[i] = self.lr * g if buf is None else "
                "self.momentum * buf + self.lr * g\n"
                "                p.data -= g\n                continue\n"
                "            p.data -= self.lr * g",
            ),
            "test_sgd_changing_hyperparameters[momentum,lr_schedule]",
        ),
        Planted(
            "adam",
            "bias correction is left out",
            P(ADAM, ADAM_HAT, "            m_hat = self.m[i]\n            v_hat = self.v[i]\n"),
            "test_adam[default]",
        ),
    ),
    "B": (
        Planted(
            "sub",
            "signs are swapped",
            P(EW, SUB, "return unbroadcast(-grad_output, a_shape), unbroadcast(grad_output, b_shape)"),
            "test_sub[3x5-3x5]",
        ),
        Planted(
            "mul",
            "that input itself",
            P(EW, MUL, "return unbroadcast(grad_output * a, a.shape), unbroadcast(grad_output * b, b.shape)"),
            "test_mul[3x5*3x5]",
        ),
        Planted(
            "div",
            "the a of -a / b**2 is missing",
            P(EW, DIV, "return unbroadcast(grad_output / b, a.shape), unbroadcast(-grad_output / b, b.shape)"),
            "test_div[3x5/3x5]",
        ),
        Planted(
            "pow",
            "factor p is missing",
            P(EW, POW, "return (grad_output * a ** (self.exponent - 1),)"),
            "test_pow[3x5**2]",
        ),
        Planted(
            "log",
            "multiplied by log(a)",
            P(EW, "return (grad_output / a,)", "return (grad_output * np.log(a),)"),
            "test_log[log(3x5)]",
        ),
        Planted("mean", "not divided", P(RED, MEAN_COUNT, "count = 1"), "test_mean[mean(3x5,axis=0)]"),
        Planted(
            "matmul",
            "batch axes",
            P(
                MM,
                MM_GRAD_B,
                "grad_b = (np.swapaxes(a2, -1, -2) @ g) if b.ndim >= 2 "
                "else unbroadcast(np.swapaxes(a2, -1, -2) @ g, b2.shape)"
                ".reshape(b.shape)",
            ),
            "test_matmul[2x3x5@5x7]",
        ),
        Planted(
            "relu",
            "output instead of its 0/1 mask",
            P(ACT, "return (grad_output * (x > 0),)", "return (grad_output * np.maximum(x, 0.0),)"),
            "test_activations[relu(3x5)]",
        ),
        Planted(
            "sigmoid",
            "at the input x",
            P(
                ACT,
                "return (grad_output * s * (1.0 - s),)",
                "x = np.log(s / (1.0 - s))\n        return (grad_output * x * (1.0 - x),)",
            ),
            "test_activations[sigmoid(3x5)]",
        ),
        Planted(
            "tanh",
            "at the input x",
            P(ACT, "return (grad_output * (1.0 - t * t),)", "return (grad_output * (1.0 - np.arctanh(t) ** 2),)"),
            "test_activations[tanh(3x5)]",
        ),
        Planted(
            "log_softmax",
            "last axis",
            P(SM, LOGSM, LOGSM.replace("axis=self.axis", "axis=-1")),
            "test_log_softmax[3x5,axis=0]",
        ),
        Planted(
            "ce",
            "wrong way round",
            P(SM, "return (grad * (grad_output / n),)", "return (-grad * (grad_output / n),)"),
            "test_cross_entropy[5x7]",
        ),
        Planted(
            "batchnorm",
            "variance term",
            P(BN, BN_X, BN_X.replace(" - xhat * (grad_xhat * xhat).sum(axis=0)", "")),
            "test_batchnorm[5x3]",
        ),
        Planted(
            "sgd",
            "exponential average",
            P(
                SGD,
                SGD_BUF,
                "g = self.buffers[i] = (1 - self.momentum) * g if "
                "buf is None else self.momentum * buf + "
                "(1 - self.momentum) * g",
            ),
            "test_sgd[momentum]",
        ),
        Planted(
            "adam",
            "inside the square root",
            P(ADAM, ADAM_UPDATE, "p.data -= self.lr * m_hat / np.sqrt(v_hat + self.eps)"),
            "test_adam[eps]",
        ),
    ),
    "C": (
        Planted(
            "unbroadcast",
            "kept (keepdims)",
            P(UB, UB_RET, "return grad.sum(axis=axes, keepdims=True)"),
            "test_unbroadcast[4x1x5->1]",
        ),
        Planted(
            "log_softmax",
            "used as the softmax",
            P(SM, LOGSM, LOGSM.replace("np.exp(out)", "out")),
            "test_log_softmax[3x5,axis=-1]",
        ),
        Planted(
            "batchnorm", "only the direct path", P(BN, BN_X, "grad_x = grad_xhat * inv_std"), "test_batchnorm[5x3]"
        ),
        Planted(
            "sgd",
            "weight decay is added after",
            P(
                SGD,
                SGD_WD + "\n            if self.momentum != 0.0:\n"
                "                buf = self.buffers[i]\n                " + SGD_BUF,
                "g = p.grad\n            if self.momentum != 0.0:\n"
                "                buf = self.buffers[i]\n                "
                + SGD_BUF
                + "\n            if self.weight_decay != 0.0:\n"
                "                g = g + self.weight_decay * p.data",
            ),
            "test_sgd[momentum+wd]",
        ),
        Planted(
            "adam",
            "one step counter",
            P(
                ADAM,
                "        for i, p in enumerate(self.params):\n"
                "            if p.grad is None:\n                continue\n"
                "            self.t[i] += 1\n",
                "        self.t = [t + 1 for t in self.t]  # every parameter steps\n"
                "        for i, p in enumerate(self.params):\n"
                "            if p.grad is None:\n                continue\n",
            ),
            "test_adam[none_grad_skipped]",
        ),
        Planted(
            "matmul",
            "not promoted",
            P(
                MM,
                MM_START,
                "        a, b = self.saved\n"
                "        if a.ndim == 1 and b.ndim == 2:\n"
                "            return grad_output @ b.T, a.T @ grad_output\n"
                "        # as np.matmul",
            ),
            "test_matmul[5@5x5]",
        ),
        Planted("max", "every tied maximum", P(RED, MAX_RET, "return (mask * g,)"), "test_max_ties_any_axes["),
    ),
    "D": (
        Planted(
            "add",
            "not un-broadcast",
            P(
                EW,
                "return unbroadcast(grad_output, a_shape), unbroadcast(grad_output, b_shape)",
                "return grad_output, grad_output",
            ),
            "test_add[3x5+5]",
        ),
        Planted(
            "div",
            "wrong sign",
            P(EW, DIV, "return unbroadcast(grad_output / b, a.shape), unbroadcast(grad_output * a / (b * b), b.shape)"),
            "test_div[3x5/3x5]",
        ),
        Planted(
            "sub",
            "not negated",
            P(EW, SUB, "return unbroadcast(grad_output, a_shape), unbroadcast(grad_output, b_shape)"),
            "test_sub[3x5-3x5]",
        ),
        Planted(
            "batchnorm",
            "swapped",
            P(BN, BN_RET, "return grad_x, grad_output.sum(axis=0), (grad_output * xhat).sum(axis=0)"),
            "test_batchnorm[5x3]",
        ),
        Planted(
            "batchnorm",
            "leaves out the weight",
            P(BN, "grad_xhat = grad_output * weight", "grad_xhat = grad_output"),
            "test_batchnorm[3x7]",
        ),
    ),
}
KEEP = ("test_2", "test_3", "test_4", "test_5", "test_6", "test_7")
CASES = [
    pytest.param(name, bug, id=f"{name}-{bug.op}-{bug.when[:24]}") for name, bugs in HANDINS.items() for bug in bugs
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory):
    """grade(handin name) -> GradeOutcome, each handin graded once per module."""
    return cached_grader(ASSIGNMENT, HANDINS, lambda name: KEEP, tmp_path_factory, SLOT)


def _entry_hint(bug: Planted) -> str:
    """The catalogue text a message must contain to name this bug."""
    matches = [m for m in CATALOGUE[bug.op] if bug.when in m.when]
    assert len(matches) == 1, f"{bug.op}: {bug.when!r} names {len(matches)} catalogue entries"
    return "Hint: " + matches[0].hint


def _message(outcome: GradeOutcome, bug: Planted) -> str:
    failing = [t for t in outcome.tests if bug.test in t.nodeid and not t.passed]
    assert failing, f"{bug.op} ({bug.when}): no failing test matches {bug.test!r}"
    return "\n".join(t.message for t in failing)


def test_at_least_30_planted_across_all_op_tasks():
    bugs = [b for bugs in HANDINS.values() for b in bugs]
    assert len(bugs) >= 30
    for name, handin in HANDINS.items():
        files = [(p.file, p.old) for b in handin for p in b.patches]
        assert len(files) == len(set(files)), f"handin {name} patches one formula twice"


def test_at_least_80_percent_are_named(graded):
    """Every planted wrong formula is caught; >= 80% of the messages name it with the catalogue's text."""
    named, missed = 0, []
    for name, bugs in HANDINS.items():
        outcome = graded(name)
        assert not outcome.grader_failed and not outcome.internal_errors, outcome.internal_errors
        for bug in bugs:
            message = _message(outcome, bug)
            if _entry_hint(bug) in message:
                named += 1
            else:
                missed.append(f"{name}/{bug.op} ({bug.when}):\n{message}")
    total = sum(len(b) for b in HANDINS.values())
    assert named >= 0.8 * total, f"only {named} of {total} named; unnamed:\n\n" + "\n\n".join(missed)
