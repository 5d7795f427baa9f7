"""The reference library solutions/hw1p1/mytorch is right: every backward against central differences in
float64, the engine on hard graphs, nn/optim against hand-written numpy formulas, and the digits MLP."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from autograder.assignments.hw1p1.assignment import ASSIGNMENT, TASKS
from autograder.framework.harness import load_package

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions" / "hw1p1"
DIGITS = REPO / "autograder" / "assignments" / "hw1p1" / "data" / "digits.npz"


@pytest.fixture(scope="module", autouse=True)
def mt():
    """The reference package (re-imported if another test left a different `mytorch` in sys.modules)."""
    return load_package(SOLUTIONS, "mytorch")


@pytest.fixture
def rng(request) -> np.random.Generator:
    """A generator seeded from the test's id: deterministic, different per case."""
    return np.random.default_rng(sum(request.node.nodeid.encode()) + len(request.node.nodeid))


# ---------------------------------------------------------------- finite differences


def numerical_grad(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar f() w.r.t. every element of x (x is perturbed in place)."""
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


def check_backward(
    mt, fn: Callable, arrays: list[np.ndarray], rng: np.random.Generator, rtol: float = 1e-5, atol: float = 1e-7
) -> None:
    """fn(*tensors) -> Tensor; its backward with a random upstream must match central differences for every input."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    tensors = [mt.Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    upstream = rng.standard_normal(out.shape)  # random, never all ones: catches transposes and missing factors
    out.backward(upstream)
    for i, (a, t) in enumerate(zip(arrays, tensors)):

        def loss() -> float:
            return float(np.sum(fn(*[mt.Tensor(b) for b in arrays]).data * upstream))

        want = numerical_grad(loss, a)
        assert t.grad is not None, f"input {i}: no gradient"
        assert t.grad.shape == a.shape, f"input {i}: grad shape {t.grad.shape}, input shape {a.shape}"
        np.testing.assert_allclose(t.grad, want, rtol=rtol, atol=atol, err_msg=f"input {i}")


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...], low: float = 0.5) -> np.ndarray:
    """Random values with |x| >= low (no kinks, no division by ~0)."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, 2.0, size=shape)


def positive(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random values in [0.5, 2]."""
    return rng.uniform(0.5, 2.0, size=shape)


# ---------------------------------------------------------------- elementwise ops

BROADCAST_PAIRS = [
    ((3, 5), (3, 5)),
    ((3, 1), (1, 5)),
    ((5,), (3, 5)),
    ((3, 5), (5,)),
    ((), (3, 5)),
    ((3, 5), ()),
    ((7, 1, 5), (3, 1)),
    ((1,), (3, 5)),
    ((1, 1), (5,)),
]


@pytest.mark.parametrize("shape_a, shape_b", BROADCAST_PAIRS)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_binary_ops_backward(mt, rng, op, shape_a, shape_b):
    fn = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b}[
        op
    ]
    check_backward(mt, fn, [rng.standard_normal(shape_a), away_from_zero(rng, shape_b)], rng)


@pytest.mark.parametrize("op", ["radd", "rsub", "rmul", "rdiv", "ndarray_left", "numpy_scalar"])
def test_scalars_and_arrays_on_either_side(mt, rng, op):
    c = rng.standard_normal((3, 5))
    fn = {
        "radd": lambda a: 2.5 + a,
        "rsub": lambda a: 2.5 - a,
        "rmul": lambda a: 3 * a,
        "rdiv": lambda a: 2.0 / a,
        "ndarray_left": lambda a: c * a - c,
        "numpy_scalar": lambda a: np.float64(1.5) * a / np.int64(2),
    }[op]
    check_backward(mt, fn, [away_from_zero(rng, (3, 5))], rng)
    x = mt.Tensor(np.ones((3, 5)), requires_grad=True)
    assert isinstance(fn(x), mt.Tensor), "a scalar or ndarray on the left must still give a Tensor"


