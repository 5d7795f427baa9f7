"""LogSoftmax along an axis, and the fused softmax cross-entropy loss."""

from __future__ import annotations

import numpy as np

from ..autograd_engine import Function


class LogSoftmax(Function):
    """log(softmax(x)) along `axis`: x - max - log(sum(exp(x - max))), stable for any magnitude."""

    def forward(self, x: np.ndarray, *, axis: int | tuple[int, ...] = -1) -> np.ndarray:
        """(*shape) -> (*shape); each slice along `axis` exponentiates and sums to 1."""
        shifted = x - np.max(x, axis=axis, keepdims=True)  # largest entry becomes 0: exp cannot overflow
        out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
        self.axis = axis
        self.save_for_backward(out)
        return out

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray]:
        """Gradient of log_softmax(x) along self.axis.

        Hint: section 6.8 of the writeup; the softmax can be computed from the saved output.

        Args:
            grad_output: (*shape) gradient of the loss w.r.t. the output.
        Returns:
            (grad_x,) shaped like x. self.saved = (out,), the forward's output; the axis is self.axis.
        """
        raise NotImplementedError("Task 5.2: LogSoftmax.backward")


class CrossEntropy(Function):
    """Mean over the batch of -log softmax(logits)[label]: logits (N, C), keyword labels (N,) ints."""

    def forward(self, logits: np.ndarray, *, labels: np.ndarray) -> np.ndarray:
        """(N, C) logits, (N,) integer labels in [0, C) -> () mean loss."""
        n = logits.shape[0]
        shifted = logits - logits.max(axis=1, keepdims=True)  # stable for logits of any size
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.labels = labels
        self.save_for_backward(np.exp(log_probs))  # softmax probabilities, what backward needs
        return -log_probs[np.arange(n), labels].mean()

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray]:
        """Gradient of the mean cross-entropy loss with respect to the logits.

        Hint: section 6.9 of the writeup; do not modify the saved array in place.

        Args:
            grad_output: () gradient of the final loss w.r.t. this mean loss.
        Returns:
            (grad_logits,) of shape (N, C). self.saved = (probs,), the softmax of the logits (N, C);
            the integer labels (N,) are self.labels.
        """
        raise NotImplementedError("Task 5.3: CrossEntropy.backward")
