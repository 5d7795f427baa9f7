"""Task 8 (hidden): train_step on other shapes, and a full training run on the digits data.

The worker trains on rows drawn here and returns the trained parameters; the held-out accuracy is
measured here, by the reference's forward pass on rows the worker never receives (a scenario's word
on its own accuracy would be believed).
"""

import numpy as np
import pytest
from hw1p1_checks import train_step_case

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.framework.compare import CheckFailed, check_close

# The reference reaches 94-99% held-out accuracy (by split) with these settings in ~0.1 s (450 SGD steps).
TRAIN = dict(sizes=[64, 64, 10], epochs=10, batch_size=32, lr=0.05, record=[0, 1, 2, 5, 10, 50, 100, 200, 449])
N_TRAIN = 1437
MIN_ACCURACY = 0.95


def digits() -> tuple[np.ndarray, np.ndarray]:
    """The UCI digits (X (1797, 64), y), read here in the trusted process."""
    with np.load(ASSIGNMENT.data_files[0], allow_pickle=False) as z:
        return np.asarray(z["X"], dtype=np.float64), np.asarray(z["y"], dtype=np.int64)


@pytest.mark.rubric(task="8", weight=1)
@pytest.mark.parametrize(
    "n, sizes, steps",
    [
        pytest.param(5, (3, 5, 7), 2, id="3-5-7"),
        pytest.param(4, (7, 3, 3, 5), 3, id="7-3-3-5"),
    ],
)
def test_train_step(student, reference, rng, n, sizes, steps):
    train_step_case(student, reference, rng, n=n, sizes=sizes, steps=steps)


@pytest.mark.rubric(task="8", weight=3)
@pytest.mark.deadline(30)
def test_train_digits(student, reference, rng):
    X, y = digits()
    perm = rng.permutation(len(X))
    train, held_out = perm[:N_TRAIN], perm[N_TRAIN:]
    call = dict(X=X[train], y=y[train], seed=int(rng.integers(2**31)), **TRAIN)
    got = student.run("train_digits", **call)
    want = reference.run("train_digits", **call)
    if got["n_steps"] != want["n_steps"]:
        raise CheckFailed(
            f"fit made {got['n_steps']} steps, expected {want['n_steps']} (one train_step per mini-batch)"
        )
    for step, loss, expected in zip(want["steps"], np.atleast_1d(got["losses"]), want["losses"]):
        check_close(f"training on digits: the loss at step {step}", loss, expected, rtol=1e-4, atol=1e-6)
    params = got["params"]
    shapes = [np.shape(p) for p in want["params"]]
    if len(params) != len(shapes) or any(not isinstance(p, np.ndarray) or p.shape != s for p, s in zip(params, shapes)):
        raise CheckFailed(
            f"after training, model.parameters() gave {len(params)} parameter(s) "
            f"{[np.shape(p) if isinstance(p, np.ndarray) else p for p in params]}; expected arrays "
            f"shaped {shapes}"
        )
    accuracy = reference.function("mlp_accuracy", sizes=TRAIN["sizes"], X=X[held_out], y=y[held_out])
    got_acc, want_acc = accuracy(params=params), accuracy(params=want["params"])
    # Splits differ per handin: on a hard one the reference itself may stay just under 95%.
    needed = min(MIN_ACCURACY, want_acc) - 0.01
    if got_acc < needed:
        raise CheckFailed(
            f"training on digits reached {got_acc:.1%} held-out accuracy; at least "
            f"{needed:.1%} is needed (the reference reaches {want_acc:.1%} on these images)"
        )
