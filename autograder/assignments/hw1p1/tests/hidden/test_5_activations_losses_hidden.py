"""Tasks 5.1-5.3 (hidden cases): activations, log_softmax, losses (MSELoss is composed of other ops:
few cases; the fused cross-entropy gets most)."""

import numpy as np
import pytest
from hw1p1_checks import case, draw, loss_case, nonzero, normal, op_case

LABELS = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "log_softmax": "LogSoftmax"}


def _run(student, reference, rng, op, inputs, kwargs, scale=1.0, **options):
    arrays = [scale * x for x in draw(rng, inputs)]
    op_case(student, reference, rng, LABELS[op] + ".backward", op, arrays, kwargs, **options)


@pytest.mark.rubric(task="5.1", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("relu(3x5)", "relu", ("nonzero", (3, 5))),
        case("relu(())", "relu", ("nonzero", ())),
        case("relu(7)", "relu", ("nonzero", (7,))),
        case("relu(2x3x5)", "relu", ("nonzero", (2, 3, 5))),
        case("sigmoid(3x5)", "sigmoid", ("normal", (3, 5))),
        case("sigmoid(())", "sigmoid", ("normal", ())),
        case("sigmoid(7)", "sigmoid", ("normal", (7,))),
        case("sigmoid(2x3x5)", "sigmoid", ("normal", (2, 3, 5))),
        case("tanh(3x5)", "tanh", ("normal", (3, 5))),
        case("tanh(())", "tanh", ("normal", ())),
        case("tanh(7)", "tanh", ("normal", (7,))),
        case("tanh(2x3x5)", "tanh", ("normal", (2, 3, 5))),
    ],
)
def test_activations(student, reference, rng, op, inputs, kwargs):
    _run(student, reference, rng, op, inputs, kwargs)


@pytest.mark.rubric(task="5.1", weight=1)
def test_relu_at_zero(student, reference, rng):
    # exact zeros are ReLU's kink: the handout states ReLU'(0) = 0 (as PyTorch); finite differences mean
    # nothing there, so only the reference decides
    x = draw(rng, [("zeros", (3, 5))])[0]
    op_case(
        student,
        reference,
        rng,
        "ReLU.backward",
        "relu",
        [x],
        None,
        numeric=False,
        upstream_zeros=True,
        kink="x has exact zeros, ReLU's kink: compared with the reference only (ReLU'(0) = 0, as PyTorch)",
    )


@pytest.mark.rubric(task="5.1", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("sigmoid(zeros3x5)", "sigmoid", ("zeros", (3, 5))),
        case("tanh(zeros3x5)", "tanh", ("zeros", (3, 5))),
        case("relu(1)", "relu", ("nonzero", (1,))),
        case("sigmoid(0x5)", "sigmoid", ("normal", (0, 5))),
        case("tanh(1x1)", "tanh", ("normal", (1, 1))),
    ],
)
def test_activations_zeros_and_sizes(student, reference, rng, op, inputs, kwargs):
    _run(student, reference, rng, op, inputs, kwargs, upstream_zeros=True)


@pytest.mark.rubric(task="5.1", weight=1)
@pytest.mark.parametrize("op", ["sigmoid", "tanh"])
def test_activation_saturated(student, reference, rng, op):
    # large inputs: the derivative is tiny but must not be NaN or the wrong sign
    x = np.concatenate([nonzero(rng, (5,), low=0.5) * 15.0, normal(rng, (5,))])
    op_case(student, reference, rng, LABELS[op] + ".backward", op, [x], None, numeric=False)


