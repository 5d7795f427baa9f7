"""Tasks 2.1 and 2.2: topological_order and backward on hand-made and random graphs.

The graphs' operations are the scenarios' own (correct by construction), so only the traversal is under
test; for backward (2.2), topological_order returns a correct order made by the grader, so task 2.2's
points do not depend on task 2.1.
"""

import pytest
from lab0_graphs import (
    backward_problem,
    chain_order_problem,
    check_random_graphs,
    creation_order,
    diamond_order_problem,
    order_problem,
)

from autograder.framework.compare import CheckFailed, run_with_hint

# Hand-made graphs: names -> (leaves, nodes). `t + t*t` and `t*t + t` break a search that marks nodes
# visited when they are pushed; `a * a` names one child twice; "fanout" uses x in three places.
GRAPHS = {
    "t + t*t": ({"t": 1.3}, [["m", "*", ["t", "t"]], ["y", "+", ["t", "m"]]]),
    "t*t + t": ({"t": -0.7}, [["m", "*", ["t", "t"]], ["y", "+", ["m", "t"]]]),
    "fanout": (
        {"x": 0.9, "w": -1.4},
        [["a", "*", ["x", "w"]], ["b", "exp", ["x"]], ["c", "+", ["a", "b"]], ["y", "*", ["c", "x"]]],
    ),
    "diamond": (
        {"x": 0.6},
        [["a", "tanh", ["x"]], ["b", "*", ["a", "a"]], ["c", "-", ["a", "x"]], ["y", "/", ["b", "c"]]],
    ),
}


def _graph(name, rng):
    leaves, nodes = GRAPHS[name]
    scale = 1.0 + 0.1 * rng.random()  # the same structure, other numbers per run
    return {"leaves": {k: v * scale for k, v in leaves.items()}, "nodes": nodes, "roots": [nodes[-1][0]]}


@pytest.mark.rubric(task="2.1", weight=2)
@pytest.mark.parametrize("name", list(GRAPHS))
def test_topological_order(student, reference, rng, name):
    graph = _graph(name, rng)
    got = student.run("graph_orders", graphs=[graph])[0]
    problem = order_problem(graph, got)
    if problem:
        raise CheckFailed(f"on the graph '{name}': {problem}")


@pytest.mark.rubric(task="2.1", weight=4)
def test_topological_order_random_graphs(student, reference, rng):
    check_random_graphs(student, reference, rng, "sort", count=30)


@pytest.mark.rubric(task="2.1", weight=2)
@pytest.mark.deadline(5)
def test_topological_order_diamond_chain(student, reference, rng):
    # y = y*y + y, 25 times: 51 nodes but 3**25 paths from the root to x. Fast only if each node is entered once.
    got = run_with_hint(
        student,
        "diamond_chain",
        "y = y*y + y repeated 25 times has 51 nodes but 3**25 paths: "
        "a search that enters a node once per path never ends; keep a set of seen nodes",
        depth=25,
        x=float(rng.uniform(0.01, 0.02)),
    )
    problem = diamond_order_problem(got["order"], 25)
    if problem:
        raise CheckFailed(f"on y = y*y + y repeated 25 times: {problem}")


@pytest.mark.rubric(task="2.1", weight=1)
@pytest.mark.deadline(10)
def test_topological_order_beyond_the_recursion_limit(student, reference, rng):
    # Small weight, on purpose: a recursive search is correct but stops at Python's recursion limit
    # (about 1,000 frames); a 3,000-node chain needs an explicit stack (writeup section 4.4).
    n = 3_000
    got = run_with_hint(
        student, "chain", f"a chain {n} nodes deep", n=n, x=float(rng.uniform(0.5, 1.5)), c=1.0, mode="sort"
    )
    problem = chain_order_problem(got["order"], n)
    if problem:
        raise CheckFailed(f"on a chain y_k = y_(k-1) * c of {n} nodes: {problem}")


@pytest.mark.rubric(task="2.2", weight=2)
@pytest.mark.parametrize("name", list(GRAPHS))
def test_backward(student, reference, rng, name):
    graph = _graph(name, rng)
    graph["orders"] = [creation_order(graph, graph["roots"][0])]
    got = student.run("graph_backward", graphs=[graph])[0]
    want = reference.run("graph_backward", graphs=[graph])[0]
    problem = backward_problem(graph, got, want)
    if problem:
        raise CheckFailed(f"on the graph '{name}': {problem}")


@pytest.mark.rubric(task="2.2", weight=4)
def test_backward_random_graphs(student, reference, rng):
    check_random_graphs(student, reference, rng, "backward", count=30)


@pytest.mark.rubric(task="2.2", weight=2)
def test_backward_twice(student, reference, rng):
    # Leaves add up over calls; intermediate nodes start from 0.0 at every call.
    check_random_graphs(student, reference, rng, "backward", count=10, sizes=(2, 12), repeat=2)
