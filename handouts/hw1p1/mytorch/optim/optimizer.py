"""Optimizer: the base class that holds the parameters."""

from __future__ import annotations

from collections.abc import Iterable

from ..tensor import Tensor


class Optimizer:
    """Updates a fixed list of parameters in place from their `.grad`."""

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        self.params: list[Tensor] = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        if lr < 0:
            raise ValueError(f"learning rate must be >= 0, got {lr}")
        self.lr = lr

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient: set `.grad` to None (the default, as PyTorch 2), or fill the
        existing arrays with zeros in place (set_to_none=False), which reuses their memory."""
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0.0

    def step(self) -> None:
        """Update every parameter that has a gradient; subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__}.step")
