"""Tasks 1.1 and 1.2 (hidden cases): traversal order, exactly-once backward, accumulation, aliasing,
deep and exponential-if-revisited graphs, constants, no_grad and error handling."""

import numpy as np
import pytest
from graph_checks import chain_graph, check_order, diamond_graph, overlaps
from hw1p1_checks import (
    GRAPHS,
    check_all,
    check_call_counts,
    check_graph_grads,
    check_topological,
    normal,
    positive,
    root_shape,
)

from autograder.framework.compare import CheckFailed, check_array, run_with_hint

EXPONENTIAL = (
    "x = x*x + x repeated 60 times has only 121 nodes but 3**60 paths from the output to x: a "
    "traversal that revisits nodes (or recursion that pushes a gradient down every path) never "
    "finishes. Mark nodes visited and process each node once."
)
RECURSION = "a chain 10,000 nodes deep: a recursive traversal hits Python's recursion limit; use an explicit stack"


# ----- 1.1 topological_sort ----------------------------------------------------------------------


@pytest.mark.rubric(task="1.1", weight=1)
@pytest.mark.parametrize("graph_name", ["diamond", "long_short", "power_chain", "reuse", "square"])
def test_topological_sort(student, reference, rng, graph_name):
    graph = GRAPHS[graph_name](rng)
    got = student.run("topo_order", graph=graph)
    want = reference.run("topo_order", graph=graph)
    check_topological(f"topological_sort on the '{graph_name}' graph", got["order"], want["order"], graph)


@pytest.mark.rubric(task="1.1", weight=1)
def test_topological_sort_single_leaf(student, reference, rng):
    graph = {"leaves": {"x": normal(rng, (3,))}, "nodes": [], "root": "x"}
    got = student.run("topo_order", graph=graph)
    want = reference.run("topo_order", graph=graph)
    check_topological("topological_sort of a lone leaf", got["order"], want["order"], graph)


@pytest.mark.rubric(task="1.1", weight=2)
@pytest.mark.deadline(5)
def test_topological_sort_diamond_chain(student, reference, rng):
    call = dict(x=positive(rng, (3,)) * 1e-3, depth=60, upstream=normal(rng, (3,)), sort_only=True)
    got = run_with_hint(student, "diamond_chain", EXPONENTIAL, **call)
    check_order("topological_sort on a chain of 60 diamonds (m = y*y; y = m + y)", got["order"], diamond_graph(60))


@pytest.mark.rubric(task="1.1", weight=2)
@pytest.mark.deadline(10)
def test_topological_sort_deep_chain(student, reference, rng):
    call = dict(x=normal(rng, (3,)), n=10_000, upstream=normal(rng, (3,)), sort_only=True)
    got = run_with_hint(student, "deep_chain", RECURSION, **call)
    check_order("topological_sort on a 10,000-node chain", got["order"], chain_graph(10_000))


# ----- 1.2 backward --------------------------------------------------------------------------------


@pytest.mark.rubric(task="1.2", weight=1)
@pytest.mark.parametrize("graph_name", ["fanout", "long_short", "power_chain", "reuse", "square", "none_grads"])
def test_backward(student, reference, rng, graph_name):
    graph = GRAPHS[graph_name](rng)
    up = normal(rng, root_shape(graph))
    got = student.run("graph_backward", graph=graph, upstream=up)
    want = reference.run("graph_backward", graph=graph, upstream=up)
    what = f"backward on the '{graph_name}' graph"
    check_call_counts(what, got, want)
    check_graph_grads(what, got["grads"], want["grads"], graph)


@pytest.mark.rubric(task="1.2", weight=1)
@pytest.mark.parametrize("graph_name", ["fanout", "constants"])
def test_backward_twice_accumulates(student, reference, rng, graph_name):
    graph = GRAPHS[graph_name](rng)
    up = normal(rng, root_shape(graph))
    got = student.run("graph_backward", graph=graph, upstream=up, repeat=2)
    want = reference.run("graph_backward", graph=graph, upstream=up, repeat=2)
    check_graph_grads(
        f"two backward calls on the '{graph_name}' graph (gradients add up: +=, not =)",
        got["grads"],
        want["grads"],
        graph,
    )


