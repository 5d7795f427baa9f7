"""Tasks 3.1 (Neuron forward, zero_grad) and 3.2 (train_step).

3.1's checks need only forward passes (the given operations). 3.2's run fit() with a kit of the
scenarios' own operations, backward, zero_grad and Neuron, so that only your train_step is under test.
"""

import pytest
from lab0_checks import check_neuron, check_numbers, mlp_params, normal, train_case

from autograder.framework.compare import CheckFailed


@pytest.mark.rubric(task="3.1", weight=2)
@pytest.mark.parametrize("activation", ["tanh", "relu", "linear"])
@pytest.mark.parametrize("as_values", [False, True], ids=["numbers", "values"])
def test_neuron_forward(student, reference, rng, activation, as_values):
    n_in = 3
    call = dict(
        weights=[normal(rng) for _ in range(n_in)],
        bias=normal(rng, 0.3),
        activation=activation,
        points=[[normal(rng) for _ in range(n_in)] for _ in range(4)],
        as_values=as_values,
    )
    got = student.run("neuron_forward", **call)
    want = reference.run("neuron_forward", **call)
    what = f"Neuron(3, {activation!r}) called on {'Values' if as_values else 'numbers'}"
    if got["kinds"] != want["kinds"]:
        raise CheckFailed(
            f"{what} returned {got['kinds'][0]}; expected a Value (build the output with Value "
            f"operations, so that backward() can reach the weights)"
        )
    check_neuron(what, call, got["outs"], want["outs"])


@pytest.mark.rubric(task="3.1", weight=1)
def test_mlp_forward(student, reference, rng):
    sizes = [2, 4, 1]
    call = dict(sizes=sizes, params=mlp_params(rng, sizes), points=[[normal(rng), normal(rng)] for _ in range(5)])
    got = student.run("mlp_forward", **call)
    want = reference.run("mlp_forward", **call)
    check_numbers("MLP([2, 4, 1]) (tanh hidden layer, linear output): output for point ", got["outs"], want["outs"])


@pytest.mark.rubric(task="3.1", weight=2)
@pytest.mark.parametrize("which", ["mlp", "neuron0"])
def test_zero_grad(student, reference, rng, which):
    sizes = [2, 3, 1]
    call = dict(sizes=sizes, grads=[normal(rng) for _ in range(13)], which=which)
    got = student.run("zero_grad", **call)
    want = reference.run("zero_grad", **call)
    check_numbers(f"after {which}.zero_grad() on MLP([2, 3, 1]), the grad of parameter ", got["grads"], want["grads"])


@pytest.mark.rubric(task="3.2")
def test_train_step(student, reference, rng):
    train_case(student, reference, rng, sizes=[2, 3, 1], n=6, steps=3, lr=0.1)
