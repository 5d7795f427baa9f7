"""Stochastic gradient descent with momentum and weight decay, as torch.optim.SGD."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer


class SGD(Optimizer):
    """p -= lr * buf with g = grad + weight_decay * p; buf = g on the first step, then
    buf = momentum * buf + g (with momentum 0 no buffer is kept and buf is just g)."""

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        self.momentum, self.weight_decay = momentum, weight_decay
        self.buffers: list[np.ndarray | None] = [None] * len(self.params)  # one momentum buffer per parameter

    def step(self) -> None:
        """Update each parameter whose `.grad` is not None, in place (`p.data`).

        Hint: section 6.11 of the writeup. Uses self.lr, self.momentum, self.weight_decay and
        self.buffers[i] (None until parameter i's first step with momentum).
        """
        raise NotImplementedError("Task 7.1: SGD.step")
