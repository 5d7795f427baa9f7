"""Tasks 3.1-3.4 (hidden cases): reductions with every axis form, shapes and indexing."""

import numpy as np
import pytest
from hw1p1_checks import case, distinct, draw, op_case

LABELS = {
    "sum": "Sum",
    "mean": "Mean",
    "max": "Max",
    "reshape": "Reshape",
    "transpose": "Transpose",
    "T": "Transpose",
    "getitem": "GetItem",
}


def _run(student, reference, rng, op, inputs, kwargs, **options):
    op_case(student, reference, rng, LABELS[op] + ".backward", op, draw(rng, inputs), kwargs, **options)


@pytest.mark.rubric(task="3.1", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("sum(3x5)", "sum", ("normal", (3, 5))),
        case("sum(3x5,axis=0)", "sum", ("normal", (3, 5)), axis=0),
        case("sum(3x5,axis=-1,keepdims)", "sum", ("normal", (3, 5)), axis=-1, keepdims=True),
        case("sum(2x3x5,axis=(0,2))", "sum", ("normal", (2, 3, 5)), axis=[0, 2]),
        case("sum(2x3x5,axis=-2,keepdims)", "sum", ("normal", (2, 3, 5)), axis=-2, keepdims=True),
        case("sum(7)", "sum", ("normal", (7,)), axis=0),
        case("sum(())", "sum", ("normal", ())),
        case("sum(3x1x5,axis=1)", "sum", ("normal", (3, 1, 5)), axis=1),
        case("sum(3x5,keepdims)", "sum", ("normal", (3, 5)), keepdims=True),
        case("sum(0x5,axis=0)", "sum", ("normal", (0, 5)), axis=0),
        case("sum(3x0,axis=1)", "sum", ("normal", (3, 0)), axis=1),
        case("sum(1,axis=0)", "sum", ("normal", (1,)), axis=0),
        case("sum((),axis=None,keepdims)", "sum", ("normal", ()), keepdims=True),
    ],
)
def test_sum(student, reference, rng, op, inputs, kwargs):
    _run(student, reference, rng, op, inputs, kwargs)


@pytest.mark.rubric(task="3.1", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("mean(3x5)", "mean", ("normal", (3, 5))),
        case("mean(3x5,axis=0)", "mean", ("normal", (3, 5)), axis=0),
        case("mean(3x5,axis=1,keepdims)", "mean", ("normal", (3, 5)), axis=1, keepdims=True),
        case("mean(2x3x5,axis=(-1,0))", "mean", ("normal", (2, 3, 5)), axis=[-1, 0]),
        case("mean(7)", "mean", ("normal", (7,))),
        case("mean(5x1x3,axis=-3,keepdims)", "mean", ("normal", (5, 1, 3)), axis=-3, keepdims=True),
        case("mean(())", "mean", ("normal", ())),
        case("mean(1x1)", "mean", ("normal", (1, 1)), axis=1),
        case("mean(3x0,axis=0)", "mean", ("normal", (3, 0)), axis=0),
    ],
)
def test_mean(student, reference, rng, op, inputs, kwargs):
    _run(student, reference, rng, op, inputs, kwargs)


@pytest.mark.rubric(task="3.2", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("max(3x5)", "max", ("distinct", (3, 5))),
        case("max(3x5,axis=1)", "max", ("distinct", (3, 5)), axis=1),
        case("max(3x5,axis=-2,keepdims)", "max", ("distinct", (3, 5)), axis=-2, keepdims=True),
        case("max(2x3x5,axis=(0,2))", "max", ("distinct", (2, 3, 5)), axis=[0, 2]),
        case("max(7)", "max", ("distinct", (7,)), axis=0),
        case("max(2x3x5,axis=-1,keepdims)", "max", ("distinct", (2, 3, 5)), axis=-1, keepdims=True),
        case("max(3x1x5,axis=1)", "max", ("distinct", (3, 1, 5)), axis=1),
        case("max(())", "max", ("distinct", ())),
        case("max(1)", "max", ("distinct", (1,)), axis=0),
    ],
)
def test_max(student, reference, rng, op, inputs, kwargs):
    _run(student, reference, rng, op, inputs, kwargs)


@pytest.mark.rubric(task="3.3", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("3x5->15", "reshape", ("normal", (3, 5)), shape=[15]),
        case("2x3x5->6x-1", "reshape", ("normal", (2, 3, 5)), shape=[6, -1]),
        case("15->3x1x5", "reshape", ("normal", (15,)), shape=[3, 1, 5]),
        case("()->1x1", "reshape", ("normal", ()), shape=[1, 1]),
        case("7x1->7", "reshape", ("normal", (7, 1)), shape=[7]),
    ],
)
def test_reshape(student, reference, rng, op, inputs, kwargs):
    _run(student, reference, rng, op, inputs, kwargs)


