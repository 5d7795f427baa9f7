"""Elementwise activations: ReLU, Sigmoid, Tanh."""

from __future__ import annotations

import numpy as np

from ..autograd_engine import Function


class ReLU(Function):
    """max(x, 0)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(*shape) -> (*shape)."""
        self.save_for_backward(x)
        return np.maximum(x, 0.0)

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray]:
        """Gradient of max(0, x).

        Hint: table 6.7 of the writeup (at exactly 0, use 0, as PyTorch does).

        Args:
            grad_output: (*shape) gradient of the loss w.r.t. the output.
        Returns:
            (grad_x,) shaped like x. self.saved = (x,).
        """
        raise NotImplementedError("Task 5.1: ReLU.backward")


class Sigmoid(Function):
    """1 / (1 + e^-x), computed without overflow for large |x|."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(*shape) -> (*shape)."""
        e = np.exp(-np.abs(x))  # never overflows; pick the form that divides by a number >= 1
        out = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        self.save_for_backward(out)
        return out

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray]:
        """Gradient of sigmoid(x).

        Hint: table 6.7 of the writeup; write it with the saved output.

        Args:
            grad_output: (*shape) gradient of the loss w.r.t. the output.
        Returns:
            (grad_x,) shaped like x. self.saved = (out,), the forward's output.
        """
        raise NotImplementedError("Task 5.1: Sigmoid.backward")


class Tanh(Function):
    """Hyperbolic tangent."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(*shape) -> (*shape)."""
        out = np.tanh(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray]:
        """Gradient of tanh(x).

        Hint: table 6.7 of the writeup; write it with the saved output.

        Args:
            grad_output: (*shape) gradient of the loss w.r.t. the output.
        Returns:
            (grad_x,) shaped like x. self.saved = (out,), the forward's output.
        """
        raise NotImplementedError("Task 5.1: Tanh.backward")
