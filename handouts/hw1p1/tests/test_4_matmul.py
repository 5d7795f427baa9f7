"""Task 4.1: MatMul backward (2-D, 1-D and batched operands) and nn.Linear."""

import pytest
from hw1p1_checks import case, draw, linear_case, op_case


@pytest.mark.rubric(task="4.1", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("3x5@5x7", "matmul", ("normal", (3, 5)), ("normal", (5, 7))),
        case("5@5x7", "matmul", ("normal", (5,)), ("normal", (5, 7))),
    ],
)
def test_matmul(student, reference, rng, op, inputs, kwargs):
    op_case(student, reference, rng, "MatMul.backward", op, draw(rng, inputs), kwargs)


@pytest.mark.rubric(task="4.1", weight=1)
def test_linear(student, reference, rng):
    linear_case(student, reference, rng, (3, 5), 7)
