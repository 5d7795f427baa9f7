"""Undo numpy broadcasting in a gradient."""

from __future__ import annotations

import numpy as np


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` back down to `shape`, the shape of an input that numpy broadcast in forward.

    Hint: section 5.2 of the writeup.

    Args:
        grad: (*out_shape) gradient w.r.t. the broadcast result.
        shape: the input's shape; `np.broadcast_shapes(shape, ...) == out_shape`.
    Returns:
        An array of exactly `shape` (e.g. (1,) stays (1,), not () or (1, 1)).
    Example:
        unbroadcast(np.ones((4, 3)), (3,)) -> [4., 4., 4.]
    """
    # BEGIN SOLUTION Task 2.1: unbroadcast
    if grad.shape == tuple(shape):
        return grad  # nothing was broadcast
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape) if n == 1)
    return grad.sum(axis=axes).reshape(shape)
    # END SOLUTION
