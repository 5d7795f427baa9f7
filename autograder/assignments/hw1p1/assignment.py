"""hw1p1's tasks and points (100 in all); the rubric tables in the READMEs are generated from here."""

from __future__ import annotations

from pathlib import Path

from autograder.framework.rubric import Assignment, Task

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]

TASKS = (
    Task("1.1", "topological_sort: depth-first search of the graph", 8),
    Task("1.2", "backward: each node once, accumulate into leaves", 8),
    Task("2.1", "unbroadcast: reduce a gradient to an input's shape", 4),
    Task("2.2", "Add, Sub and Neg backward", 4),
    Task("2.3", "Mul and Div backward", 5),
    Task("2.4", "Pow (scalar exponent), Exp and Log backward", 5),
    Task("3.1", "Sum and Mean backward (axis, keepdims)", 5),
    Task("3.2", "Max backward", 4),
    Task("3.3", "Reshape and Transpose backward", 4),
    Task("3.4", "Indexing backward (repeated indices accumulate)", 4),
    Task("4.1", "MatMul backward (1-D, batched) and Linear", 8),
    Task("5.1", "ReLU, Sigmoid and Tanh backward", 6),
    Task("5.2", "log_softmax backward", 5),
    Task("5.3", "MSELoss and the fused CrossEntropyLoss backward", 5),
    Task("6.1", "BatchNorm1d: the fused backward", 8),
    Task("7.1", "SGD step (momentum, weight decay)", 5),
    Task("7.2", "Adam step", 6),
    Task("8", "Train an MLP on handwritten digits", 6),
)

# (exception type, pattern in its message, the likely cause): the mistakes students make most often in
# this homework, matched on what numpy and Python say about them, before the framework's generic ones.
LIKELY_CAUSES: tuple[tuple[str, str, str], ...] = (
    (
        "ValueError",
        r"could not be broadcast|broadcast input array|non-broadcastable output operand",
        "a gradient does not have its input's shape: un-broadcast it (sum over the added and size-1 axes), "
        "or put back the axes a reduction removed (keepdims / np.expand_dims).",
    ),
    (
        "ValueError",
        r"matmul: Input operand|shapes .* not aligned|mismatch in its core dimension",
        "matrix shapes do not line up: check which operand needs a transpose (swapaxes(-1, -2) for batches).",
    ),
    (
        "RecursionError",
        r"",
        "a recursive traversal went deeper than Python allows (about 1,000 nested calls; the tests' graphs "
        "are deeper): walk the graph with a loop and an explicit stack.",
    ),
    (
        "TypeError",
        r"NoneType",
        "something is None where an array belongs: a backward that forgot to `return`, or a .grad that was "
        "never set (seed the root's gradient; accumulate into leaves).",
    ),
    (
        "TypeError",
        r"cannot unpack|not iterable|object is not subscriptable",
        "backward must return a tuple with one gradient per input, e.g. `return (grad_a, grad_b)` or `(grad,)`.",
    ),
    (
        "ValueError",
        r"too many values to unpack|not enough values to unpack",
        "backward must return exactly one gradient per input of the op (a tuple).",
    ),
    (
        "AttributeError",
        r"'numpy\.ndarray' object has no attribute '(data|grad|backward|grad_fn)'",
        "a numpy array is used as a Tensor: inside backward everything is a plain ndarray (grad_output too).",
    ),
    (
        "AttributeError",
        r"'Tensor' object has no attribute",
        "a Tensor is used as a numpy array: use `.data` for its values inside backward.",
    ),
    ("IndexError", r"tuple index out of range", "backward returned fewer gradients than the op has inputs."),
    ("ZeroDivisionError", r"", "a division by zero: is a count (N) zero, or an axis size computed wrongly?"),
)

ASSIGNMENT = Assignment(
    name="hw1p1",
    package="mytorch",
    tasks=TASKS,
    reference_root=REPO_ROOT / "solutions" / "hw1p1",
    tests_dir=HERE / "tests",
    scenarios_file=HERE / "scenarios.py",
    data_files=(HERE / "data" / "digits.npz",),
    likely_causes=LIKELY_CAUSES,
)
