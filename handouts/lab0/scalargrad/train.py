"""Training a Module by gradient descent on the mean squared error (task 3.2)."""

from __future__ import annotations

from collections.abc import Sequence

from .nn import Module
from .value import Number, Value


def mse_loss(model: Module, X: Sequence[Sequence[Number]], y: Sequence[Number]) -> Value:
    """The mean over the points of (model(x) - target)**2, as one Value (the root of the graph).

    Args:
        X: n points, each a sequence of n_in numbers.
        y: n targets (for the two-moons task: -1.0 or +1.0).
    """
    total: Value | float = 0.0
    for x, target in zip(X, y):
        total = total + (model(x) - float(target)) ** 2
    return total * (1.0 / len(y))


def train_step(model: Module, X: Sequence[Sequence[Number]], y: Sequence[Number], lr: float) -> float:
    """One step of gradient descent on mse_loss(model, X, y); returns the loss before the step.

    In order: clear the old gradients (zero_grad), compute the loss, backward() from it, then move
    every parameter against its gradient: p.data -= lr * p.grad.

    Returns:
        float, the loss's value (loss.data) computed in this step.
    """
    raise NotImplementedError("Task 3.2: train_step")


def fit(
    model: Module,
    X: Sequence[Sequence[Number]],
    y: Sequence[Number],
    steps: int,
    lr: float,
    batch_size: int | None = None,
) -> list[float]:
    """`steps` train_steps, each on the next `batch_size` points (all of them when None), cycling
    through the data in its given order; returns the loss of every step."""
    n = len(y)
    size = n if batch_size is None else min(batch_size, n)
    losses = []
    for step in range(steps):
        start = (step * size) % n
        rows = [(start + k) % n for k in range(size)]
        losses.append(train_step(model, [X[r] for r in rows], [y[r] for r in rows], lr))
    return losses
