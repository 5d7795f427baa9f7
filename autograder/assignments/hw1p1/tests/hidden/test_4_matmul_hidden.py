"""Task 4.1 (hidden cases): MatMul with 1-D, 2-D and batched operands (batch broadcasting), Linear.
(A constant operand: test_extra_matmul.py.)"""

import pytest
from hw1p1_checks import case, draw, linear_case, op_case


@pytest.mark.rubric(task="4.1", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("3x5@5x7", "matmul", ("normal", (3, 5)), ("normal", (5, 7))),
        case("7x5@5x3", "matmul", ("normal", (7, 5)), ("normal", (5, 3))),
        case("1x5@5x1", "matmul", ("normal", (1, 5)), ("normal", (5, 1))),
        case("3x5@5", "matmul", ("normal", (3, 5)), ("normal", (5,))),
        case("5@5x7", "matmul", ("normal", (5,)), ("normal", (5, 7))),
        case("5@5", "matmul", ("normal", (5,)), ("normal", (5,))),
        case("2x3x5@5x7", "matmul", ("normal", (2, 3, 5)), ("normal", (5, 7))),
        case("2x3x5@2x5x7", "matmul", ("normal", (2, 3, 5)), ("normal", (2, 5, 7))),
        case("3x5@2x5x7", "matmul", ("normal", (3, 5)), ("normal", (2, 5, 7))),
        case("4x1x3x5@2x5x7", "matmul", ("normal", (4, 1, 3, 5)), ("normal", (2, 5, 7))),
        case("2x3x5@5", "matmul", ("normal", (2, 3, 5)), ("normal", (5,))),
        case("5@2x5x3", "matmul", ("normal", (5,)), ("normal", (2, 5, 3))),
        case("5@5x5", "matmul", ("normal", (5,)), ("normal", (5, 5))),
        case("5x5@5", "matmul", ("normal", (5, 5)), ("normal", (5,))),
        case("1@1", "matmul", ("normal", (1,)), ("normal", (1,))),
        case("3x0@0x5", "matmul", ("normal", (3, 0)), ("normal", (0, 5))),
        case("0x5@5x3", "matmul", ("normal", (0, 5)), ("normal", (5, 3))),
    ],
)
def test_matmul(student, reference, rng, op, inputs, kwargs):
    op_case(student, reference, rng, "MatMul.backward", op, draw(rng, inputs), kwargs)


@pytest.mark.rubric(task="4.1", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("zeros3x5@5x7", "matmul", ("zeros", (3, 5)), ("normal", (5, 7))),
        case("2x3x5@5", "matmul", ("normal", (2, 3, 5)), ("zeros", (5,))),
    ],
)
def test_matmul_zeros(student, reference, rng, op, inputs, kwargs):
    # exact zeros in an operand and in the upstream gradient
    op_case(student, reference, rng, "MatMul.backward", op, draw(rng, inputs), kwargs, upstream_zeros=True)


@pytest.mark.rubric(task="4.1", weight=1)
@pytest.mark.parametrize(
    "x_shape, out_features, bias",
    [
        pytest.param((3, 5), 7, True, id="3x5->7"),
        pytest.param((1, 5), 3, True, id="batch1:1x5->3"),
        pytest.param((7, 3), 1, True, id="7x3->1"),
        pytest.param((3, 5), 7, False, id="3x5->7,no-bias"),
        pytest.param((2, 3, 5), 7, True, id="2x3x5->7"),
    ],
)
def test_linear(student, reference, rng, x_shape, out_features, bias):
    linear_case(student, reference, rng, x_shape, out_features, bias)
