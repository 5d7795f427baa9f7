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
        """Gradient of x.reshape(shape).

        Hint: section 6.4 of the writeup.

        Args:
            grad_output: (*shape) gradient of the loss w.r.t. the output.
        Returns:
            (grad_x,) of shape self.in_shape.
        """
        raise NotImplementedError("Task 3.3: Reshape.backward")


class Transpose(Function):
    """Permute axes (keyword `axes`, a permutation, negatives allowed; None reverses all axes)."""

    def forward(self, x: np.ndarray, *, axes: tuple[int, ...] | None) -> np.ndarray:
        """(*in_shape) -> in_shape permuted: out.shape[i] == in_shape[axes[i]]."""
        # store the permutation with non-negative entries so backward can invert it
        self.axes = tuple(range(x.ndim))[::-1] if axes is None else tuple(a % x.ndim for a in axes)
        return np.transpose(x, self.axes)

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray]:
        """Gradient of x.transpose(axes).

        Hint: section 6.4 of the writeup (undo the permutation with its inverse).

        Args:
            grad_output: the permuted shape.
        Returns:
            (grad_x,) shaped like x. self.axes is the forward permutation (non-negative ints).
        """
        raise NotImplementedError("Task 3.3: Transpose.backward")


def _plain_index(index: Any, shape: tuple[int, ...]) -> Any:
    """The index as numpy takes it, for an array of `shape`: a Tensor inside it holds positions.

    A Tensor's data is float64, so its values must be whole numbers (numpy refuses float indices; a
    silent cast would turn 0.5 into 0). A Tensor of only 0s and 1s shaped like the indexed axes is
    almost surely a boolean mask that Tensor() turned into floats: refused too, rather than read as
    the positions 0 and 1. Masks work as numpy bool arrays: x[mask] with mask = x.data > 0.
    """
    from ..tensor import Tensor

    if isinstance(index, tuple):
        return tuple(_plain_index(i, shape) for i in index)
    if isinstance(index, Tensor):
        data = np.asarray(index.data)
        if not np.all(np.isfinite(data) & (data == np.round(data))):
            raise IndexError(
                "a Tensor used as an index must hold whole numbers (positions); Tensor data is "
                "float64 and numpy refuses fractional indices: index with a numpy int array"
            )
        mask_like = data.ndim and data.size > 1 and data.shape == tuple(shape[: data.ndim])
        if mask_like and np.all((data == 0) | (data == 1)):
            raise IndexError(
                "this Tensor index holds only 0s and 1s in the shape of the indexed axes: a boolean "
                "mask stored in a Tensor (which makes it float)? Index with a numpy bool array "
                "(e.g. x[mask.data.astype(bool)]) for a mask, or a numpy int array for positions"
            )
        return data.astype(np.intp)
    return index


class GetItem(Function):
    """x[index]: basic slices, integers, None, Ellipsis, integer arrays and boolean masks (keyword `index`)."""

    def forward(self, x: np.ndarray, *, index: Any) -> np.ndarray:
        """(*in_shape) -> whatever shape numpy's x[index] has."""
        self.in_shape = x.shape
        self.index = _plain_index(index, x.shape)
        return x[self.index]

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray]:
        """Gradient of x[index].

        Hint: section 6.5 of the writeup (an entry picked twice must receive both contributions).

        Args:
            grad_output: the shape of x[self.index].
        Returns:
            (grad_x,) of shape self.in_shape.
        """
        raise NotImplementedError("Task 3.4: GetItem.backward")
