"""Activation layers: thin Modules around the Tensor methods."""

from __future__ import annotations

from ..tensor import Tensor
from .module import Module


class ReLU(Module):
    """max(x, 0), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        """(*shape) -> (*shape)."""
        return x.relu()


class Sigmoid(Module):
    """1 / (1 + e^-x), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        """(*shape) -> (*shape)."""
        return x.sigmoid()


class Tanh(Module):
    """Hyperbolic tangent, elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        """(*shape) -> (*shape)."""
        return x.tanh()