@pytest.mark.rubric(task="3.3", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("3x5.T", "T", ("normal", (3, 5))),
        case("3x5.transpose()", "transpose", ("normal", (3, 5))),
        case("2x3x5.transpose(2,0,1)", "transpose", ("normal", (2, 3, 5)), axes=[2, 0, 1]),
        case("2x3x5.transpose()", "transpose", ("normal", (2, 3, 5))),
        case("3x1x5.transpose(1,2,0)", "transpose", ("normal", (3, 1, 5)), axes=[1, 2, 0]),
        case("7.T", "T", ("normal", (7,))),
        case("2x3x5x7.transpose(3,1,0,2)", "transpose", ("normal", (2, 3, 5, 7)), axes=[3, 1, 0, 2]),
        case("2x3x5.transpose(1,2,0)", "transpose", ("normal", (2, 3, 5)), axes=[1, 2, 0]),
        case("().T", "T", ("normal", ())),
    ],
)
def test_transpose(student, reference, rng, op, inputs, kwargs):
    _run(student, reference, rng, op, inputs, kwargs)


def _slice(start=None, stop=None, step=None):
    return {"slice": [start, stop, step]}


@pytest.mark.rubric(task="3.4", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("5x3[1]", "getitem", ("normal", (5, 3)), index=[1]),
        case("5x3[-1]", "getitem", ("normal", (5, 3)), index=[-1]),
        case("5x3[1:4]", "getitem", ("normal", (5, 3)), index=[_slice(1, 4)]),
        case("5x7[:,::2]", "getitem", ("normal", (5, 7)), index=[_slice(), _slice(None, None, 2)]),
        case("7[[0,3,0,0]]", "getitem", ("normal", (7,)), index=[[0, 3, 0, 0]]),
        case("5x3[[0,1,0],[2,2,2]]", "getitem", ("normal", (5, 3)), index=[[0, 1, 0], [2, 2, 2]]),
        case("2x3x5[...,1]", "getitem", ("normal", (2, 3, 5)), index=["...", 1]),
        case("5x7[1:3,[0,0,4]]", "getitem", ("normal", (5, 7)), index=[_slice(1, 3), [0, 0, 4]]),
        case("3x5[[2,2],::-1]", "getitem", ("normal", (3, 5)), index=[[2, 2], _slice(None, None, -1)]),
        case("7[[]]", "getitem", ("normal", (7,)), index=[[]]),
        case("1[[0,0,0]]", "getitem", ("normal", (1,)), index=[[0, 0, 0]]),
    ],
)
def test_getitem(student, reference, rng, op, inputs, kwargs):
    _run(student, reference, rng, op, inputs, kwargs)


@pytest.mark.rubric(task="3.2", weight=1)
@pytest.mark.parametrize("axis", [pytest.param(1, id="3x5,axis=1"), pytest.param(None, id="3x5,axis=None")])
def test_max_ties(student, reference, rng, axis):
    # Ties share the gradient equally (as torch.amax); no numerical check: a tie is a kink.
    x = distinct(rng, (3, 5))
    rows = np.arange(3)
    x[rows, (np.argmax(x, axis=1) + 2) % 5] = x.max(axis=1)  # every row's maximum appears twice
    op_case(
        student,
        reference,
        rng,
        "Max.backward (tied maxima)",
        "max",
        [x],
        {"axis": axis},
        numeric=False,
        kink="ties in max are a kink: compared with the reference only (ties share equally, as torch.amax)",
    )


@pytest.mark.rubric(task="3.2", weight=1)
@pytest.mark.parametrize(
    "axis, keepdims",
    [
        pytest.param([0, 2], False, id="2x3x5,axis=(0,2)"),
        pytest.param(-1, True, id="2x3x5,axis=-1,keepdims"),
        pytest.param(0, False, id="2x3x5,axis=0,three-way"),
    ],
)
def test_max_ties_any_axes(student, reference, rng, axis, keepdims):
    # every slice's maximum appears two or three times, exactly; the upstream gradient has exact zeros
    x = np.round(distinct(rng, (2, 3, 5)) * 2) / 2
    x[0, 0, :] = x[1, 0, :] = x[:, 0, :].max()  # ties across axis 0
    x[..., 1] = x[..., 3] = x.max() + 1.0  # ties along the last axis (and across the others)
    op_case(
        student,
        reference,
        rng,
        "Max.backward (tied maxima)",
        "max",
        [x],
        {"axis": axis, "keepdims": keepdims},
        numeric=False,
        upstream_zeros=True,
        kink="ties in max are a kink: compared with the reference only (ties share equally, as torch.amax)",
    )
