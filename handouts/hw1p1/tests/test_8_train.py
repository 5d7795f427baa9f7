"""Task 8: the training step (zero_grad, forward, loss, backward, step, return the loss)."""

import pytest
from hw1p1_checks import train_step_case


@pytest.mark.rubric(task="8", weight=1)
def test_train_step(student, reference, rng):
    train_step_case(student, reference, rng)