@pytest.mark.parametrize("op", ["neg", "exp", "log", "pow2", "pow3", "pow_half", "pow_neg"])
@pytest.mark.parametrize("shape", [(), (5,), (3, 5, 7), (3, 1)])
def test_unary_ops_backward(mt, rng, op, shape):
    fn = {
        "neg": lambda a: -a,
        "exp": lambda a: a.exp(),
        "log": lambda a: a.log(),
        "pow2": lambda a: a**2,
        "pow3": lambda a: a**3,
        "pow_half": lambda a: a**0.5,
        "pow_neg": lambda a: a**-1.5,
    }[op]
    x = positive(rng, shape) if op in ("log", "pow_half", "pow_neg") else rng.standard_normal(shape)
    check_backward(mt, fn, [x], rng)


def test_pow_refuses_a_tensor_exponent(mt):
    x = mt.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="scalar exponent"):
        _ = x**x


@pytest.mark.parametrize(
    "grad_shape, shape",
    [((4, 3), (3,)), ((4, 3), (1, 3)), ((2, 4, 3), (4, 1)), ((3,), (1,)), ((), ()), ((3, 5), (3, 5)), ((3, 5), ())],
)
def test_unbroadcast_sums_to_the_input_shape(mt, rng, grad_shape, shape):
    from mytorch.ops.broadcast import unbroadcast

    grad = rng.standard_normal(grad_shape)
    got = unbroadcast(grad, shape)
    # the adjoint of broadcasting: <unbroadcast(g), v> == <g, broadcast(v)> for every v
    v = rng.standard_normal(shape)
    assert got.shape == tuple(shape)
    np.testing.assert_allclose(np.sum(got * v), np.sum(grad * np.broadcast_to(v, grad_shape)), rtol=1e-12)


# ---------------------------------------------------------------- reductions

REDUCE_CASES = [
    ((3, 5, 7), None, False),
    ((3, 5, 7), 0, False),
    ((3, 5, 7), -1, True),
    ((3, 5, 7), (0, 2), False),
    ((3, 5, 7), (-1, 0), True),
    ((3, 1, 7), 1, False),
    ((5,), 0, False),
    ((5,), None, True),
    ((), None, False),
]


@pytest.mark.parametrize("shape, axis, keepdims", REDUCE_CASES)
@pytest.mark.parametrize("op", ["sum", "mean", "max"])
def test_reductions_backward(mt, rng, op, shape, axis, keepdims):
    # distinct values: max has no ties, so central differences are exact
    x = rng.permutation(np.prod(shape, dtype=int)).reshape(shape) * 0.1 + rng.uniform(0, 0.01, shape)

    def fn(a):
        return getattr(a, op)(axis=axis, keepdims=keepdims)

    out = fn(mt.Tensor(x))
    np.testing.assert_allclose(
        out.data, getattr(np, {"sum": "sum", "mean": "mean", "max": "amax"}[op])(x, axis=axis, keepdims=keepdims)
    )
    check_backward(mt, fn, [x], rng)


def test_max_splits_the_gradient_among_ties(mt):
    x = mt.Tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [0.0, -1.0, 5.0]], requires_grad=True)
    x.max(axis=1).backward(np.array([6.0, 3.0, 2.0]))
    np.testing.assert_allclose(x.grad, [[0, 3, 3], [1, 1, 1], [0, 0, 2]])
    y = mt.Tensor([4.0, 1.0, 4.0, 4.0], requires_grad=True)
    y.max().backward()
    np.testing.assert_allclose(y.grad, [1 / 3, 0, 1 / 3, 1 / 3])


def test_reduction_axis_out_of_range_is_an_error(mt):
    with pytest.raises(ValueError, match="out of range"):
        mt.Tensor(np.ones((3, 5))).sum(axis=2)


# ---------------------------------------------------------------- shape ops and indexing


@pytest.mark.parametrize(
    "shape, new", [((3, 5, 7), (15, 7)), ((3, 5, 7), (-1,)), ((3, 5), (5, 1, 3)), ((), (1, 1)), ((1,), ())]
)
def test_reshape_backward(mt, rng, shape, new):
    check_backward(mt, lambda a: a.reshape(new), [rng.standard_normal(shape)], rng)
    check_backward(mt, lambda a: a.reshape(*new), [rng.standard_normal(shape)], rng)


