"""Tasks 2.1-2.4: unbroadcast and the elementwise ops' backward."""

import pytest
from hw1p1_checks import case, draw, normal, op_case

from autograder.framework.compare import check_array


@pytest.mark.rubric(task="2.1", weight=1)
@pytest.mark.parametrize(
    "out_shape, shape",
    [
        pytest.param((3, 5), (5,), id="3x5->5"),
        pytest.param((2, 3, 5), (3, 1), id="2x3x5->3x1"),
    ],
)
def test_unbroadcast(student, reference, rng, out_shape, shape):
    grad = normal(rng, out_shape)
    got = student.run("unbroadcast", grad=grad, shape=list(shape))
    want = reference.run("unbroadcast", grad=grad, shape=list(shape))
    check_array(f"unbroadcast(grad of shape {out_shape}, {shape})", got, want)


@pytest.mark.rubric(task="2.2", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("3x5+3x1", "add", ("normal", (3, 5)), ("normal", (3, 1))),
        case("5-3x5", "sub", ("normal", (5,)), ("normal", (3, 5))),
        case("-3x5", "neg", ("normal", (3, 5))),
    ],
)
def test_add_sub_neg(student, reference, rng, op, inputs, kwargs):
    op_case(student, reference, rng, op.capitalize() + ".backward", op, draw(rng, inputs), kwargs)


@pytest.mark.rubric(task="2.3", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("3x5*3x1", "mul", ("normal", (3, 5)), ("normal", (3, 1))),
        case("3x5/5", "div", ("normal", (3, 5)), ("nonzero", (5,))),
    ],
)
def test_mul_div(student, reference, rng, op, inputs, kwargs):
    op_case(student, reference, rng, op.capitalize() + ".backward", op, draw(rng, inputs), kwargs)


@pytest.mark.rubric(task="2.4", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("3x5**3", "pow", ("normal", (3, 5)), exponent=3.0),
        case("exp(3x5)", "exp", ("normal", (3, 5))),
        case("log(5x3)", "log", ("positive", (5, 3))),
    ],
)
def test_pow_exp_log(student, reference, rng, op, inputs, kwargs):
    op_case(student, reference, rng, op.capitalize() + ".backward", op, draw(rng, inputs), kwargs)
