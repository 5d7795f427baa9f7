"""Task 7.1 (hidden, added from `make mutants`): SGD with momentum = 1 and weight_decay = 1.

Both are valid settings; an implementation that tests `!= 1` (or any value other than 0) to decide
whether momentum or weight decay applies must still be right at exactly 1.
"""

import pytest
from hw1p1_checks import optimizer_case


@pytest.mark.rubric(task="7.1", weight=1)
@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"lr": 0.01, "momentum": 1.0}, id="momentum=1"),
        pytest.param({"lr": 0.01, "weight_decay": 1.0}, id="weight_decay=1"),
    ],
)
def test_sgd_unit_hyperparameters(student, reference, rng, options):
    optimizer_case(student, reference, rng, "sgd", options)
