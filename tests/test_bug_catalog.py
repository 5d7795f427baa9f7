"""The hw1p1 suite catches every student bug of DESIGN section 5, in the right task, with a useful message.

Each bug is a `tools.planted.Bug`: string patches of the reference (helpers in tests/bugs/catalog.py, the
same representation as the sample handin's planted bugs). Bugs in different tasks share one
graded handin; each handin is graded once (module-scoped cache) against only the test files of the tasks
it touches. For every bug we assert: its task lost points, the named test failed, and that test's
message contains words that point at the likely cause.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from bugs.catalog import cached_grader, fence_body, grade_patched
from tools.planted import Bug, Patch

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
    "assign": (
        ("test_1", "test_extra_engine"),
        (
            Bug(
                task="1.2",
                number=1,
                why="= instead of += when a tensor is used twice",
                patches=engine((ACCUMULATE, "grads[id(parent)] = parent_grad")),
                test="test_backward[",
                hints=("x.grad",),
            ),
        ),
    ),
    # Path-wise backward never calls topological_sort, and 1.1's tests call the sort directly: one handin.
    "pathwise+preorder": (
        ("test_1", "test_extra_engine"),
        (
            Bug(
                task="1.2",
                number=2,
                why="path-wise recursion pushes a partial gradient on every visit",
                patches=engine((BACKWARD_BODY_START, PATHWISE_BACKWARD + BACKWARD_BODY_START)),
                test="test_backward_diamond_chain",
                hints=("visited", "once"),
            ),
            Bug(
                task="1.1",
                number=3,
                why="pre-order traversal: a node is processed before all its consumers",
                patches=engine((TOPO_BODY, PREORDER_TOPO)),
                test="test_topological_sort[",
                hints=("before",),
            ),
        ),
    ),
    # A recursive sort is right on the small graph of the aliasing test: one handin.
    "alias+recursive": (
        ("test_1", "test_extra_engine"),
        (
            Bug(
                task="1.2",
                number=10,
                why="the upstream array stored as .grad (aliasing)",
                patches=engine((LEAF_COPY, "node.grad = g")),
                test="test_grads_not_aliased",
                hints=("copy",),
            ),
            Bug(
                task="1.1",
                number=13,
                why="recursive DFS: RecursionError on a deep graph",
                patches=engine((TOPO_BODY, RECURSIVE_TOPO)),
                test="test_topological_sort_deep_chain",
                hints=("recursi",),
            ),
        ),
    ),
    "intermediate_grad": (
        ("test_1", "test_extra_engine"),
        (
            Bug(
                task="1.2",
                number=8,
                why="gradients kept on intermediate tensors",
                patches=engine(
                    (
                        "        if node.grad_fn is None:\n            if node.grad is None:",
                        "        if node.grad_fn is not None:\n            node.grad = np.array(g)\n"
                        "        if node.grad_fn is None:\n            if node.grad is None:",
                    )
                ),
                test="test_grads_are_plain_arrays",
                hints=("intermediate", "no .grad"),
            ),
        ),
    ),
    "grad_tensor": (
        ("test_1", "test_extra_engine"),
        (
            Bug(
                task="1.2",
                number=9,
                why="gradients stored as Tensors that carry graph history",
                patches=engine((LEAF_COPY, "from .tensor import Tensor\n                node.grad = Tensor(g)")),
                test="test_grads_are_plain_arrays",
                hints=("plain numpy array", "graph history"),
            ),
        ),
    ),
    "scalar_seed": (
        ("test_1", "test_extra_engine"),
        (
            Bug(
                task="1.2",
                number=11,
                why="backward seeded with the scalar 1 instead of ones shaped like the output",
                patches=engine((SEED, "1.0 if grad is None else grad")),
                test="test_backward_seed_has_the_output_shape",
                hints=("shape", "ones_like"),
            ),
        ),
    ),
    "float32": (
        ("test_1", "test_extra_engine"),
        (
            Bug(
                task="1.2",
                number=14,
                why="gradients accumulated in float32",
                patches=engine((LEAF_COPY, "node.grad = np.array(g, dtype=np.float32)")),
                test="test_grads_are_plain_arrays",
                hints=("float32", "float64"),
            ),
        ),
    ),
    # Op bugs: each in its own task, graded together.
    "ops": (
        ("test_2", "test_3", "test_4", "test_5"),
        (
            Bug(
                task="2.2",
                number=4,
                why="no un-broadcast in Add.backward",
                patches=(
                    Patch(
                        "ops/elementwise.py",
                        "return unbroadcast(grad_output, a_shape), unbroadcast(grad_output, b_shape)",
                        "return grad_output, grad_output",
                    ),
                ),
                test="test_add[",
                hints=("shape",),
            ),
            Bug(
                task="2.3",
                number=7,
                why="Div.backward missing the -a/b^2 term (uses -1/b)",
                patches=(
                    Patch(
                        "ops/elementwise.py",
                        "unbroadcast(-grad_output * a / (b * b), b.shape)",
                        "unbroadcast(-grad_output / b, b.shape)",
                    ),
                ),
                test="test_div[",
                hints=("b.grad",),
            ),
            Bug(
                task="2.4",
                number=15,
                why="vacuous stub: Exp.backward returns zeros (caught unless inputs make exp tiny)",
                patches=(
                    Patch("ops/elementwise.py", "return (grad_output * out,)", "return (np.zeros_like(grad_output),)"),
                ),
                test="test_exp[",
                hints=("all zeros",),
            ),
            Bug(
                task="3.1",
                number=5,
                why="Sum.backward ignoring axis/keepdims",
                patches=(
                    Patch(
                        "ops/reduce.py",
                        "        g = grad_output if self.keepdims else np.expand_dims(grad_output, self.axes)\n"
                        "        return (np.broadcast_to(g, self.in_shape),)",
                        "        return (np.broadcast_to(grad_output, self.in_shape),)",
                    ),
                ),
                test="test_sum[",
                hints=("broadcast", "reduce.py"),
            ),
            Bug(
                task="4.1",
                number=6,
                why="MatMul.backward with the transpose on the wrong operand",
                patches=(Patch("ops/matmul.py", "g @ np.swapaxes(b2, -1, -2)", "g @ b2"),),
                test="test_matmul[",
                hints=("matmul", "matmul.py"),
            ),
            Bug(
                task="5.3",
                number=15,
                why="batch size 1 only: CrossEntropy.backward forgets the 1/N",
                patches=(
                    Patch("ops/softmax.py", "return (grad * (grad_output / n),)", "return (grad * grad_output,)"),
                ),
                test="test_cross_entropy[",
                hints=("times the expected value",),
            ),
        ),
    ),
    "ops2": (
        ("test_2", "test_5"),
        (
            Bug(
                task="2.1",
                number=4,
                why="unbroadcast keeps the summed axes: (1, 1) for (1,)",
                patches=(
                    Patch(
                        "ops/broadcast.py",
                        "return grad.sum(axis=axes).reshape(shape)",
                        "return grad.sum(axis=tuple(i for i in axes if i >= extra), keepdims=True)",
                    ),
                ),
                test="test_unbroadcast[",
                hints=("shape",),
            ),
            Bug(
                task="2.2",
                number=7,
                why="Sub.backward: the two gradients' signs swapped",
                patches=(
                    Patch(
                        "ops/elementwise.py",
                        "return unbroadcast(grad_output, a_shape), unbroadcast(-grad_output, b_shape)",
                        "return unbroadcast(-grad_output, a_shape), unbroadcast(grad_output, b_shape)",
                    ),
                ),
                test="test_sub[",
                hints=("sign",),
            ),
            Bug(
                task="5.1",
                number=14,
                why="Tanh.backward computed in float32",
                patches=(
                    Patch(
                        "ops/activation.py",
                        "return (grad_output * (1.0 - t * t),)",
                        "return ((grad_output * (1.0 - t * t)).astype(np.float32),)",
                    ),
                ),
                test="test_activations[",
                hints=("float",),
            ),
        ),
    ),
    "train": (
        ("test_8",),
        (
            Bug(
                task="8",
                number=12,
                why="train_step never zeroes the gradients",
                patches=(Patch("train.py", "    optimizer.zero_grad()\n    loss = loss_fn", "    loss = loss_fn"),),
                test="test_train_step[",
                hints=("zero them",),
            ),
        ),
    ),
}

CASES = [
    pytest.param(name, bug, id=f"bug{bug.number}-{name}-{bug.task}")
    for name, (_, bugs) in HANDINS.items()
    for bug in bugs
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory):
    """grade(handin name) -> GradeOutcome, each handin graded once per module."""
    bugs = {name: handin_bugs for name, (_, handin_bugs) in HANDINS.items()}
    return cached_grader(ASSIGNMENT, bugs, lambda name: HANDINS[name][0], tmp_path_factory, SLOT)


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
    assert outcome.tasks[bug.task] < ASSIGNMENT.task(bug.task).points, (
        f"bug {bug.number} ({bug.why}) did not cost points in task {bug.task}"
    )
    failing = [t for t in outcome.tests if bug.test in t.nodeid and not t.passed]
    assert failing, f"bug {bug.number} ({bug.why}): no failing test matches {bug.test!r}"
    messages = "\n".join(t.message for t in failing)
    missing = [h for h in bug.hints if h.lower() not in messages.lower()]
    assert not missing, f"bug {bug.number}: feedback lacks {missing}:\n{messages}"


def test_reference_itself_passes_the_kept_tests(tmp_path: Path):
    """Sanity for the method: the unpatched reference scores full marks on a restricted suite."""
    outcome = grade_patched(ASSIGNMENT, (), ("test_1", "test_extra_engine"), tmp_path, SLOT)
    assert not outcome.grader_failed
    assert outcome.tasks["1.1"] == 8 and outcome.tasks["1.2"] == 8
    assert all(t.passed for t in outcome.tests)