@pytest.mark.rubric(task="1.2", weight=1)
def test_backward_seeds_ones_for_one_element_output(student, reference, rng):
    graph = {
        "leaves": {"x": normal(rng, (3, 5))},
        "nodes": [["a", "mul", ["x", "x"], {}], ["r", "sum", ["a"], {"keepdims": True}]],
        "root": "r",
    }
    got = student.run("graph_backward", graph=graph, upstream=None)
    want = reference.run("graph_backward", graph=graph, upstream=None)
    check_graph_grads(
        "backward() without a gradient on a (1, 1) output (seed: ones shaped like the output)",
        got["grads"],
        want["grads"],
        graph,
    )


@pytest.mark.rubric(task="1.2", weight=2)
@pytest.mark.deadline(5)
def test_backward_diamond_chain(student, reference, rng):
    call = dict(x=positive(rng, (3,)) * 1e-3, depth=60, upstream=normal(rng, (3,)))
    got = run_with_hint(student, "diamond_chain", EXPONENTIAL, **call)
    want = reference.run("diamond_chain", **call)
    check_array("backward through a chain of 60 diamonds (x = x*x + x): x.grad", got["grad_x"], want["grad_x"])


@pytest.mark.rubric(task="1.2", weight=2)
@pytest.mark.deadline(10)
def test_backward_deep_chain(student, reference, rng):
    call = dict(x=normal(rng, (3,)), n=10_000, upstream=normal(rng, (3,)))
    got = run_with_hint(student, "deep_chain", RECURSION, **call)
    want = reference.run("deep_chain", **call)
    check_array("backward through a 10,000-node chain: x.grad", got["grad_x"], want["grad_x"])


@pytest.mark.rubric(task="1.2", weight=1)
def test_grads_not_aliased(student, reference, rng):
    call = dict(a=normal(rng, (3, 5)), b=normal(rng, (3, 5)), upstream=normal(rng, (3, 5)))
    got = student.run("aliasing", **call)
    want = reference.run("aliasing", **call)
    what = "out = a + b; out.backward(g)"
    layout = got["layout"]
    for name in ("a_grad", "b_grad"):
        if not isinstance(layout[name], dict):
            raise CheckFailed(f"{what}: {name.replace('_', '.')} is a {layout[name]}; it must be a numpy array")
    # Overlap is decided here from the addresses the worker observed, not by the worker.
    if overlaps(layout["a_grad"], layout["b_grad"]):
        raise CheckFailed(
            f"{what}: a.grad and b.grad are the same array (or share memory); a later += into one "
            f"changes the other. Store a copy when a leaf first receives its gradient."
        )
    if overlaps(layout["a_grad"], layout["upstream"]) or overlaps(layout["b_grad"], layout["upstream"]):
        raise CheckFailed(
            f"{what}: a leaf's .grad shares memory with the gradient g passed to backward; "
            f"store a copy (np.array(g)), not g itself"
        )
    if overlaps(layout["a_grad"], layout["a_data"]):
        raise CheckFailed(f"{what}: a.grad shares memory with a.data")
    check_array(
        f"{what}: backward must not change the array g it was given (in-place += on it?); g afterwards",
        got["upstream_after"],
        call["upstream"],
    )
    check_array(f"{what}: b.grad", got["grad_b_first"], want["grad_b_first"])
    check_array(
        f"{what}, then a backward that reaches only a: b.grad must not change",
        got["grad_b_after"],
        want["grad_b_after"],
    )
    check_array(
        f"{what}, then (a * 3).backward(ones): a.grad (the two add up)", got["grad_a_after"], want["grad_a_after"]
    )


