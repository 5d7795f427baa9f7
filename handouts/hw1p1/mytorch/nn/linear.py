"""Linear (fully connected) layer, PyTorch's layout and initialisation."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .module import Module


class Linear(Module):
    """y = x @ W.T + b with W of shape (out_features, in_features) and b of shape (out_features,).

    Weight and bias start uniform in [-1/sqrt(in_features), 1/sqrt(in_features)], PyTorch's default.
    Pass `rng` (a numpy Generator) for reproducible weights.
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, *, rng: np.random.Generator | None = None
    ) -> None:
        super().__init__()
        rng = np.random.default_rng() if rng is None else rng
        bound = 1.0 / np.sqrt(in_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Tensor(rng.uniform(-bound, bound, (out_features, in_features)), requires_grad=True)
        self.bias = Tensor(rng.uniform(-bound, bound, out_features), requires_grad=True) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        """(N, in_features) -> (N, out_features); any leading axes work, as in PyTorch."""
        out = x @ self.weight.T
        return out + self.bias if self.bias is not None else out

    def __repr__(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None})"
