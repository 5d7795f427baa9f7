"""Tasks 2.1-2.4 (hidden cases): unbroadcast and elementwise backward on many shapes.

Shapes use distinct odd sizes (3, 5, 7) and size-1 axes so that axis mix-ups and a missing
un-broadcast cannot hide; 0-d and 1-d operands and scalars on either side are included.
"""

import pytest
from hw1p1_checks import case, draw, known_wrong, normal, op_case

from autograder.framework.compare import check_array


@pytest.mark.rubric(task="2.1", weight=1)
@pytest.mark.parametrize(
    "out_shape, shape",
    [
        pytest.param((3, 5), (3, 5), id="3x5->3x5"),
        pytest.param((3, 5), (3, 1), id="3x5->3x1"),
        pytest.param((3, 5), (1, 5), id="3x5->1x5"),
        pytest.param((3, 5), (1, 1), id="3x5->1x1"),
        pytest.param((3, 5), (), id="3x5->()"),
        pytest.param((4, 1, 5), (1,), id="4x1x5->1"),
        pytest.param((2, 3, 5), (5,), id="2x3x5->5"),
        pytest.param((7, 3, 5), (7, 1, 5), id="7x3x5->7x1x5"),
        pytest.param((3, 7, 5), (7, 1), id="3x7x5->7x1"),
        pytest.param((), (), id="()->()"),
        pytest.param((1,), (), id="1->()"),
        pytest.param((0, 5), (5,), id="0x5->5"),
        pytest.param((3, 0), (1, 0), id="3x0->1x0"),
    ],
)
def test_unbroadcast(student, reference, rng, out_shape, shape):
    grad = normal(rng, out_shape)
    got = student.run("unbroadcast", grad=grad, shape=list(shape))
    want = reference.run("unbroadcast", grad=grad, shape=list(shape))
    check_array(
        f"unbroadcast(grad of shape {out_shape}, {shape})",
        got,
        want,
        wrong=known_wrong("unbroadcast", grad=grad, shape=tuple(shape)),
        key="out",
    )


def _run(student, reference, rng, op, inputs, kwargs, **options):
    op_case(student, reference, rng, op.capitalize() + ".backward", op, draw(rng, inputs), kwargs, **options)


@pytest.mark.rubric(task="2.2", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("3x5+3x5", "add", ("normal", (3, 5)), ("normal", (3, 5))),
        case("3x5+5", "add", ("normal", (3, 5)), ("normal", (5,))),
        case("1x5+3x1", "add", ("normal", (1, 5)), ("normal", (3, 1))),
        case("()+3x5", "add", ("normal", ()), ("normal", (3, 5))),
        case("2x3x5+3x1", "add", ("normal", (2, 3, 5)), ("normal", (3, 1))),
        case("7+()", "add", ("normal", (7,)), ("normal", ())),
        case("3x5+2.5", "add", ("normal", (3, 5)), scalar=2.5),
        case("2.5+3x5", "add", ("normal", (3, 5)), scalar=2.5, side="left"),
        case("0x5+5", "add", ("normal", (0, 5)), ("normal", (5,))),
        case("1+1x1", "add", ("normal", (1,)), ("normal", (1, 1))),
    ],
)
def test_add(student, reference, rng, op, inputs, kwargs):
    _run(student, reference, rng, op, inputs, kwargs)


@pytest.mark.rubric(task="2.2", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("3x5-3x5", "sub", ("normal", (3, 5)), ("normal", (3, 5))),
        case("3x5-3x1", "sub", ("normal", (3, 5)), ("normal", (3, 1))),
        case("1x5-3x1", "sub", ("normal", (1, 5)), ("normal", (3, 1))),
        case("()-7", "sub", ("normal", ()), ("normal", (7,))),
        case("2x3x5-5", "sub", ("normal", (2, 3, 5)), ("normal", (5,))),
        case("2.5-3x5", "sub", ("normal", (3, 5)), scalar=2.5, side="left"),
        case("3x5-2.5", "sub", ("normal", (3, 5)), scalar=2.5),
    ],
)
def test_sub(student, reference, rng, op, inputs, kwargs):
    _run(student, reference, rng, op, inputs, kwargs)


@pytest.mark.rubric(task="2.2", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("-3x5", "neg", ("normal", (3, 5))),
        case("-()", "neg", ("normal", ())),
        case("-7", "neg", ("normal", (7,))),
        case("-2x3x5", "neg", ("normal", (2, 3, 5))),
        case("-1", "neg", ("normal", (1,))),
    ],
)
def test_neg(student, reference, rng, op, inputs, kwargs):
    _run(student, reference, rng, op, inputs, kwargs)


