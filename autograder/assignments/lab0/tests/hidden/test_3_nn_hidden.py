"""Tasks 3.1 and 3.2 (hidden): other network shapes, zero_grad on parts of a network, the parameters a
neuron's output reaches, and training on two moons with accuracy measured here on held-out points."""

import pytest
from lab0_checks import check_numbers, mlp_params, moons, normal, train_case

from autograder.framework.compare import CheckFailed

# The reference reaches 84-90% held-out accuracy with these settings (a linear boundary: about 85%).
MOONS = dict(sizes=[2, 5, 1], n=20, steps=20, lr=0.4, batch_size=6)
MIN_ACCURACY = 0.8


@pytest.mark.rubric(task="3.1", weight=2)
@pytest.mark.parametrize("sizes", [[3, 4, 4, 2], [1, 2, 1]], ids=["3-4-4-2", "1-2-1"])
def test_mlp_forward(student, reference, rng, sizes):
    call = dict(
        sizes=sizes, params=mlp_params(rng, sizes), points=[[normal(rng) for _ in range(sizes[0])] for _ in range(4)]
    )
    got = student.run("mlp_forward", **call)
    want = reference.run("mlp_forward", **call)
    check_numbers(f"MLP({sizes}): output for point ", got["outs"], want["outs"])


@pytest.mark.rubric(task="3.1", weight=1)
@pytest.mark.parametrize("activation", ["tanh", "relu", "linear"])
def test_neuron_reaches_every_parameter(student, reference, rng, activation):
    call = dict(
        weights=[normal(rng) for _ in range(4)],
        bias=normal(rng),
        activation=activation,
        point=[normal(rng) for _ in range(4)],
    )
    got = student.run("neuron_reaches", **call)
    missing = [f"w[{i}]" if i < 4 else "b" for i, hit in enumerate(got["params"]) if not hit]
    missing += [f"x[{i}]" for i, hit in enumerate(got["inputs"]) if not hit]
    if missing:
        raise CheckFailed(
            f"Neuron(4, {activation!r}): the output was not computed from {', '.join(missing)} "
            f"(following .children from the output never reaches it), so backward() cannot give it "
            f"a gradient. Build the output with Value operations on the weights, bias and inputs."
        )


@pytest.mark.rubric(task="3.1", weight=1)
@pytest.mark.parametrize("which", ["layer0", "mlp"])
def test_zero_grad(student, reference, rng, which):
    sizes = [3, 2, 2]
    call = dict(sizes=sizes, grads=[normal(rng) for _ in range(14)], which=which)
    got = student.run("zero_grad", **call)
    want = reference.run("zero_grad", **call)
    check_numbers(f"after {which}.zero_grad() on MLP({sizes}), the grad of parameter ", got["grads"], want["grads"])


@pytest.mark.rubric(task="3.2", weight=1)
@pytest.mark.parametrize(
    "sizes, n, steps, batch", [([2, 4, 1], 8, 4, 3), ([2, 2, 2, 1], 5, 3, None)], ids=["2-4-1-batches", "2-2-2-1"]
)
def test_train_step(student, reference, rng, sizes, n, steps, batch):
    train_case(student, reference, rng, sizes=sizes, n=n, steps=steps, lr=0.15, batch_size=batch)


@pytest.mark.rubric(task="3.2", weight=3)
@pytest.mark.deadline(10)
def test_train_two_moons(student, reference, rng):
    call, got, want = train_case(
        student,
        reference,
        rng,
        sizes=MOONS["sizes"],
        n=MOONS["n"],
        steps=MOONS["steps"],
        lr=MOONS["lr"],
        batch_size=MOONS["batch_size"],
    )
    X, y = moons(rng, 200)  # held out: never sent to the worker
    accuracy = reference.function("moons_accuracy", sizes=MOONS["sizes"], X=X, y=y)
    got_acc, want_acc = accuracy(params=got["params"]), accuracy(params=want["params"])
    needed = min(MIN_ACCURACY, want_acc) - 0.02
    if got_acc < needed:
        raise CheckFailed(
            f"after training on two moons, {got_acc:.1%} of 200 held-out points are classified "
            f"right; at least {needed:.1%} is needed (the reference reaches {want_acc:.1%})"
        )