@pytest.mark.parametrize(
    "shape, axes",
    [
        ((3, 5, 7), None),
        ((3, 5, 7), (1, 0, 2)),
        ((3, 5, 7), (2, 0, 1)),
        ((3, 5, 7), (-1, 0, 1)),
        ((3, 5), None),
        ((5,), None),
    ],
)
def test_transpose_backward(mt, rng, shape, axes):
    fn = (lambda a: a.transpose()) if axes is None else (lambda a: a.transpose(*axes))
    check_backward(mt, fn, [rng.standard_normal(shape)], rng)
    if axes is not None:
        check_backward(mt, lambda a: a.transpose(axes), [rng.standard_normal(shape)], rng)


def test_T_property(mt, rng):
    check_backward(mt, lambda a: a.T, [rng.standard_normal((3, 5))], rng)


INDICES = [
    (slice(1, None), slice(None, None, 2)),
    1,
    -1,
    (Ellipsis, 2),
    (None, 0),
    [0, 2, 0, 0],  # repeated rows must accumulate
    ([0, 0, 2], [1, 1, 4]),  # repeated elements
    (slice(None), [4, 4, 0]),
    np.array([[0, 1], [1, 1]]),
]


@pytest.mark.parametrize("index", INDICES, ids=[repr(i) for i in INDICES])
def test_getitem_backward(mt, rng, index):
    x = rng.standard_normal((3, 5))
    np.testing.assert_array_equal(mt.Tensor(x)[index].data, x[index])
    check_backward(mt, lambda a: a[index], [x], rng)


def test_getitem_repeated_index_counts_every_pick(mt):
    x = mt.Tensor(np.zeros(4), requires_grad=True)
    x[[1, 1, 1, 3]].sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 3, 0, 1])


