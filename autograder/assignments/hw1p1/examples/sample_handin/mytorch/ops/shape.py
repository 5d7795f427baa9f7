"""Ops that move elements around without arithmetic: Reshape, Transpose, GetItem (indexing)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd_engine import Function


class Reshape(Function):
    """The same elements in a new shape (keyword `shape`, may hold one -1)."""

    def forward(self, x: np.ndarray, *, shape: tuple[int, ...]) -> np.ndarray:
        """(*in_shape) -> (*shape)."""
        self.in_shape = x.shape
        return np.reshape(x, shape)

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray]:
        """Reshaping does not change values: give the gradient the input's shape back.

        Args:
            grad_output: (*shape) gradient of the loss w.r.t. the output.
        Returns:
            (grad_x,) of shape self.in_shape.
        """
        return (np.reshape(grad_output, self.in_shape),)


class Transpose(Function):
    """Permute axes (keyword `axes`, a permutation, negatives allowed; None reverses all axes)."""

    def forward(self, x: np.ndarray, *, axes: tuple[int, ...] | None) -> np.ndarray:
        """(*in_shape) -> in_shape permuted: out.shape[i] == in_shape[axes[i]]."""
        # store the permutation with non-negative entries so backward can invert it
        self.axes = tuple(range(x.ndim))[::-1] if axes is None else tuple(a % x.ndim for a in axes)
        return np.transpose(x, self.axes)

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray]:
        """Move each axis of the gradient back where it came from (the inverse permutation).

        Args:
            grad_output: the permuted shape.
        Returns:
            (grad_x,) shaped like x. self.axes is the forward permutation (non-negative ints).
        """
        return (np.transpose(grad_output, np.argsort(self.axes)),)


def _plain_index(index: Any) -> Any:
    """The index as numpy takes it; a Tensor inside it is refused with a clear IndexError.

    A Tensor always holds float64, and numpy refuses float indices: casting them to int would silently
    read a boolean mask stored in a Tensor (1.0/0.0) as the positions 1 and 0. Index with a numpy array
    instead: `t.data.astype(bool)` for a mask, `.astype(int)` for positions.
    """
    from ..tensor import Tensor

    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Tensor):
        raise IndexError("a Tensor cannot be used as an index: its data is float64, and numpy refuses float "
                         "indices (a mask would silently become the positions 1 and 0); index with a numpy "
                         "array instead, e.g. x[mask.data.astype(bool)] or x[idx.data.astype(int)]")
    return index


class GetItem(Function):
    """x[index]: basic slices, integers, None, Ellipsis, integer arrays and boolean masks (keyword `index`)."""

    def forward(self, x: np.ndarray, *, index: Any) -> np.ndarray:
        """(*in_shape) -> whatever shape numpy's x[index] has."""
        self.in_shape = x.shape
        self.index = _plain_index(index)
        return x[self.index]

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray]:
        """Scatter the gradient back into zeros of the input's shape; an element picked k times gets k contributions.

        Args:
            grad_output: the shape of x[self.index].
        Returns:
            (grad_x,) of shape self.in_shape. Hint: `g[idx] += v` loses repeats; np.add.at does not.
        """
        grad = np.zeros(self.in_shape)
        np.add.at(grad, self.index, grad_output)
        return (grad,)
