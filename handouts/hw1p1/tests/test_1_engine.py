"""Tasks 1.1 and 1.2: topological_sort and backward on small graphs."""

import pytest
from graph_checks import chain_graph, check_order
from hw1p1_checks import (
    DIAMOND_CHAIN_HINT,
    GRAPHS,
    check_call_counts,
    check_graph_grads,
    check_topological,
    normal,
    positive,
    root_shape,
)

from autograder.framework.compare import check_array, run_with_hint


@pytest.mark.rubric(task="1.1", weight=1)
@pytest.mark.parametrize("graph_name", ["fanout", "constants", "t_plus_tt", "tt_plus_t"])
def test_topological_sort(student, reference, rng, graph_name):
    graph = GRAPHS[graph_name](rng)
    got = student.run("topo_order", graph=graph)
    want = reference.run("topo_order", graph=graph)
    check_topological(f"topological_sort on the '{graph_name}' graph", got["order"], want["order"], graph)


@pytest.mark.rubric(task="1.1", weight=1)
@pytest.mark.deadline(10)
def test_topological_sort_chain_deeper_than_the_recursion_limit(student, reference, rng):
    # Python stops recursion at ~1,000 frames; the hidden tests use a 10,000-node chain. Catch it here first.
    call = dict(x=normal(rng, (3,)), n=2_000, upstream=normal(rng, (3,)), sort_only=True)
    got = run_with_hint(student, "deep_chain", "a chain 2,000 nodes deep", **call)
    check_order("topological_sort on a 2,000-node chain", got["order"], chain_graph(2_000))


@pytest.mark.rubric(task="1.2", weight=1)
@pytest.mark.parametrize("graph_name", ["diamond", "constants"])
def test_backward(student, reference, rng, graph_name):
    graph = GRAPHS[graph_name](rng)
    up = normal(rng, root_shape(graph))
    got = student.run("graph_backward", graph=graph, upstream=up)
    want = reference.run("graph_backward", graph=graph, upstream=up)
    what = f"backward on the '{graph_name}' graph"
    check_call_counts(what, got, want)
    check_graph_grads(what, got["grads"], want["grads"], graph)


@pytest.mark.rubric(task="1.2", weight=1)
@pytest.mark.deadline(5)
def test_backward_chain_of_diamonds(student, reference, rng):
    # x = x*x + x, 30 times: 3**30 paths from the output to x. Fast only if each node is processed once.
    call = dict(x=positive(rng, (3,)) * 1e-3, depth=30, upstream=normal(rng, (3,)))
    got = run_with_hint(student, "diamond_chain", DIAMOND_CHAIN_HINT, **call)
    want = reference.run("diamond_chain", **call)
    check_array("backward through a chain of 30 diamonds (x = x*x + x): x.grad", got["grad_x"], want["grad_x"])
