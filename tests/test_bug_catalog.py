"""The hw1p1 suite catches every student bug of DESIGN section 5, in the right task, with a useful message.

Each bug is a string patch of the reference (tests/bugs/catalog.py). Bugs in different tasks share one
graded handin; each handin is graded once (module-scoped cache) against only the test files of the tasks
it touches. For every bug we assert: its task lost points, the named test failed, and that test's
message contains words that point at the likely cause.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bugs.catalog import Bug, Patch, fence_body, grade_patched

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.framework.grade import GradeOutcome

SLOT = 7  # this brief's sandbox slots are 7 and 8; other test files use other worker uids

ENGINE = "autograd_engine.py"
ACCUMULATE = "grads[id(parent)] = grads[id(parent)] + parent_grad if id(parent) in grads else parent_grad"
LEAF_COPY = "node.grad = np.array(g, dtype=np.float64)  # a copy: upstream arrays may be shared"
SEED = "np.ones_like(root.data) if grad is None else grad"


# The whole reference traversal, read from its fence; replaced by buggy ones below.
TOPO_BODY = fence_body(ASSIGNMENT, ENGINE, "# BEGIN SOLUTION Task 1.1")

# Pre-order DFS: a node is emitted on its first visit, possibly before another consumer of it.
PREORDER_TOPO = """    order: list[Tensor] = []
    visited: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        order.append(node)
        if node.grad_fn is not None:
            stack.extend(p for p in node.grad_fn.inputs if p.requires_grad)
    return order
"""
# Textbook recursive DFS (correct order, but recursion depth = graph depth).
RECURSIVE_TOPO = """    order: list[Tensor] = []
    visited: set[int] = set()

    def visit(node):
        if id(node) in visited:
            return
        visited.add(id(node))
        if node.grad_fn is not None:
            for p in node.grad_fn.inputs:
                if p.requires_grad:
                    visit(p)
        order.append(node)

    visit(root)
    return order[::-1]
"""
BACKWARD_BODY_START = "    grads: dict[int, np.ndarray] = {id(root): "
# Path-wise recursion: every path pushes its own partial gradient (right values, exponential time).
PATHWISE_BACKWARD = """    def push(node, g):
        if node.grad_fn is None:
            node.grad = np.array(g, dtype=np.float64) if node.grad is None else node.grad + g
            return
        for parent, parent_grad in zip(node.grad_fn.inputs, node.grad_fn.backward(g)):
            if parent_grad is not None and parent.requires_grad:
                push(parent, parent_grad)

    push(root, np.ones_like(root.data) if grad is None else grad)
    return