@pytest.mark.rubric(task="1.2", weight=1)
def test_grads_are_plain_arrays(student, reference, rng):
    call = dict(a=normal(rng, (3, 5)), b=normal(rng, (3, 5)), c=normal(rng, (3, 5)), upstream=normal(rng, (3, 5)))
    got = student.run("grad_types", **call)
    want = reference.run("grad_types", **call)
    what = "out = (a * b + c) * a with constant c"

    def kind(g):  # judged here from what arrived: an array, None, or a note naming another type
        return "numpy.ndarray" if isinstance(g, np.ndarray) else "None" if g is None else g["not_an_array"]

    for name in ("a", "b"):
        if kind(got[name]) != "numpy.ndarray":
            raise CheckFailed(
                f"{what}: {name}.grad is a {kind(got[name])}; it must be a plain numpy array "
                f"(no graph history: store arrays, not Tensors)"
            )
    if got["a"].dtype != np.float64:
        raise CheckFailed(f"{what}: a.grad has dtype {got['a'].dtype}; expected float64")
    for name, description in (
        ("c", "a constant (requires_grad=False)"),
        ("mid", "an intermediate"),
        ("out", "the output (an intermediate)"),
    ):
        if got[name] is not None:
            raise CheckFailed(f"{what}: {name} is {description} and must have no .grad, but has a {kind(got[name])}")
    check_all(what, got, want, ["a", "b"])


@pytest.mark.rubric(task="1.2", weight=1)
def test_backward_non_scalar_needs_gradient(student, reference, rng):
    x = normal(rng, (3, 5))
    got = student.run("backward_errors", x=x)
    want = reference.run("backward_errors", x=x)
    err = got["non_scalar"]
    if err is None:
        raise CheckFailed(
            "(x * 2).backward() on a (3, 5) output without a gradient must raise an error "
            "(RuntimeError) saying a gradient is needed; it returned normally"
        )
    if err["type"] == "NotImplementedError":
        raise CheckFailed(f"(x * 2).backward() without a gradient raised NotImplementedError: {err['message']}")
    if got["one_element"] is not None:
        raise CheckFailed(
            f"backward() on a one-element output must work without a gradient (seed with ones); "
            f"it raised {got['one_element']['type']}: {got['one_element']['message']}"
        )
    # The points rest on a value checked here, not on the worker's word that something was raised.
    check_array(
        "(x * x).sum(keepdims=True).backward() without a gradient: x.grad",
        got["grad_one_element"],
        want["grad_one_element"],
    )
    assert want["non_scalar"] is not None  # the reference raises (sanity of this test)


@pytest.mark.rubric(task="1.2", weight=1)
def test_no_grad_records_no_graph(student, reference, rng):
    call = dict(a=normal(rng, (3, 5)), b=normal(rng, (3, 5)))
    got = student.run("no_grad_graph", **call)
    want = reference.run("no_grad_graph", **call)
    if got["inside_requires_grad"] or got["inside_has_grad_fn"]:
        raise CheckFailed("inside `with no_grad():` an op recorded a graph (requires_grad/grad_fn set)")
    if not (got["outside_requires_grad"] and got["outside_has_grad_fn"]):
        raise CheckFailed("after leaving `with no_grad():` ops no longer record a graph (grad mode not restored)")
    check_array("the output computed under no_grad()", got["inside_out"], want["inside_out"])
    if got["grad_b"] is not None:
        raise CheckFailed(
            "z = (a * y).sum() with y = (a * b).exp() computed under no_grad(): b received a "
            "gradient, but y is a constant (no graph was recorded for it)"
        )
    check_array("z = (a * y).sum() with y computed under no_grad(): a.grad", got["grad_a"], want["grad_a"])


@pytest.mark.rubric(task="1.2", weight=1)
@pytest.mark.parametrize("zero", [pytest.param(True, id="zero_grad"), pytest.param(False, id="accumulate")])
def test_zero_grad(student, reference, rng, zero):
    call = dict(x=normal(rng, (3, 5)), w=normal(rng, (3, 5)), upstream=normal(rng, (3, 5)), zero=zero)
    got = student.run("zero_grad_then_backward", **call)
    want = reference.run("zero_grad_then_backward", **call)
    what = (
        "y = x * w: backward, model.zero_grad(), backward again"
        if zero
        else "y = x * w: two backward calls without zero_grad (gradients add up: +=, not =)"
    )
    check_all(what, got, want)
