"""The random-graph generator of hw1p1's engine checks draws every shape issue 9 asks for, safely and
reproducibly (the checks themselves are graded in test_traversal_bugs.py)."""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np

from autograder.assignments.hw1p1.assignment import ASSIGNMENT

sys.path.insert(0, str(ASSIGNMENT.tests_dir / "public"))
import graph_checks as gc  # noqa: E402


def features(graphs: list[dict]) -> Counter:
    """How many graphs show each shape."""
    seen: Counter = Counter()
    for g in graphs:
        inputs, rg = gc._inputs(g), gc._requires_grad(g)
        uses = Counter(a for args in inputs.values() for a in args)
        found = set()
        for name, op, args, _kw in g["nodes"]:
            found.add(op)
            if len(args) == 2 and args[0] == args[1]:
                found.add("same input twice")
            if len(args) == 2 and args[1] in inputs.get(args[0], []):
                found.add("consumer listed before its own input")
            if len(args) == 2 and args[0] in inputs.get(args[1], []):
                found.add("input listed before its consumer")
            if not rg[name]:
                found.add("node computed from constants only")
        found |= {"fan-out >= 3"} if any(n >= 3 for n in uses.values()) else set()
        found |= {"constants"} if g["constants"] else set()
        found |= {"several leaves"} if len(g["leaves"]) > 1 else set()
        found |= {"several roots"} if len(g["roots"]) > 1 else set()
        found |= {"leaf outside the root's graph"} if set(g["leaves"]) - gc.in_graph(g, g["roots"][0]) else set()
        seen.update(found)
    return seen


def test_generator_draws_every_shape_and_stays_in_range():
    graphs = gc.random_graphs(np.random.default_rng(0), 60)
    assert all(5 <= len(g["nodes"]) <= 60 for g in graphs)
    assert all(gc._values_safe(g) for g in graphs)
    seen = features(graphs)
    wanted = [
        "mul",
        "div",
        "sub",
        "exp",
        "same input twice",
        "consumer listed before its own input",
        "input listed before its consumer",
        "node computed from constants only",
        "fan-out >= 3",
        "constants",
        "several leaves",
        "several roots",
        "leaf outside the root's graph",
    ]
    rare = {w: seen[w] for w in wanted if seen[w] < 5}
    assert not rare, f"shapes drawn in fewer than 5 of 60 graphs: {rare}"


def test_generator_is_deterministic_per_seed():
    a = gc.random_graphs(np.random.default_rng(7), 10)
    b = gc.random_graphs(np.random.default_rng(7), 10)
    c = gc.random_graphs(np.random.default_rng(8), 10)
    text = [[gc.program(g, True) for g in batch] for batch in (a, b, c)]
    assert text[0] == text[1] != text[2]
    assert all(np.array_equal(x, y) for g, h in zip(a, b) for x, y in zip(g["leaves"].values(), h["leaves"].values()))


def test_program_is_rebuildable_text():
    graph = {
        "leaves": {"x0": None},
        "constants": {},
        "roots": ["n1"],
        "upstreams": [None],
        "nodes": [["n0", "mul", ["x0", "x0"], {}], ["n1", "add", ["x0", "n0"], {}]],
    }
    assert gc.program(gc.relabel(graph), False).splitlines() == [
        "    x = leaf (requires_grad=True)",
        "    a = x * x",
        "    y = x + a",
        "    topological_sort(y)",
    ]
    problem = gc.sort_problem(gc.relabel(graph), {"orders": [["y", "x", "a"]]})
    assert problem.startswith("topological_sort(y) returned [y, x, a]: x comes before a, but a = x * x")
