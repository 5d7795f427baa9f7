"""No false fails: correct implementations that differ from the reference still get full marks.

One handin carries several alternatives, each in a different task (Kahn's algorithm for the
topological sort, a loop-based un-broadcast, log_softmax backward through the full Jacobian, BatchNorm
backward by the unfused chain rule, Max backward with an explicit tie count, GetItem backward with a
Python loop). Graded once against the whole suite; every task must score its full points.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from bugs import catalog
from bugs.catalog import Patch, apply_patches, grade_patched

SLOT = 8  # this brief's sandbox slots are 7 and 8

KAHN_TOPO = """    # Kahn's algorithm: count each tensor's consumers, emit a tensor once all of them are emitted.
    consumers: dict[int, int] = {}
    seen = {id(root)}
    todo = [root]
    while todo:
        node = todo.pop()
        if node.grad_fn is None:
            continue
        for p in node.grad_fn.inputs:
            if not p.requires_grad:
                continue
            consumers[id(p)] = consumers.get(id(p), 0) + 1
            if id(p) not in seen:
                seen.add(id(p))
                todo.append(p)
    order: list[Tensor] = []
    ready = [root]
    while ready:
        node = ready.pop(0)
        order.append(node)
        if node.grad_fn is None:
            continue
        for p in node.grad_fn.inputs:
            if not p.requires_grad:
                continue
            consumers[id(p)] -= 1
            if consumers[id(p)] == 0:
                ready.append(p)
    return order
"""

LOOP_UNBROADCAST = """    while grad.ndim > len(shape):  # leading axes numpy added
        grad = grad.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad
"""

JACOBIAN_LOG_SOFTMAX = """        (out,) = self.saved
        s = np.moveaxis(np.exp(out), self.axis, -1)
        g = np.moveaxis(grad_output, self.axis, -1)
        eye = np.eye(s.shape[-1])
        jac = eye - s[..., None, :]  # jac[..., i, j] = d out_i / d x_j = delta_ij - s_j
        grad = np.einsum("...i,...ij->...j", g, jac)
        return (np.moveaxis(grad, -1, self.axis),)
"""

UNFUSED_BATCHNORM = """        xhat, inv_std, weight = self.saved
        n = grad_output.shape[0]
        centered = xhat / inv_std  # x - mean
        grad_xhat = grad_output * weight
        grad_var = (grad_xhat * centered).sum(axis=0) * -0.5 * inv_std ** 3
        grad_mean = -(grad_xhat * inv_std).sum(axis=0) + grad_var * (-2.0 * centered).mean(axis=0)
        grad_x = grad_xhat * inv_std + grad_var * 2.0 * centered / n + grad_mean / n
        return grad_x, (grad_output * xhat).sum(axis=0), grad_output.sum(axis=0)
"""

TIE_COUNT_MAX = """        x, out = self.saved
        g = grad_output if self.keepdims else np.expand_dims(grad_output, self.axes)
        mask = (x == out).astype(np.float64)
        ties = np.sum(mask, axis=self.axes, keepdims=True)
        return (mask / ties * g,)
"""

LOOP_GETITEM = """        grad = np.zeros(self.in_shape)
        flat = np.arange(grad.size).reshape(self.in_shape)[self.index]
        for position, value in zip(np.ravel(flat), np.ravel(np.broadcast_to(grad_output, np.shape(flat)))):
            grad.flat[position] += value
        return (grad,)
"""


def replace_fence(path: str, begin: str, new: str) -> Patch:
    """A patch that swaps the whole body of one of hw1p1's solution fences."""
    return catalog.replace_fence(ASSIGNMENT, path, begin, new)


ALTERNATIVES = (
    replace_fence("autograd_engine.py", "# BEGIN SOLUTION Task 1.1", KAHN_TOPO),
    replace_fence("ops/broadcast.py", "# BEGIN SOLUTION Task 2.1", LOOP_UNBROADCAST),
    replace_fence("ops/softmax.py", "# BEGIN SOLUTION Task 5.2", JACOBIAN_LOG_SOFTMAX),
    replace_fence("nn/batchnorm.py", "# BEGIN SOLUTION Task 6.1", UNFUSED_BATCHNORM),
    replace_fence("ops/reduce.py", "# BEGIN SOLUTION Task 3.2", TIE_COUNT_MAX),
    replace_fence("ops/shape.py", "# BEGIN SOLUTION Task 3.4", LOOP_GETITEM),
)


def test_alternatives_really_differ_from_the_reference(tmp_path: Path):
    """Each patch applies once and changes the code (else the full-marks test would prove nothing)."""
    pkg = tmp_path / ASSIGNMENT.package
    shutil.copytree(ASSIGNMENT.reference_root / ASSIGNMENT.package, pkg)
    apply_patches(pkg, ALTERNATIVES)
    for patch in ALTERNATIVES:
        assert patch.old.strip() and patch.old != patch.new
        assert patch.new in (pkg / patch.file).read_text()


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory):
    """The alternatives handin graded once against every test file."""
    return grade_patched(ASSIGNMENT, ALTERNATIVES, None, tmp_path_factory.mktemp("alternatives"), SLOT)


def test_alternative_implementations_get_full_marks(outcome):
    assert not outcome.grader_failed and not outcome.internal_errors, outcome.internal_errors
    failed = [f"{t.nodeid}: {t.message}" for t in outcome.tests if not t.passed]
    assert not failed, "correct alternatives lost points:\n" + "\n\n".join(failed)
    assert outcome.score == outcome.max_score == ASSIGNMENT.max_score
