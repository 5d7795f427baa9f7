"""Task 6.1 (hidden cases): BatchNorm1d's fused backward in training mode, running statistics."""

import pytest
from hw1p1_checks import batchnorm_case


@pytest.mark.rubric(task="6.1", weight=1)
@pytest.mark.parametrize(
    "n, c, modes, momentum",
    [
        pytest.param(5, 3, ["train"], 0.1, id="5x3"),
        pytest.param(3, 7, ["train"], 0.1, id="3x7"),
        pytest.param(2, 5, ["train"], 0.1, id="2x5"),
        pytest.param(7, 1, ["train"], 0.1, id="7x1"),
        pytest.param(6, 4, ["train", "train", "train"], 0.1, id="3batches"),
        pytest.param(5, 3, ["train", "train", "eval"], 0.3, id="train,train,eval"),
        pytest.param(2, 1, ["train", "eval", "train"], 0.5, id="2x1,train,eval,train"),
    ],
)
def test_batchnorm(student, reference, rng, n, c, modes, momentum):
    batchnorm_case(student, reference, rng, n=n, c=c, modes=modes, momentum=momentum)
