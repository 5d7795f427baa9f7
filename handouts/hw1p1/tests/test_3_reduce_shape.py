"""Tasks 3.1-3.4: Sum/Mean, Max, Reshape/Transpose and indexing backward."""

import pytest
from hw1p1_checks import case, draw, op_case


@pytest.mark.rubric(task="3.1", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("sum(3x5,axis=1)", "sum", ("normal", (3, 5)), axis=1),
        case("mean(2x3x5,axis=-1,keepdims)", "mean", ("normal", (2, 3, 5)), axis=-1, keepdims=True),
    ],
)
def test_sum_mean(student, reference, rng, op, inputs, kwargs):
    op_case(student, reference, rng, op.capitalize() + ".backward", op, draw(rng, inputs), kwargs)


@pytest.mark.rubric(task="3.2", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("max(3x5,axis=0)", "max", ("distinct", (3, 5)), axis=0),
    ],
)
def test_max(student, reference, rng, op, inputs, kwargs):
    op_case(student, reference, rng, "Max.backward", op, draw(rng, inputs), kwargs)


@pytest.mark.rubric(task="3.3", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("3x5->5x3", "reshape", ("normal", (3, 5)), shape=[5, 3]),
        # (1, 2, 0) is not its own inverse: a Transpose.backward that reuses self.axes fails here
        case("2x3x5.transpose(1,2,0)", "transpose", ("normal", (2, 3, 5)), axes=[1, 2, 0]),
    ],
)
def test_reshape_transpose(student, reference, rng, op, inputs, kwargs):
    op_case(student, reference, rng, op.capitalize() + ".backward", op, draw(rng, inputs), kwargs)


@pytest.mark.rubric(task="3.4", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("5x3[[0,2,0]]", "getitem", ("normal", (5, 3)), index=[[0, 2, 0]]),
    ],
)
def test_getitem(student, reference, rng, op, inputs, kwargs):
    op_case(student, reference, rng, "GetItem.backward", op, draw(rng, inputs), kwargs)
