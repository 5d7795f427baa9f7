"""The autograd engine: graph nodes (Function), grad mode, topological sort and backward.

A graph is made of Tensors. A Tensor computed by an op has `grad_fn`, the Function instance that made
it; `grad_fn.inputs` are the Tensors it was computed from. Leaves (tensors you create) have no
grad_fn. Only tensors that require grad take part in the graph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # only for type hints: tensor.py imports this module, not the other way round
    from .tensor import Tensor

_grad_enabled = True


def is_grad_enabled() -> bool:
    """True unless inside a `no_grad()` block."""
    return _grad_enabled


class no_grad:
    """Context manager: no graph is recorded inside `with no_grad():` (results do not require grad)."""

    def __enter__(self) -> no_grad:
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = False
        return self

    def __exit__(self, *exc_info: object) -> None:
        global _grad_enabled
        _grad_enabled = self._previous


class Function:
    """One op in the graph. Subclasses define `forward` and `backward` on plain numpy arrays.

    Attributes:
        inputs: the parent Tensors, in the order given to `apply`.
        needs_input_grad: one bool per input; `backward` may return None where it is False.
        saved: the arrays stored with `save_for_backward` during forward.
    """

    def __init__(self) -> None:
        self.inputs: tuple[Tensor, ...] = ()
        self.needs_input_grad: tuple[bool, ...] = ()
        self.saved: tuple[np.ndarray, ...] = ()

    def save_for_backward(self, *arrays: np.ndarray) -> None:
        """Keep arrays that backward needs (read them back as `self.saved`)."""
        self.saved = arrays

    def forward(self, *arrays: np.ndarray, **kwargs: Any) -> np.ndarray:
        """Compute the output array from the input arrays."""
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray | None, ...]:
        """Given dL/d(output), return dL/d(input) for each input, each shaped like its input."""
        raise NotImplementedError(f"{type(self).__name__}.backward")

    @classmethod
    def apply(cls, *inputs: Any, **kwargs: Any) -> Tensor:
        """Run forward on the inputs' data and, when grad is needed, record the node in the graph."""
        from .tensor import Tensor  # imported here: tensor.py imports this module at load time

        tensors = tuple(x if isinstance(x, Tensor) else Tensor(x) for x in inputs)
        fn = cls()
        data = fn.forward(*(t.data for t in tensors), **kwargs)
        if not (_grad_enabled and any(t.requires_grad for t in tensors)):
            return Tensor._from_op(data, None)  # no graph: the node is dropped with its saved arrays
        fn.inputs = tensors
        fn.needs_input_grad = tuple(t.requires_grad for t in tensors)
        return Tensor._from_op(data, fn)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def topological_sort(root: Tensor) -> list[Tensor]:
    """Every tensor that requires grad and that root was computed from, each once, root first.

    Each tensor comes before all the tensors it was computed from (its `grad_fn.inputs`). Tensors
    with `requires_grad=False` are not part of the graph and are left out.
    Hint: section 3.5 of the writeup (an explicit stack, no recursion; when to mark a node visited).

    Args:
        root: the tensor backward starts from (usually the loss).
    Returns:
        A list of Tensors, root first, leaves towards the end.
    """
    raise NotImplementedError("Task 1.1: topological_sort")


def backward(root: Tensor, grad: np.ndarray | None = None) -> None:
    """Backpropagate from root: accumulate dL/d(leaf) into `.grad` of every leaf that requires grad.

    Each node's `grad_fn.backward` runs exactly once, with the total its consumers sent it.
    Intermediate tensors keep no `.grad`; a leaf's `.grad` is its own array, never an alias.
    Hint: sections 3.2 and 3.6 of the writeup.

    Args:
        root: the tensor to differentiate; requires grad.
        grad: dL/d(root), shaped like root; None means ones (Tensor.backward allows it only when
            root has one element).
    """
    raise NotImplementedError("Task 1.2: backward")
