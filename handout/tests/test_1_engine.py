"""Tasks 1.1 and 1.2: topological_sort and backward on small graphs."""

import pytest
from hw1p1_checks import GRAPHS, check_call_counts, check_graph_grads, check_topological, normal, root_shape


@pytest.mark.rubric(task="1.1", weight=1)
@pytest.mark.parametrize("graph_name", ["fanout", "constants"])
def test_topological_sort(student, reference, rng, graph_name):
    graph = GRAPHS[graph_name](rng)
    got = student.run("topo_order", graph=graph)
    want = reference.run("topo_order", graph=graph)
    check_topological(f"topological_sort on the '{graph_name}' graph", got["order"], want["order"], graph)


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
