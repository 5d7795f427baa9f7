"""Task 8 (hidden): train_step on other shapes, and a full training run on the digits data."""

import numpy as np
import pytest
from hw1p1_checks import train_step_case

from autograder.framework.compare import CheckFailed, check_close

# The reference reaches ~98% held-out accuracy with these settings in ~0.1 s (450 SGD steps).
TRAIN = dict(seed=0, sizes=[64, 64, 10], epochs=10, batch_size=32, lr=0.05, n_train=1437,
             record=[0, 1, 2, 5, 10, 50, 100, 200, 449])
MIN_ACCURACY = 0.95


@pytest.mark.rubric(task="8", weight=1)
@pytest.mark.parametrize("n, sizes, steps", [
    pytest.param(5, (3, 5, 7), 2, id="3-5-7"),
    pytest.param(4, (7, 3, 3, 5), 3, id="7-3-3-5"),
])
def test_train_step(student, reference, rng, n, sizes, steps):
    train_step_case(student, reference, rng, n=n, sizes=sizes, steps=steps)


@pytest.mark.rubric(task="8", weight=3)
@pytest.mark.deadline(30)
def test_train_digits(student, reference):
    got = student.run("train_digits", **TRAIN)
    want = reference.run("train_digits", **TRAIN)
    if got["n_steps"] != want["n_steps"]:
        raise CheckFailed(f"fit made {got['n_steps']} steps, expected {want['n_steps']} "
                          f"(one train_step per mini-batch)")
    for step, loss, expected in zip(want["steps"], np.atleast_1d(got["losses"]), want["losses"]):
        check_close(f"training on digits: the loss at step {step}", loss, expected, rtol=1e-4, atol=1e-6)
    if got["accuracy"] < MIN_ACCURACY:
        raise CheckFailed(f"training on digits reached {got['accuracy']:.1%} held-out accuracy; at least "
                          f"{MIN_ACCURACY:.0%} is needed (the reference reaches {want['accuracy']:.1%})")
