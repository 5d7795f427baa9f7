"""Task 8: train an MLP classifier. `train_step` is yours; the helpers around it are given."""

from __future__ import annotations

from typing import Any

import numpy as np

from .autograd_engine import no_grad
from .nn.activation import ReLU
from .nn.linear import Linear
from .nn.loss import CrossEntropyLoss
from .nn.module import Module, Sequential
from .optim.optimizer import Optimizer
from .optim.sgd import SGD
from .tensor import Tensor


def train_step(model: Module, loss_fn: Module, optimizer: Optimizer, x: Any, y: Any) -> float:
    """One optimisation step on one batch.

    Hint: task 8 in section 8 of the writeup (the order of the steps matters).

    Args:
        model: maps x to predictions (e.g. logits (N, C)).
        loss_fn: maps (predictions, y) to a scalar loss Tensor.
        optimizer: holds the model's parameters.
        x: the batch's inputs, e.g. (N, 64) as a Tensor or array.
        y: the batch's targets, e.g. (N,) integer labels.
    Returns:
        The loss on this batch before the update, as a float.
    """
    raise NotImplementedError("Task 8: train_step")


def make_mlp(sizes: list[int], rng: np.random.Generator) -> Sequential:
    """Linear layers of the given sizes with ReLU between them: [64, 64, 10] -> 64-64-10."""
    layers: list[Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if i > 0:
            layers.append(ReLU())
        layers.append(Linear(n_in, n_out, rng=rng))
    return Sequential(*layers)


def fit(
    model: Module, X: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, lr: float, rng: np.random.Generator
) -> list[float]:
    """Train with cross-entropy and SGD (momentum 0.9) on shuffled mini-batches; the loss of every step."""
    optimizer = SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = CrossEntropyLoss()
    model.train()
    losses: list[float] = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            batch = order[start : start + batch_size]
            losses.append(train_step(model, loss_fn, optimizer, Tensor(X[batch]), y[batch]))
    return losses


def accuracy(model: Module, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows of X whose largest output is at the true label (evaluated in eval mode, no graph)."""
    was_training = getattr(model, "training", True)
    model.eval()
    with no_grad():
        predictions = np.argmax(model(Tensor(X)).data, axis=1)
    model.train(was_training)
    return float(np.mean(predictions == np.asarray(y)))
