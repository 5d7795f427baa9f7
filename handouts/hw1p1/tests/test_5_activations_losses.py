"""Tasks 5.1-5.3: activations, log_softmax, MSELoss and CrossEntropyLoss backward."""

import pytest
from hw1p1_checks import case, draw, loss_case, normal, op_case


@pytest.mark.rubric(task="5.1", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("relu(3x5)", "relu", ("nonzero", (3, 5))),
        case("sigmoid(3x5)", "sigmoid", ("normal", (3, 5))),
        case("tanh(3x5)", "tanh", ("normal", (3, 5))),
    ],
)
def test_activations(student, reference, rng, op, inputs, kwargs):
    label = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh"}[op] + ".backward"
    op_case(student, reference, rng, label, op, draw(rng, inputs), kwargs)


@pytest.mark.rubric(task="5.2", weight=1)
@pytest.mark.parametrize(
    "op, inputs, kwargs",
    [
        case("3x5,axis=-1", "log_softmax", ("normal", (3, 5)), axis=-1),
    ],
)
def test_log_softmax(student, reference, rng, op, inputs, kwargs):
    op_case(student, reference, rng, "LogSoftmax.backward", op, draw(rng, inputs), kwargs)


@pytest.mark.rubric(task="5.3", weight=1)
def test_mse_loss(student, reference, rng):
    loss_case(student, reference, rng, "mse", normal(rng, (3, 5)), normal(rng, (3, 5)), "mean")


@pytest.mark.rubric(task="5.3", weight=1)
def test_cross_entropy(student, reference, rng):
    labels = rng.integers(0, 5, size=3)
    loss_case(student, reference, rng, "ce", 3.0 * normal(rng, (3, 5)), labels)
