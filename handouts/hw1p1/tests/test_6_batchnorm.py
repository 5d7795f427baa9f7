"""Task 6.1: BatchNorm1d's fused backward (train mode) and its running statistics."""

import pytest
from hw1p1_checks import batchnorm_case


@pytest.mark.rubric(task="6.1", weight=1)
def test_batchnorm_train(student, reference, rng):
    batchnorm_case(student, reference, rng, n=7, c=3, modes=["train"])
