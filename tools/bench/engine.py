"""Benchmark: how much hw1p1's reference mytorch engine costs over the same training step in plain numpy.

Specific to the mytorch API (Tensor, nn.Linear, optim.SGD): other assignments report no figure here.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

from autograder.framework.rubric import Assignment

PACKAGE = "mytorch"  # the library this benchmark drives
SIZES = (784, 256, 10)
BATCH = 128
LR = 0.01


def _seconds(step: Callable[[], object]) -> float:
    """CPU time of one call. CPU time, not wall time: the 2-core machines this runs on are shared, and
    other processes' load would otherwise dominate a millisecond-scale step."""
    start = time.process_time()
    step()
    return time.process_time() - start


def _numpy_step(params: dict[str, np.ndarray], x: np.ndarray, labels: np.ndarray) -> float:
    """One SGD step of the 784-256-10 ReLU MLP with cross-entropy, written directly in numpy."""
    w1, b1, w2, b2 = params["w1"], params["b1"], params["w2"], params["w2b"]
    n = x.shape[0]
    z1 = x @ w1.T + b1
    h = np.maximum(z1, 0.0)
    logits = h @ w2.T + b2
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), labels].mean()
    g_logits = np.exp(log_probs)
    g_logits[np.arange(n), labels] -= 1.0
    g_logits /= n
    g_w2, g_b2 = g_logits.T @ h, g_logits.sum(axis=0)
    g_z1 = (g_logits @ w2) * (z1 > 0)
    g_w1, g_b1 = g_z1.T @ x, g_z1.sum(axis=0)
    for p, g in ((w1, g_w1), (b1, g_b1), (w2, g_w2), (b2, g_b2)):
        p -= LR * g
    return float(loss)


def engine_overhead(assignment: Assignment, repeats: int = 50) -> list[dict]:
    """Median CPU time of one SGD step (forward, cross-entropy, backward, update) of a 784-256-10 ReLU MLP
    on a batch of 128 with the reference mytorch, divided by the same step in plain numpy.

    Both run in this call, alternately step by step, on the same data, in float64. The mytorch step
    zeroes gradients in place (`zero_grad(set_to_none=False)`), so like the numpy step it allocates one
    fresh weight-gradient array per step; the PyTorch-2 default (set_to_none=True) makes the engine copy
    the first gradient into a new `.grad`, and its ratio is reported in `detail`. No figure (an empty
    list) for an assignment whose package is not mytorch.
    """
    if assignment.package != PACKAGE:
        return []
    if str(assignment.reference_root) not in sys.path:
        sys.path.insert(0, str(assignment.reference_root))  # the reference library, only for this benchmark
    import mytorch
    from mytorch.nn import CrossEntropyLoss, Linear, ReLU, Sequential
    from mytorch.optim import SGD

    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, SIZES[0]))
    labels = rng.integers(0, SIZES[-1], BATCH)

    model = Sequential(Linear(SIZES[0], SIZES[1], rng=rng), ReLU(), Linear(SIZES[1], SIZES[2], rng=rng))
    loss_fn, optimizer = CrossEntropyLoss(), SGD(model.parameters(), lr=LR)
    w1, b1, w2, b2 = (p.data.copy() for p in model.parameters())
    numpy_params = {"w1": w1, "b1": b1, "w2": w2, "w2b": b2}

    def mytorch_step(set_to_none: bool) -> float:
        optimizer.zero_grad(set_to_none=set_to_none)
        loss = loss_fn(model(mytorch.Tensor(x)), labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    def numpy_step() -> float:
        return _numpy_step(numpy_params, x, labels)

    def ratio(set_to_none: bool) -> float:
        def step() -> float:
            return mytorch_step(set_to_none)

        for warm_up in (step, numpy_step, step, numpy_step):  # imports, allocator, BLAS threads
            warm_up()
        # alternate the two, step by step, so that machine noise hits both alike
        mine, plain = [], []
        for _ in range(repeats):
            mine.append(_seconds(step))
            plain.append(_seconds(numpy_step))
        return statistics.median(mine) / statistics.median(plain)

    in_place = ratio(set_to_none=False)
    to_none = ratio(set_to_none=True)
    return [
        {
            "name": "engine_overhead",
            "value": round(in_place, 3),
            "unit": "x",
            "target": "<= 1.3",
            "detail": f"CPU time, zero_grad(set_to_none=False); {to_none:.2f}x with set_to_none=True",
        }
    ]


if __name__ == "__main__":
    from autograder.cli.common import load_assignment

    print(engine_overhead(load_assignment(sys.argv[1] if len(sys.argv) > 1 else None)))
