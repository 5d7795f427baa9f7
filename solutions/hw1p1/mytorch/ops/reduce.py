"""Reductions over axes: Sum, Mean, Max."""

from __future__ import annotations

import numpy as np

from ..autograd_engine import Function


def normalize_axis(axis: int | tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    """The reduced axes as sorted non-negative ints: None -> all axes, -1 -> ndim - 1."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimension(s)")
    return tuple(sorted(int(a) % ndim for a in axes))


class Sum(Function):
    """Sum over `axis` (None: all axes), optionally keeping reduced axes as size 1."""

    def forward(self, x: np.ndarray, *, axis: int | tuple[int, ...] | None, keepdims: bool) -> np.ndarray:
        """(*in_shape) -> in_shape without the reduced axes (or with them as 1 when keepdims)."""
        self.in_shape = x.shape
        self.axes = normalize_axis(axis, x.ndim)
        self.keepdims = keepdims
        return np.sum(x, axis=self.axes, keepdims=keepdims)

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray]:
        """Gradient of x.sum(axis, keepdims).

        Hint: section 6.2 of the writeup.

        Args:
            grad_output: the output's shape; reduced axes are missing unless self.keepdims.
        Returns:
            (grad_x,) of shape self.in_shape. The reduced axes are self.axes (sorted, non-negative).
        """
        # BEGIN SOLUTION Task 3.1: Sum.backward
        g = grad_output if self.keepdims else np.expand_dims(grad_output, self.axes)
        return (np.broadcast_to(g, self.in_shape),)
        # END SOLUTION


class Mean(Function):
    """Mean over `axis` (None: all axes), optionally keeping reduced axes as size 1."""

    def forward(self, x: np.ndarray, *, axis: int | tuple[int, ...] | None, keepdims: bool) -> np.ndarray:
        """(*in_shape) -> in_shape without the reduced axes (or with them as 1 when keepdims)."""
        self.in_shape = x.shape
        self.axes = normalize_axis(axis, x.ndim)
        self.keepdims = keepdims
        return np.mean(x, axis=self.axes, keepdims=keepdims)

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray]:
        """Gradient of x.mean(axis, keepdims).

        Hint: section 6.2 of the writeup (the same axis handling as Sum).

        Args:
            grad_output: the output's shape; reduced axes are missing unless self.keepdims.
        Returns:
            (grad_x,) of shape self.in_shape. The reduced axes are self.axes (sorted, non-negative).
        """
        # BEGIN SOLUTION Task 3.1: Mean.backward
        count = np.prod([self.in_shape[a] for a in self.axes])
        g = grad_output if self.keepdims else np.expand_dims(grad_output, self.axes)
        return (np.broadcast_to(g / count, self.in_shape),)
        # END SOLUTION


class Max(Function):
    """Maximum over `axis` (None: all axes); ties share the gradient equally (as torch.amax)."""

    def forward(self, x: np.ndarray, *, axis: int | tuple[int, ...] | None, keepdims: bool) -> np.ndarray:
        """(*in_shape) -> in_shape without the reduced axes (or with them as 1 when keepdims)."""
        self.axes = normalize_axis(axis, x.ndim)
        self.keepdims = keepdims
        out = np.max(x, axis=self.axes, keepdims=True)
        self.save_for_backward(x, out)  # out keeps the reduced axes, so it broadcasts against x
        return out if keepdims else np.squeeze(out, axis=self.axes)

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray]:
        """Gradient of x.max(axis, keepdims).

        Hint: section 6.3 of the writeup (tied maxima share the gradient equally).

        Args:
            grad_output: the output's shape; reduced axes are missing unless self.keepdims.
        Returns:
            (grad_x,) shaped like x. self.saved = (x, out); out keeps the reduced axes as size 1.
        """
        # BEGIN SOLUTION Task 3.2: Max.backward
        x, out = self.saved
        g = grad_output if self.keepdims else np.expand_dims(grad_output, self.axes)
        mask = x == out
        return (mask * (g / mask.sum(axis=self.axes, keepdims=True)),)
        # END SOLUTION