def test_getitem_with_a_tensor_index(mt, rng):
    x = mt.Tensor(rng.standard_normal((3, 5)), requires_grad=True)
    x[mt.Tensor([2, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad, np.r_[np.zeros((2, 5)), 2 * np.ones((1, 5))])


# ---------------------------------------------------------------- matmul

MATMUL_SHAPES = [
    ((3, 5), (5, 7)),
    ((5,), (5, 7)),
    ((3, 5), (5,)),
    ((5,), (5,)),
    ((2, 3, 5), (5, 7)),
    ((3, 5), (2, 5, 7)),
    ((2, 1, 3, 5), (4, 5, 7)),
    ((4, 3, 5), (5,)),
    ((5,), (2, 5, 7)),
    ((1, 5), (5, 1)),
]


@pytest.mark.parametrize("shape_a, shape_b", MATMUL_SHAPES)
def test_matmul_backward(mt, rng, shape_a, shape_b):
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    np.testing.assert_allclose((mt.Tensor(a) @ mt.Tensor(b)).data, a @ b)
    check_backward(mt, lambda x, y: x @ y, [a, b], rng)


def test_matmul_with_transposed_operand_and_constant(mt, rng):
    w = rng.standard_normal((7, 5))
    check_backward(mt, lambda x, y: x @ y.T, [rng.standard_normal((3, 5)), w], rng)
    # a constant operand: no gradient is computed for it, the other is still right
    c = rng.standard_normal((3, 5))
    W = mt.Tensor(w, requires_grad=True)
    (mt.Tensor(c) @ W.T).backward(np.ones((3, 7)))
    np.testing.assert_allclose(W.grad, np.ones((7, 3)) @ c)
    assert W.grad.flags.c_contiguous


def test_ndarray_at_tensor_uses_rmatmul(mt, rng):
    a = rng.standard_normal((3, 5))
    check_backward(mt, lambda y: a @ y, [rng.standard_normal((5, 7))], rng)


# ---------------------------------------------------------------- activations and softmax


@pytest.mark.parametrize("op", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("shape", [(), (3, 5, 7), (5,)])
def test_activations_backward(mt, rng, op, shape):
    check_backward(mt, lambda a: getattr(a, op)(), [away_from_zero(rng, shape, low=0.05)], rng)


def test_relu_derivative_at_zero_is_zero(mt):
    x = mt.Tensor([-1.0, 0.0, 2.0], requires_grad=True)
    x.relu().backward(np.ones(3))
    np.testing.assert_array_equal(x.grad, [0, 0, 1])


def test_sigmoid_is_stable_for_large_inputs(mt):
    x = mt.Tensor([-1000.0, 0.0, 1000.0], requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        s = x.sigmoid()
        s.backward(np.ones(3))
    np.testing.assert_allclose(s.data, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(x.grad, [0.0, 0.25, 0.0])


@pytest.mark.parametrize("axis", [-1, 0, 1, (0, 2)])
def test_log_softmax_backward(mt, rng, axis):
    x = rng.standard_normal((3, 5, 7))
    out = mt.log_softmax(mt.Tensor(x), axis=axis).data
    np.testing.assert_allclose(np.exp(out).sum(axis=axis), 1.0)
    check_backward(mt, lambda a: mt.log_softmax(a, axis=axis), [x], rng)


def test_log_softmax_is_stable(mt):
    out = mt.log_softmax(mt.Tensor([[1000.0, 0.0, -1000.0]]))
    np.testing.assert_allclose(out.data, [[0.0, -1000.0, -2000.0]])


# ---------------------------------------------------------------- engine


def test_topological_sort_lists_each_node_once_before_its_inputs(mt, rng):
    x = mt.Tensor(rng.standard_normal(3), requires_grad=True)
    c = mt.Tensor(rng.standard_normal(3))  # a constant is not part of the graph
    a = x * c
    b = a + x
    root = (a * b).sum()
    order = mt.topological_sort(root)
    assert order[0] is root
    ids = [id(t) for t in order]
    assert len(ids) == len(set(ids)) == 5  # root, a*b, b, a, x
    assert id(c) not in ids
    position = {id(t): i for i, t in enumerate(order)}
    for t in order:
        for parent in t.grad_fn.inputs if t.grad_fn else ():
            if parent.requires_grad:
                assert position[id(parent)] > position[id(t)], "a node must come before the nodes it was computed from"


def test_ten_thousand_node_chain(mt):
    x = mt.Tensor([1.0, 2.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 0.9999
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [0.9999**10_000] * 2, rtol=1e-10)
    assert len(mt.topological_sort(y)) == 10_001


def test_sixty_diamonds(mt):
    """x = x*x + x sixty times: each node's backward must run once (path-wise recursion is 3**60)."""
    x0 = 0.01
    leaf = mt.Tensor(x0, requires_grad=True)
    x, value, derivative = leaf, x0, 1.0
    for _ in range(60):
        x = x * x + x
        derivative *= 2 * value + 1  # d(v*v + v)/dv
        value = value * value + value
    calls = {"n": 0}
    for node in mt.topological_sort(x):
        if node.grad_fn is not None:
            original = node.grad_fn.backward

            def counting(g, original=original):
                calls["n"] += 1
                return original(g)

            node.grad_fn.backward = counting
    x.backward()
    assert calls["n"] == 120  # one Mul and one Add per diamond, each called once
    np.testing.assert_allclose(x.data, value, rtol=1e-12)
    np.testing.assert_allclose(leaf.grad, derivative, rtol=1e-10)


def test_fan_out_accumulates(mt, rng):
    a = rng.standard_normal((3, 5))
    x = mt.Tensor(a, requires_grad=True)
    (x * x + x * 3.0 - x.exp()).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * a + 3 - np.exp(a))


def test_constants_and_intermediates_get_no_grad(mt, rng):
    x = mt.Tensor(rng.standard_normal((3, 5)), requires_grad=True)
    c = mt.Tensor(rng.standard_normal((3, 5)))
    h = x * c
    out = (h + c).sum()
    out.backward()
    assert c.grad is None and h.grad is None and out.grad is None
    assert not c.requires_grad and h.requires_grad and not h.is_leaf and x.is_leaf
    np.testing.assert_allclose(x.grad, c.data)


def test_grads_are_private_plain_arrays(mt, rng):
    x = mt.Tensor(rng.standard_normal((3, 5)), requires_grad=True)
    y = mt.Tensor(rng.standard_normal((3, 5)), requires_grad=True)
    up = rng.standard_normal((3, 5))
    kept = up.copy()
    (x + y).backward(up)
    assert type(x.grad) is np.ndarray and x.grad.dtype == np.float64
    assert not np.shares_memory(x.grad, y.grad) and not np.shares_memory(x.grad, up)
    x.grad += 1.0  # must not change y's gradient nor the caller's upstream array
    np.testing.assert_array_equal(y.grad, kept)
    np.testing.assert_array_equal(up, kept)
    z = mt.Tensor(rng.standard_normal((3, 5)), requires_grad=True)
    z.sum().backward()  # Sum's backward broadcasts: the leaf still gets its own writeable array
    assert z.grad.flags.writeable and z.grad.flags.owndata
    z.grad += 1.0


def test_backward_twice_accumulates(mt, rng):
    a = rng.standard_normal(4)
    x = mt.Tensor(a, requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    loss.backward()
    np.testing.assert_allclose(x.grad, 4 * a)


def test_backward_seeds_only_one_element_outputs(mt):
    x = mt.Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match="one-element"):
        (x * 2).backward()
    with pytest.raises(ValueError, match="shape"):
        (x * 2).backward(np.ones(3))
    with pytest.raises(RuntimeError, match="does not require grad"):
        mt.Tensor([1.0]).backward()
    (x * 2).sum(keepdims=True).backward()  # shape (1, 1): one element, seeded with ones of that shape
    np.testing.assert_array_equal(x.grad, 2 * np.ones((2, 3)))


def test_no_grad_records_nothing(mt):
    x = mt.Tensor([1.0, 2.0], requires_grad=True)
    assert mt.is_grad_enabled()
    with mt.no_grad():
        y = x * 2 + 1
        with mt.no_grad():
            pass
        assert not mt.is_grad_enabled()
    assert mt.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    z = x * 2
    assert z.requires_grad and z.grad_fn is not None


def test_tensor_basics(mt):
    t = mt.Tensor([[1, 2, 3]])
    assert t.data.dtype == np.float64 and t.shape == (1, 3) and t.ndim == 2 and not t.requires_grad
    assert mt.Tensor(np.float32(0.1)).data.dtype == np.float64
    source = np.ones(3)
    u = mt.Tensor(source, requires_grad=True)
    source[0] = 5.0
    assert u.data[0] == 1.0, "Tensor(array) keeps its own copy"
    assert mt.Tensor([[2.5]]).item() == 2.5
    d = (u * 2).detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    assert u.numpy() is u.data
    assert u.grad is None


# ---------------------------------------------------------------- nn


def test_linear_layout_init_and_gradients(mt, rng):
    layer = mt.nn.Linear(5, 3, rng=np.random.default_rng(7))
    again = mt.nn.Linear(5, 3, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(layer.weight.data, again.weight.data)
    assert layer.weight.shape == (3, 5) and layer.bias.shape == (3,)
    bound = 1 / np.sqrt(5)
    for p in layer.parameters():
        assert p.requires_grad and np.all(np.abs(p.data) <= bound)
    big = mt.nn.Linear(400, 300, rng=np.random.default_rng(1))
    assert big.weight.data.max() > 0.9 * (1 / 20) and big.weight.data.min() < -0.9 * (1 / 20)
    x = rng.standard_normal((7, 5))
    g = rng.standard_normal((7, 3))
    out = layer(mt.Tensor(x))
    np.testing.assert_allclose(out.data, x @ layer.weight.data.T + layer.bias.data)
    out.backward(g)
    np.testing.assert_allclose(layer.weight.grad, g.T @ x)
    np.testing.assert_allclose(layer.bias.grad, g.sum(axis=0))
    assert mt.nn.Linear(5, 3, bias=False, rng=rng).bias is None
    assert len(mt.nn.Linear(5, 3, bias=False, rng=rng).parameters()) == 1


def test_module_parameters_train_eval_zero_grad(mt, rng):
    shared = mt.nn.Linear(4, 4, rng=rng)
    model = mt.nn.Sequential(
        mt.nn.Linear(3, 4, rng=rng), mt.nn.ReLU(), shared, mt.nn.Tanh(), shared, mt.nn.BatchNorm1d(4), mt.nn.Sigmoid()
    )
    params = model.parameters()
    assert [p.shape for p in params] == [(4, 3), (4,), (4, 4), (4,), (4,), (4,)]  # shared layer listed once
    assert model.eval() is model and not any(m.training for m in [model, *model.layers])
    model.train()
    assert all(m.training for m in [model, *model.layers])
    model(mt.Tensor(rng.standard_normal((5, 3)))).sum().backward()
    assert all(p.grad is not None for p in params)
    model.zero_grad()
    assert all(p.grad is None for p in params)


def test_mse_loss(mt, rng):
    p, t = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    for reduction, scale in (("mean", 1 / 15), ("sum", 1.0)):
        pred = mt.Tensor(p, requires_grad=True)
        loss = mt.nn.MSELoss(reduction=reduction)(pred, t)
        np.testing.assert_allclose(loss.item(), scale * np.sum((p - t) ** 2))
        loss.backward()
        np.testing.assert_allclose(pred.grad, scale * 2 * (p - t))
    with pytest.raises(ValueError):
        mt.nn.MSELoss(reduction="max")


def test_cross_entropy_matches_formula(mt, rng):
    logits, labels = rng.standard_normal((7, 5)), rng.integers(0, 5, 7)
    x = mt.Tensor(logits, requires_grad=True)
    loss = mt.nn.CrossEntropyLoss()(x, labels)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loss.item(), -np.mean(np.log(probs[np.arange(7), labels])))
    loss.backward()
    onehot = np.eye(5)[labels]
    np.testing.assert_allclose(x.grad, (probs - onehot) / 7)
    check_backward(mt, lambda a: mt.nn.CrossEntropyLoss()(a, labels) * 3.0, [logits], rng)


def test_cross_entropy_is_stable_at_plus_minus_1000(mt):
    x = mt.Tensor([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0]], requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        loss = mt.nn.CrossEntropyLoss()(x, np.array([0, 0]))
        loss.backward()
    np.testing.assert_allclose(loss.item(), (0.0 + 2000.0 + np.log(2)) / 2)
    np.testing.assert_allclose(x.grad, [[0, 0, 0], [-0.5, 0.25, 0.25]], atol=1e-12)


def test_cross_entropy_rejects_bad_labels(mt):
    logits = mt.Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        mt.nn.CrossEntropyLoss()(logits, np.array([0, 3]))
    with pytest.raises(ValueError, match="shape"):
        mt.nn.CrossEntropyLoss()(logits, np.array([0, 1, 2]))


def test_batchnorm_training_forward_backward_and_running_stats(mt, rng):
    bn = mt.nn.BatchNorm1d(5, momentum=0.3)
    bn.weight.data[:] = rng.uniform(0.5, 2, 5)
    bn.bias.data[:] = rng.standard_normal(5)
    running_mean, running_var = np.zeros(5), np.ones(5)
    for _ in range(2):
        x = rng.standard_normal((7, 5)) * 3 + 1
        out = bn(mt.Tensor(x))
        xhat = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)  # biased variance in the normalisation
        np.testing.assert_allclose(out.data, bn.weight.data * xhat + bn.bias.data)
        running_mean = 0.7 * running_mean + 0.3 * x.mean(0)
        running_var = 0.7 * running_var + 0.3 * x.var(0, ddof=1)  # unbiased in the running estimate
        np.testing.assert_allclose(bn.running_mean, running_mean)
        np.testing.assert_allclose(bn.running_var, running_var)
    bn.eval()
    x = rng.standard_normal((3, 5))
    np.testing.assert_allclose(
        bn(mt.Tensor(x)).data, bn.weight.data * (x - running_mean) / np.sqrt(running_var + 1e-5) + bn.bias.data
    )
    np.testing.assert_allclose(bn.running_mean, running_mean)  # eval does not update the statistics


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_backward_numerically(mt, rng, training):
    from mytorch.nn.batchnorm import BatchNorm1dFunction

    x, w, b = rng.standard_normal((7, 5)) * 2 + 1, rng.uniform(0.5, 2, 5), rng.standard_normal(5)
    if training:
        check_backward(mt, lambda a, g, c: BatchNorm1dFunction.apply(a, g, c, eps=1e-5), [x, w, b], rng)
    else:
        bn = mt.nn.BatchNorm1d(5).eval()
        bn.running_mean, bn.running_var = rng.standard_normal(5), rng.uniform(0.5, 2, 5)

        def fn(a, g, c):
            bn.weight, bn.bias = g, c
            return bn(a)

        check_backward(mt, fn, [x, w, b], rng)


def test_batchnorm_training_needs_two_samples(mt):
    with pytest.raises(ValueError, match="more than 1"):
        mt.nn.BatchNorm1d(3)(mt.Tensor(np.ones((1, 3))))


# ---------------------------------------------------------------- optim


def _params(mt, rng, shapes=((3, 5), (5,))):
    return [mt.Tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]


def test_sgd_momentum_weight_decay_matches_formula(mt, rng):
    params = _params(mt, rng)
    skipped = mt.Tensor(rng.standard_normal(4), requires_grad=True)
    expected = [p.data.copy() for p in params]
    frozen = skipped.data.copy()
    opt = mt.optim.SGD([*params, skipped], lr=0.1, momentum=0.9, weight_decay=0.01)
    buffers = [None, None]
    for _ in range(3):
        grads = [rng.standard_normal(p.shape) for p in params]
        for p, g in zip(params, grads):
            p.grad = g.copy()
        opt.step()
        for i, g in enumerate(grads):
            g = g + 0.01 * expected[i]
            buffers[i] = g if buffers[i] is None else 0.9 * buffers[i] + g
            expected[i] = expected[i] - 0.1 * buffers[i]
        for p, e in zip(params, expected):
            np.testing.assert_allclose(p.data, e, rtol=1e-12)
    np.testing.assert_array_equal(skipped.data, frozen)  # .grad None: untouched
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_plain_sgd(mt, rng):
    (p,) = _params(mt, rng, [(3,)])
    before = p.data.copy()
    p.grad = np.array([1.0, -2.0, 0.5])
    mt.optim.SGD([p], lr=0.5).step()
    np.testing.assert_allclose(p.data, before - 0.5 * np.array([1.0, -2.0, 0.5]))


def test_adam_matches_formula(mt, rng):
    params = _params(mt, rng)
    late = mt.Tensor(rng.standard_normal(2), requires_grad=True)  # gets a gradient only from step 2
    expected = [p.data.copy() for p in [*params, late]]
    opt = mt.optim.Adam([*params, late], lr=0.01, betas=(0.8, 0.99), eps=1e-6)
    m = [np.zeros_like(e) for e in expected]
    v = [np.zeros_like(e) for e in expected]
    t = [0, 0, 0]
    for step in range(4):
        active = [0, 1] if step == 0 else [0, 1, 2]
        for i, p in enumerate([*params, late]):
            p.grad = rng.standard_normal(p.shape) if i in active else None
        grads = [p.grad.copy() if p.grad is not None else None for p in [*params, late]]
        opt.step()
        for i in active:
            t[i] += 1
            m[i] = 0.8 * m[i] + 0.2 * grads[i]
            v[i] = 0.99 * v[i] + 0.01 * grads[i] ** 2
            m_hat, v_hat = m[i] / (1 - 0.8 ** t[i]), v[i] / (1 - 0.99 ** t[i])
            expected[i] = expected[i] - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-6)
        for p, e in zip([*params, late], expected):
            np.testing.assert_allclose(p.data, e, rtol=1e-12)


def test_zero_grad_in_place_keeps_the_arrays_and_momentum_survives_it(mt, rng):
    (p,) = _params(mt, rng, [(3,)])
    start = p.data.copy()
    g1, g2 = rng.standard_normal(3), rng.standard_normal(3)
    p.grad = g1.copy()
    kept = p.grad
    opt = mt.optim.SGD([p], lr=0.1, momentum=0.9)
    opt.step()
    opt.zero_grad(set_to_none=False)
    assert p.grad is kept and not kept.any()
    p.grad += g2  # as the engine accumulates into an existing .grad
    opt.step()  # the momentum buffer must not have been zeroed with the gradient array
    np.testing.assert_allclose(p.data, start - 0.1 * g1 - 0.1 * (0.9 * g1 + g2), rtol=1e-12)


# ---------------------------------------------------------------- training (task 8)


def test_digits_data_file():
    data = np.load(DIGITS)
    X, y = data["X"], data["y"]
    assert X.shape == (1797, 64) and X.dtype == np.float64 and X.min() == 0 and X.max() == 1
    assert y.shape == (1797,) and y.dtype == np.int64 and set(np.unique(y)) == set(range(10))


def test_train_step_returns_the_loss_and_learns(mt, rng):
    from mytorch.train import make_mlp, train_step

    X, y = rng.standard_normal((16, 4)), rng.integers(0, 3, 16)
    model = make_mlp([4, 8, 3], rng)
    opt = mt.optim.SGD(model.parameters(), lr=0.3, momentum=0.5)
    before = mt.nn.CrossEntropyLoss()(model(mt.Tensor(X)), y).item()
    losses = [train_step(model, mt.nn.CrossEntropyLoss(), opt, mt.Tensor(X), y) for _ in range(60)]
    assert all(type(v) is float for v in losses)
    assert losses[0] == before  # the loss before the update
    assert losses[-1] < 0.7 * losses[0]


def test_mlp_reaches_95_percent_on_digits(mt):
    from mytorch.train import accuracy, fit, make_mlp

    data = np.load(DIGITS)
    X, y = data["X"], data["y"]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    train, test = order[:1437], order[1437:]
    model = make_mlp([64, 64, 10], rng)
    losses = fit(model, X[train], y[train], epochs=30, batch_size=32, lr=0.03, rng=rng)
    assert len(losses) == 30 * 45 and losses[-1] < losses[0]
    assert accuracy(model, X[test], y[test]) >= 0.95


# ---------------------------------------------------------------- structure: lazy imports and fences


def _run(code: str, root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=root, capture_output=True, text=True, timeout=60
    )


def test_import_is_lazy_and_a_broken_file_only_breaks_its_own_names(tmp_path):
    shutil.copytree(SOLUTIONS / "mytorch", tmp_path / "mytorch", ignore=shutil.ignore_patterns("__pycache__"))
    for broken in ("optim/adam.py", "ops/reduce.py", "nn/batchnorm.py"):
        (tmp_path / "mytorch" / broken).write_text("def oops(:\n")
    result = _run(
        """
        import sys, numpy as np, mytorch
        assert not any(m in sys.modules for m in ("mytorch.nn", "mytorch.optim", "mytorch.train"))
        x = mytorch.Tensor(np.ones(3), requires_grad=True)
        (x * x + 1).backward(np.ones(3))          # elementwise ops still work
        mytorch.optim.SGD([x], lr=0.1).step()     # SGD works although adam.py is broken
        mytorch.nn.Linear(3, 2)                   # nn works although batchnorm.py is broken
        for bad in (lambda: mytorch.optim.Adam, lambda: x.sum(), lambda: mytorch.nn.BatchNorm1d):
            try:
                bad()
            except SyntaxError:
                pass
            else:
                raise AssertionError("expected a SyntaxError")
        print("ok")
    """,
        tmp_path,
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


FENCE = re.compile(r"^(?P<indent> *)# BEGIN SOLUTION (?P<msg>.*)$")


def test_fences_name_known_tasks_and_end_their_function():
    task_ids = {t.id for t in TASKS}
    seen = set()
    files = sorted((SOLUTIONS / ASSIGNMENT.package).rglob("*.py"))
    for path in files:
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            match = FENCE.match(line)
            if not match:
                continue
            task = re.match(r"Task (\S+): \S", match["msg"])
            assert task and task[1] in task_ids, f"{path}:{i + 1}: message must start with 'Task <id>: '"
            seen.add(task[1])
            end = next(j for j in range(i + 1, len(lines)) if "# END SOLUTION" in lines[j])
            assert lines[end].startswith(match["indent"] + "# END SOLUTION"), f"{path}:{end + 1}: indentation"
            after = next((lines[j] for j in range(end + 1, len(lines)) if lines[j].strip()), "")
            indent = len(match["indent"])
            assert len(after) - len(after.lstrip()) < indent, (
                f"{path}:{end + 1}: code follows the fence in the same block; the fence must end the body"
            )
    assert seen == task_ids, f"tasks without a fence: {sorted(task_ids - seen)}"
