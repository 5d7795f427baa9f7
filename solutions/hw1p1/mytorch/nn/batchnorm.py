"""BatchNorm1d: batch statistics in training (one fused op), running statistics in evaluation."""

from __future__ import annotations

import numpy as np

from ..autograd_engine import Function
from ..tensor import Tensor
from .module import Module


class BatchNorm1dFunction(Function):
    """Training-mode batch norm of x (N, C) with weight (C,) and bias (C,), keyword eps.

    xhat = (x - mean) / sqrt(var + eps) with the batch mean and biased variance per feature;
    out = weight * xhat + bias.
    """

    def forward(self, x: np.ndarray, weight: np.ndarray, bias: np.ndarray, *, eps: float) -> np.ndarray:
        """(N, C), (C,), (C,) -> (N, C)."""
        mean = x.mean(axis=0)
        inv_std = 1.0 / np.sqrt(x.var(axis=0) + eps)  # biased variance, as PyTorch normalises
        xhat = (x - mean) * inv_std
        self.save_for_backward(xhat, inv_std, weight)
        return weight * xhat + bias

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gradients for x, weight and bias, in one pass.

        Hint: section 6.10 of the writeup (the mean and the variance depend on every row of x).

        Args:
            grad_output: (N, C) gradient of the loss w.r.t. the output.
        Returns:
            (grad_x (N, C), grad_weight (C,), grad_bias (C,)).
            self.saved = (xhat (N, C), inv_std (C,), weight (C,)).
        """
        # BEGIN SOLUTION Task 6.1: BatchNorm1dFunction.backward
        xhat, inv_std, weight = self.saved
        n = grad_output.shape[0]
        grad_xhat = grad_output * weight
        grad_x = inv_std / n * (n * grad_xhat - grad_xhat.sum(axis=0) - xhat * (grad_xhat * xhat).sum(axis=0))
        return grad_x, (grad_output * xhat).sum(axis=0), grad_output.sum(axis=0)
        # END SOLUTION


class BatchNorm1d(Module):
    """Batch normalisation over the batch axis of (N, C) inputs, as torch.nn.BatchNorm1d.

    Training: normalise with the batch mean and biased variance; update
    running_mean/var = (1 - momentum) * running + momentum * batch (unbiased variance for running_var).
    Evaluation: normalise with running_mean and running_var.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Tensor(np.ones(num_features), requires_grad=True)
        self.bias = Tensor(np.zeros(num_features), requires_grad=True)
        self.running_mean = np.zeros(num_features)
        self.running_var = np.ones(num_features)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C) -> (N, C)."""
        if not isinstance(x, Tensor):
            x = Tensor(x)
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d({self.num_features}) expects input (N, {self.num_features}), got {x.shape}")
        if not self.training:
            inv_std = 1.0 / np.sqrt(self.running_var + self.eps)
            return (x - self.running_mean) * inv_std * self.weight + self.bias
        n = x.shape[0]
        if n < 2:
            raise ValueError("BatchNorm1d in training mode needs more than 1 sample per batch")
        m = self.momentum
        self.running_mean = (1 - m) * self.running_mean + m * x.data.mean(axis=0)
        self.running_var = (1 - m) * self.running_var + m * x.data.var(axis=0, ddof=1)
        return BatchNorm1dFunction.apply(x, self.weight, self.bias, eps=self.eps)

    def __repr__(self) -> str:
        return f"BatchNorm1d({self.num_features}, eps={self.eps}, momentum={self.momentum})"
