"""Losses: MSELoss (composed of Tensor ops) and CrossEntropyLoss (one fused op)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .module import Module


class MSELoss(Module):
    """Mean (or sum) of squared differences: reduction="mean" | "sum"."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum"):
            raise ValueError(f"MSELoss reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction

    def forward(self, prediction: Tensor, target: Any) -> Tensor:
        """(*shape), (*shape) -> () loss; the gradient comes from the Sub, Pow and Mean/Sum backward passes."""
        if np.shape(target.data if isinstance(target, Tensor) else target) != prediction.shape:
            raise ValueError(
                f"MSELoss: prediction has shape {prediction.shape} but target has shape "
                f"{np.shape(target.data if isinstance(target, Tensor) else target)}"
            )
        squared = (prediction - target) ** 2
        return squared.mean() if self.reduction == "mean" else squared.sum()


def _as_labels(labels: Any, n: int, c: int) -> np.ndarray:
    """Integer class labels of shape (n,) with values in [0, c), or a clear error."""
    raw = np.asarray(labels.data if isinstance(labels, Tensor) else labels)
    if raw.shape != (n,):
        raise ValueError(f"CrossEntropyLoss: labels must have shape ({n},) to match logits, got {raw.shape}")
    if not np.issubdtype(raw.dtype, np.integer):
        if not np.all(raw == np.round(raw)):
            raise ValueError("CrossEntropyLoss: labels must be integer class indices")
    ints = raw.astype(np.int64)
    if ints.size and (ints.min() < 0 or ints.max() >= c):
        raise ValueError(f"CrossEntropyLoss: labels must lie in [0, {c}), got values from {ints.min()} to {ints.max()}")
    return ints


class CrossEntropyLoss(Module):
    """Softmax cross-entropy averaged over the batch: logits (N, C), integer labels (N,).

    Stable for logits of any magnitude (e.g. +-1000). The forward and backward are one fused op.
    """

    def forward(self, logits: Tensor, labels: Any) -> Tensor:
        """(N, C) logits, (N,) labels -> () mean loss."""
        from ..ops.softmax import CrossEntropy

        if not isinstance(logits, Tensor):
            logits = Tensor(logits)
        if logits.ndim != 2:
            raise ValueError(f"CrossEntropyLoss: logits must be (N, C), got shape {logits.shape}")
        n, c = logits.shape
        return CrossEntropy.apply(logits, labels=_as_labels(labels, n, c))