"""


def engine(*patches: tuple[str, str]) -> tuple[Patch, ...]:
    """Patches of autograd_engine.py."""
    return tuple(Patch(ENGINE, old, new) for old, new in patches)


# handin name -> (test files kept, bugs). Bugs sharing a handin touch different tasks.
HANDINS: dict[str, tuple[tuple[str, ...], tuple[Bug, ...]]] = {
    "assign": (("test_1", "test_extra_engine"), (
        Bug(1, "= instead of += when a tensor is used twice",
            engine((ACCUMULATE, "grads[id(parent)] = parent_grad")),
            "1.2", "test_backward[", ("x.grad",)),)),
    # Path-wise backward never calls topological_sort, and 1.1's tests call the sort directly: one handin.
    "pathwise+preorder": (("test_1", "test_extra_engine"), (
        Bug(2, "path-wise recursion pushes a partial gradient on every visit",
            engine((BACKWARD_BODY_START, PATHWISE_BACKWARD + BACKWARD_BODY_START)),
            "1.2", "test_backward_diamond_chain", ("visited", "once")),
        Bug(3, "pre-order traversal: a node is processed before all its consumers",
            engine((TOPO_BODY, PREORDER_TOPO)),
            "1.1", "test_topological_sort[", ("before",)),
    )),
    # A recursive sort is right on the small graph of the aliasing test: one handin.
    "alias+recursive": (("test_1", "test_extra_engine"), (
        Bug(10, "the upstream array stored as .grad (aliasing)",
            engine((LEAF_COPY, "node.grad = g")),
            "1.2", "test_grads_not_aliased", ("copy",)),
        Bug(13, "recursive DFS: RecursionError on a deep graph",
            engine((TOPO_BODY, RECURSIVE_TOPO)),
            "1.1", "test_topological_sort_deep_chain", ("recursi",)),
    )),
    "intermediate_grad": (("test_1", "test_extra_engine"), (
        Bug(8, "gradients kept on intermediate tensors",
            engine(("        if node.grad_fn is None:\n            if node.grad is None:",
                    "        if node.grad_fn is not None:\n            node.grad = np.array(g)\n"
                    "        if node.grad_fn is None:\n            if node.grad is None:")),
            "1.2", "test_grads_are_plain_arrays", ("intermediate", "no .grad")),)),
    "grad_tensor": (("test_1", "test_extra_engine"), (
        Bug(9, "gradients stored as Tensors that carry graph history",
            engine((LEAF_COPY, "from .tensor import Tensor\n                node.grad = Tensor(g)")),
            "1.2", "test_grads_are_plain_arrays", ("plain numpy array", "graph history")),)),
    "scalar_seed": (("test_1", "test_extra_engine"), (
        Bug(11, "backward seeded with the scalar 1 instead of ones shaped like the output",
            engine((SEED, "1.0 if grad is None else grad")),
            "1.2", "test_backward_seed_has_the_output_shape", ("shape", "ones_like")),)),
    "float32": (("test_1", "test_extra_engine"), (
        Bug(14, "gradients accumulated in float32",
            engine((LEAF_COPY, "node.grad = np.array(g, dtype=np.float32)")),
            "1.2", "test_grads_are_plain_arrays", ("float32", "float64")),)),
    # Op bugs: each in its own task, graded together.
    "ops": (("test_2", "test_3", "test_4", "test_5"), (
        Bug(4, "no un-broadcast in Add.backward",
            (Patch("ops/elementwise.py", "return unbroadcast(grad_output, a_shape), unbroadcast(grad_output, b_shape)",
                   "return grad_output, grad_output"),),
            "2.2", "test_add[", ("shape",)),
        Bug(7, "Div.backward missing the -a/b^2 term (uses -1/b)",
            (Patch("ops/elementwise.py", "unbroadcast(-grad_output * a / (b * b), b.shape)",
                   "unbroadcast(-grad_output / b, b.shape)"),),
            "2.3", "test_div[", ("b.grad",)),
        Bug(15, "vacuous stub: Exp.backward returns zeros (caught unless inputs make exp tiny)",
            (Patch("ops/elementwise.py", "return (grad_output * out,)", "return (np.zeros_like(grad_output),)"),),
            "2.4", "test_exp[", ("all zeros",)),
        Bug(5, "Sum.backward ignoring axis/keepdims",
            (Patch("ops/reduce.py",
                   "        g = grad_output if self.keepdims else np.expand_dims(grad_output, self.axes)\n"
                   "        return (np.broadcast_to(g, self.in_shape),)",
                   "        return (np.broadcast_to(grad_output, self.in_shape),)"),),
            "3.1", "test_sum[", ("broadcast", "reduce.py")),
        Bug(6, "MatMul.backward with the transpose on the wrong operand",
            (Patch("ops/matmul.py", "g @ np.swapaxes(b2, -1, -2)", "g @ b2"),),
            "4.1", "test_matmul[", ("matmul", "matmul.py")),
        Bug(15, "batch size 1 only: CrossEntropy.backward forgets the 1/N",
            (Patch("ops/softmax.py", "return (grad * (grad_output / n),)", "return (grad * grad_output,)"),),
            "5.3", "test_cross_entropy[", ("times the expected value",)),
    )),
    "ops2": (("test_2", "test_5"), (
        Bug(4, "unbroadcast keeps the summed axes: (1, 1) for (1,)",
            (Patch("ops/broadcast.py", "return grad.sum(axis=axes).reshape(shape)",
                   "return grad.sum(axis=tuple(i for i in axes if i >= extra), keepdims=True)"),),
            "2.1", "test_unbroadcast[", ("shape",)),
        Bug(7, "Sub.backward: the two gradients' signs swapped",
            (Patch("ops/elementwise.py", "return unbroadcast(grad_output, a_shape), unbroadcast(-grad_output, b_shape)",
                   "return unbroadcast(-grad_output, a_shape), unbroadcast(grad_output, b_shape)"),),
            "2.2", "test_sub[", ("sign",)),
        Bug(14, "Tanh.backward computed in float32",
            (Patch("ops/activation.py", "return (grad_output * (1.0 - t * t),)",
                   "return ((grad_output * (1.0 - t * t)).astype(np.float32),)"),),
            "5.1", "test_activations[", ("float",)),
    )),
    "train": (("test_8",), (
        Bug(12, "train_step never zeroes the gradients",
            (Patch("train.py", "    optimizer.zero_grad()\n    loss = loss_fn", "    loss = loss_fn"),),
            "8", "test_train_step[", ("zero them",)),)),
}

CASES = [pytest.param(name, bug, id=f"bug{bug.number}-{name}-{bug.task}")
         for name, (_, bugs) in HANDINS.items() for bug in bugs]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory):
    """grade(handin name) -> GradeOutcome, each handin graded once per module."""
    cache: dict[str, GradeOutcome] = {}

    def grade(name: str) -> GradeOutcome:
        if name not in cache:
            keep, bugs = HANDINS[name]
            patches = tuple(p for bug in bugs for p in bug.patches)
            cache[name] = grade_patched(ASSIGNMENT, patches, keep, tmp_path_factory.mktemp(name), SLOT)
        return cache[name]

    return grade


def test_every_design_bug_is_in_the_catalog():
    assert {bug.number for _, bugs in HANDINS.values() for bug in bugs} == set(range(1, 16))


def test_bugs_sharing_a_handin_touch_different_tasks():
    for name, (_, bugs) in HANDINS.items():
        tasks = [bug.task for bug in bugs]
        assert len(tasks) == len(set(tasks)), f"{name}: two bugs in one task cannot be told apart"


@pytest.mark.parametrize("name, bug", CASES)
def test_bug_is_caught_in_its_task_with_a_hint(graded, name: str, bug: Bug):
    outcome = graded(name)
    # a student bug must be reported as the student's, never as an internal grader error
    assert not outcome.grader_failed and not outcome.internal_errors, outcome.internal_errors
    assert outcome.tasks[bug.task] < ASSIGNMENT.task(bug.task).points, \
        f"bug {bug.number} ({bug.name}) did not cost points in task {bug.task}"
    failing = [t for t in outcome.tests if bug.test in t.nodeid and not t.passed]
    assert failing, f"bug {bug.number} ({bug.name}): no failing test matches {bug.test!r}"
    messages = "\n".join(t.message for t in failing)
    missing = [h for h in bug.hints if h.lower() not in messages.lower()]
    assert not missing, f"bug {bug.number}: feedback lacks {missing}:\n{messages}"


def test_reference_itself_passes_the_kept_tests(tmp_path: Path):
    """Sanity for the method: the unpatched reference scores full marks on a restricted suite."""
    outcome = grade_patched(ASSIGNMENT, (), ("test_1", "test_extra_engine"), tmp_path, SLOT)
    assert not outcome.grader_failed
    assert outcome.tasks["1.1"] == 8 and outcome.tasks["1.2"] == 8
    assert all(t.passed for t in outcome.tests)
