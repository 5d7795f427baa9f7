"""Adam, as torch.optim.Adam with weight_decay=0."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer


class Adam(Optimizer):
    """m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g**2; t += 1;
    p -= lr * (m / (1 - b1**t)) / (sqrt(v / (1 - b2**t)) + eps). Moments start at zero; each
    parameter counts its own steps t (a parameter without a gradient does not step)."""

    def __init__(
        self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ) -> None:
        super().__init__(params, lr)
        self.betas, self.eps = betas, eps
        self.m = [np.zeros_like(p.data) for p in self.params]  # first moments
        self.v = [np.zeros_like(p.data) for p in self.params]  # second moments
        self.t = [0] * len(self.params)  # steps taken, per parameter

    def step(self) -> None:
        """Update each parameter whose `.grad` is not None, in place (`p.data`).

        Hint: section 6.11 of the writeup. Uses self.lr, self.betas, self.eps and the per-parameter
        state self.m[i], self.v[i], self.t[i].
        """
        raise NotImplementedError("Task 7.2: Adam.step")
