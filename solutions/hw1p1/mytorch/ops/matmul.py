"""Matrix product a @ b with numpy's rules for 1-D and batched operands."""

from __future__ import annotations

import numpy as np

from ..autograd_engine import Function
from .broadcast import unbroadcast


def matmul_like(x: np.ndarray, y: np.ndarray, like: np.ndarray) -> np.ndarray:
    """x @ y with the same values as `x @ y`, laid out in memory like `like` when `like` is a transposed
    (column-major) matrix. PyTorch's mm backward does the same: the gradient of Linear's `W.T` then
    comes back row-major after Transpose.backward, so storing and updating it costs no strided copy.
    """
    if like.ndim >= 2 and not like.flags.c_contiguous and np.swapaxes(like, -1, -2).flags.c_contiguous:
        return np.swapaxes(np.swapaxes(y, -1, -2) @ np.swapaxes(x, -1, -2), -1, -2)
    return x @ y


class MatMul(Function):
    """a @ b as np.matmul: a 1-D a is a row (k,) -> (1, k), a 1-D b is a column (k,) -> (k, 1), and the
    added axis is removed from the result; leading (batch) axes broadcast."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(..., n, k) @ (..., k, m) -> (..., n, m); 1-D operands as np.matmul."""
        self.save_for_backward(a, b)
        return a @ b

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Gradients of a @ b for both inputs: 2-D, batched and 1-D operands, as np.matmul treats them.

        Hint: section 6.6 of the writeup; the shapes tell you where the transposes go. Optional:
        `matmul_like(x, y, like)` equals `x @ y`, only with a faster memory layout.

        Args:
            grad_output: the output's shape, e.g. (n, m), (..., n, m), (m,) when a is 1-D, () when
                both are.
        Returns:
            (grad_a, grad_b) shaped like a and b (None where needs_input_grad is False is allowed).
            self.saved = (a, b), the operands as given.
        """
        # BEGIN SOLUTION Task 4.1: MatMul.backward
        a, b = self.saved
        # as np.matmul: a 1-D a is a row (1, k), a 1-D b a column (k, 1); g gets the dropped axes back
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g = grad_output[..., None] if b.ndim == 1 else grad_output
        g = g[..., None, :] if a.ndim == 1 else g
        grad_a = grad_b = None
        if self.needs_input_grad[0]:
            grad_a = unbroadcast(g @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            grad_b = unbroadcast(matmul_like(np.swapaxes(a2, -1, -2), g, b2), b2.shape).reshape(b.shape)
        return grad_a, grad_b
        # END SOLUTION