@pytest.mark.rubric(task="2.3", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("3x5*3x5", "mul", ("normal", (3, 5)), ("normal", (3, 5))),
        case("3x5*5", "mul", ("normal", (3, 5)), ("normal", (5,))),
        case("1x5*3x1", "mul", ("normal", (1, 5)), ("normal", (3, 1))),
        case("7*()", "mul", ("normal", (7,)), ("normal", ())),
        case("3x1*2x3x5", "mul", ("normal", (3, 1)), ("normal", (2, 3, 5))),
        case("3x5*-1.5", "mul", ("normal", (3, 5)), scalar=-1.5),
        case("-1.5*3x5", "mul", ("normal", (3, 5)), scalar=-1.5, side="left"),
        case("zeros3x5*3x5", "mul", ("zeros", (3, 5)), ("zeros", (3, 5))),
    ],
)
def test_mul(student, reference, rng, op, inputs, kwargs):
    _run(student, reference, rng, op, inputs, kwargs)


@pytest.mark.rubric(task="2.3", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("3x5/3x5", "div", ("normal", (3, 5)), ("nonzero", (3, 5))),
        case("3x5/3x1", "div", ("normal", (3, 5)), ("nonzero", (3, 1))),
        case("5/3x5", "div", ("normal", (5,)), ("nonzero", (3, 5))),
        case("()/7", "div", ("normal", ()), ("nonzero", (7,))),
        case("2x3x5/1x5", "div", ("normal", (2, 3, 5)), ("nonzero", (1, 5))),
        case("3x5/4.0", "div", ("normal", (3, 5)), scalar=4.0),
        case("2.0/3x5", "div", ("nonzero", (3, 5)), scalar=2.0, side="left"),
        case("zeros3x5/3x5", "div", ("zeros", (3, 5)), ("nonzero", (3, 5))),
    ],
)
def test_div(student, reference, rng, op, inputs, kwargs):
    _run(student, reference, rng, op, inputs, kwargs)


@pytest.mark.rubric(task="2.4", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("3x5**2", "pow", ("normal", (3, 5)), exponent=2.0),
        case("7**3", "pow", ("normal", (7,)), exponent=3.0),
        case("3x5**0.5", "pow", ("positive", (3, 5)), exponent=0.5),
        case("2x3x5**-1.5", "pow", ("positive", (2, 3, 5)), exponent=-1.5),
        case("()**4", "pow", ("normal", ()), exponent=4.0),
        case("3x1**1", "pow", ("normal", (3, 1)), exponent=1.0),
        case("zeros3x5**0", "pow", ("zeros", (3, 5)), exponent=0.0),
        case("zeros3x5**1", "pow", ("zeros", (3, 5)), exponent=1.0),
        case("zeros3x5**2", "pow", ("zeros", (3, 5)), exponent=2.0),
        case("zeros7**3", "pow", ("zeros", (7,)), exponent=3.0),
        case("3x5**-1", "pow", ("nonzero", (3, 5)), exponent=-1.0),
        case("7**-2", "pow", ("nonzero", (7,)), exponent=-2.0),
        case("3x5**2.5", "pow", ("positive", (3, 5)), exponent=2.5),
        case("7**-0.5", "pow", ("positive", (7,)), exponent=-0.5),
    ],
)
def test_pow(student, reference, rng, op, inputs, kwargs):
    _run(student, reference, rng, op, inputs, kwargs)


@pytest.mark.rubric(task="2.4", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("exp(3x5)", "exp", ("normal", (3, 5))),
        case("exp(())", "exp", ("normal", ())),
        case("exp(7)", "exp", ("normal", (7,))),
        case("exp(2x3x5)", "exp", ("normal", (2, 3, 5))),
    ],
)
def test_exp(student, reference, rng, op, inputs, kwargs):
    _run(student, reference, rng, op, inputs, kwargs)


@pytest.mark.rubric(task="2.4", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("log(3x5)", "log", ("positive", (3, 5))),
        case("log(())", "log", ("positive", ())),
        case("log(7)", "log", ("positive", (7,))),
        case("log(2x3x5)", "log", ("positive", (2, 3, 5))),
    ],
)
def test_log(student, reference, rng, op, inputs, kwargs):
    _run(student, reference, rng, op, inputs, kwargs)


@pytest.mark.rubric(task="2.3", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("3x5*3x1", "mul", ("normal", (3, 5)), ("normal", (3, 1))),
        case("3x5/5", "div", ("normal", (3, 5)), ("nonzero", (5,))),
    ],
)
def test_mul_div_zero_upstream(student, reference, rng, op, inputs, kwargs):
    # exact zeros in the upstream gradient: a backward that divides by it, or masks on it, shows here
    _run(student, reference, rng, op, inputs, kwargs, upstream_zeros=True)


@pytest.mark.rubric(task="2.4", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("exp(3x5)", "exp", ("normal", (3, 5))),
        case("log(3x5)", "log", ("positive", (3, 5))),
        case("3x5**3", "pow", ("normal", (3, 5)), exponent=3.0),
    ],
)
def test_exp_log_pow_zero_upstream(student, reference, rng, op, inputs, kwargs):
    _run(student, reference, rng, op, inputs, kwargs, upstream_zeros=True)