@pytest.mark.rubric(task="5.2", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("3x5,axis=-1", "log_softmax", ("normal", (3, 5)), axis=-1),
        case("3x5,axis=0", "log_softmax", ("normal", (3, 5)), axis=0),
        case("2x3x5,axis=1", "log_softmax", ("normal", (2, 3, 5)), axis=1),
        case("7,axis=0", "log_softmax", ("normal", (7,)), axis=0),
        case("5x1,axis=-1", "log_softmax", ("normal", (5, 1)), axis=-1),
        case("2x3x5,axis=-3", "log_softmax", ("normal", (2, 3, 5)), axis=-3),
        case("1,axis=0", "log_softmax", ("normal", (1,)), axis=0),
        case("0x5,axis=-1", "log_softmax", ("normal", (0, 5)), axis=-1),
    ],
)
def test_log_softmax(student, reference, rng, op, inputs, kwargs):
    _run(student, reference, rng, op, inputs, kwargs)


@pytest.mark.rubric(task="5.2", weight=1)
def test_log_softmax_ties_and_zero_upstream(student, reference, rng):
    # equal logits in a row (ties) and exact zeros in the upstream gradient
    x = normal(rng, (3, 5))
    x[1] = 0.7
    x[2, :3] = 0.0
    op_case(student, reference, rng, "LogSoftmax.backward", "log_softmax", [x], {"axis": 1}, upstream_zeros=True)


@pytest.mark.rubric(task="5.2", weight=1)
def test_log_softmax_large_logits(student, reference, rng):
    # logits around +-1000: exp overflows unless shifted by the maximum
    x = normal(rng, (3, 5)) + np.array([[1000.0], [-1000.0], [0.0]])
    op_case(student, reference, rng, "LogSoftmax.backward", "log_softmax", [x], {"axis": -1}, numeric=False)


@pytest.mark.rubric(task="5.3", weight=1)
@pytest.mark.parametrize(
    "shape, reduction",
    [
        pytest.param((3, 5), "sum", id="3x5,sum"),
        pytest.param((2, 3, 5), "mean", id="2x3x5,mean"),
        pytest.param((1, 1), "mean", id="1x1,mean"),
    ],
)
def test_mse_loss(student, reference, rng, shape, reduction):
    loss_case(student, reference, rng, "mse", normal(rng, shape), normal(rng, shape), reduction)


@pytest.mark.rubric(task="5.3", weight=1)
@pytest.mark.parametrize(
    "n, c, scale",
    [
        pytest.param(5, 7, 1.0, id="5x7"),
        pytest.param(7, 3, 3.0, id="7x3"),
        pytest.param(1, 5, 1.0, id="batch1:1x5"),
        pytest.param(6, 2, 2.0, id="6x2"),
    ],
)
def test_cross_entropy(student, reference, rng, n, c, scale):
    labels = rng.integers(0, c, size=n)
    loss_case(student, reference, rng, "ce", scale * normal(rng, (n, c)), labels)


@pytest.mark.rubric(task="5.3", weight=1)
def test_cross_entropy_tied_logits_zero_upstream(student, reference, rng):
    # every logit equal (softmax exactly uniform), then tied largest logits
    loss_case(student, reference, rng, "ce", np.zeros((4, 3)), np.array([0, 2, 1, 2]))
    logits = normal(rng, (3, 5))
    logits[:, 1] = logits[:, 3] = logits.max() + 1.0
    loss_case(student, reference, rng, "ce", logits, np.array([1, 3, 0]))


@pytest.mark.rubric(task="5.3", weight=1)
def test_cross_entropy_repeated_labels(student, reference, rng):
    labels = np.array([2, 2, 0, 2, 2])
    loss_case(student, reference, rng, "ce", normal(rng, (5, 3)), labels)


@pytest.mark.rubric(task="5.3", weight=1)
@pytest.mark.parametrize("sign", [pytest.param(1.0, id="+1000"), pytest.param(-1.0, id="-1000")])
def test_cross_entropy_large_logits(student, reference, rng, sign):
    # logits of +-1000: a naive exp overflows (inf/NaN); the fused backward must stay finite
    logits = sign * 1000.0 + normal(rng, (4, 5))
    logits[0, 1] += sign * 1000.0
    labels = np.array([1, 0, 4, 2])
    loss_case(student, reference, rng, "ce", logits, labels, numeric=False)
