"""Tasks 7.1 and 7.2: SGD and Adam steps against the reference over 5 steps."""

import pytest
from hw1p1_checks import optimizer_case


@pytest.mark.rubric(task="7.1", weight=1)
def test_sgd_momentum(student, reference, rng):
    optimizer_case(student, reference, rng, "sgd", {"lr": 0.1, "momentum": 0.9})


@pytest.mark.rubric(task="7.2", weight=1)
def test_adam(student, reference, rng):
    optimizer_case(student, reference, rng, "adam", {"lr": 0.01})
