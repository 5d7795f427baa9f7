"""Graph checks for tasks 2.1 (topological_order) and 2.2 (backward) (not a test file itself).

A seeded generator draws many small DAGs of scalar nodes: fan-out, diamonds, a node used twice by one
operation (`a * a`), a node added to its own square (`t + t*t`, the shape that breaks a search marking
nodes visited when they are pushed), several leaves, several roots run in sequence. Their operations are
the scenarios' trusted ones, so only the traversal is under test. The worker returns raw observations
(node names in the order the student's code produced them, gradients); every verdict is made here,
against the graph built here. A failure shows the smallest failing graph as lines of code.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autograder.framework.compare import CheckFailed, check_close
from autograder.framework.errors import StudentError, StudentTimeout

Graph = dict
UNARY = ("exp", "tanh")
OPS = ("*", "*", "*", "+", "+", "-", "/", "exp", "tanh")


def _value(op: str, args: Sequence[float]) -> float:
    """A node's forward value (only to keep the drawn graphs in a safe range)."""
    if op in UNARY:
        return math.exp(args[0]) if op == "exp" else math.tanh(args[0])
    a, b = args
    return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else math.inf}[op]


def _safe(v: float) -> bool:
    """Away from 0 (division; contributions that would vanish) and from overflow."""
    return math.isfinite(v) and 0.1 <= abs(v) <= 20.0


def random_graph(rng: np.random.Generator, n_nodes: int) -> Graph:
    """A random DAG of `n_nodes` operation nodes on 1-3 leaves; 1-3 roots (the last node first).

    Inputs come from nodes not used yet, from the last few nodes (depth), from anything (fan-out), the
    same node twice (`a * a`) or a node and one of its own inputs (`t + t*t`), in either order.
    """
    leaves = {f"x{i}": float(rng.uniform(0.5, 2.0) * rng.choice([-1.0, 1.0])) for i in range(int(rng.integers(1, 4)))}
    values = dict(leaves)
    inputs: dict[str, list[str]] = {}
    nodes: list[list] = []

    def pick() -> str:
        used = {x for n in nodes for x in n[2]}
        unused = [n[0] for n in nodes if n[0] not in used]
        recent = [n[0] for n in nodes[-3:]]
        r = rng.random()
        pool = unused if unused and r < 0.4 else recent if recent and r < 0.7 else list(values)
        return pool[int(rng.integers(len(pool)))]

    for i in range(n_nodes):
        for _ in range(30):
            a, op = pick(), OPS[int(rng.integers(len(OPS)))]
            if op in UNARY:
                args = [a]
            else:
                family = inputs.get(a, [])
                r = rng.random()
                b = a if r < 0.3 else family[int(rng.integers(len(family)))] if r < 0.6 and family else pick()
                args = [a, b] if rng.random() < 0.5 else [b, a]
            v = _value(op, [values[x] for x in args])
            if _safe(v):
                break
        else:  # tanh of a safe value is always safe enough here
            op, args, v = "*", [a, a], values[a] * values[a]
            if not _safe(v):
                op, args, v = "+", [a, a], 2 * values[a]
        name = f"n{i}"
        nodes.append([name, op, args])
        values[name], inputs[name] = v, args
    roots = [nodes[-1][0]]
    for _ in range(int(rng.choice([0, 0, 1, 2]))):
        roots.append(nodes[int(rng.integers(len(nodes)))][0])
    return {"leaves": leaves, "nodes": nodes, "roots": list(dict.fromkeys(roots))}


def random_graphs(rng: np.random.Generator, count: int, sizes: tuple[int, int] = (2, 30)) -> list[Graph]:
    """`count` graphs; half of them small (at most 8 nodes: short failure messages)."""
    lo, hi = sizes
    return [
        random_graph(rng, int(rng.integers(lo, min(hi, 8) + 1) if k % 2 == 0 else rng.integers(lo, hi + 1)))
        for k in range(count)
    ]


# ----------------------------------------------------------------------------------------------
# The structure, as built here
# ----------------------------------------------------------------------------------------------


def _inputs(graph: Graph) -> dict[str, list[str]]:
    """node name -> its children's names, in order."""
    return {name: list(args) for name, _op, args in graph["nodes"]}


def reachable(graph: Graph, root: str) -> set[str]:
    """The names `root` was computed from, itself included (a plain walk; the order does not matter)."""
    inputs, seen, stack = _inputs(graph), {root}, [root]
    while stack:
        for child in inputs.get(stack.pop(), []):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def creation_order(graph: Graph, root: str) -> list[str]:
    """The nodes `root` was computed from in the order they were made: children before parents."""
    keep = reachable(graph, root)
    return [n for n in [*graph["leaves"], *(node[0] for node in graph["nodes"])] if n in keep]


def expression(graph: Graph, name: str) -> str:
    """`name`'s defining expression, e.g. 'a * a', 'tanh(t)'."""
    for node, op, args in graph["nodes"]:
        if node == name:
            return f"{op}({args[0]})" if op in UNARY else f"{args[0]} {op} {args[1]}"
    return "leaf"


def program(graph: Graph, call: str) -> str:
    """The graph as lines a student can type, then the calls made (`call` formats each root)."""
    lines = ["; ".join(f"{k} = Value({v:.4g})" for k, v in graph["leaves"].items())]
    lines += [f"{name} = {expression(graph, name)}" for name, *_ in graph["nodes"]]
    lines.append("; ".join(call.format(r) for r in graph["roots"]))
    return "\n".join("    " + line for line in lines)


def _listing(order: Sequence[str], limit: int = 20) -> str:
    """Names as text, cut after `limit`."""
    return "[" + ", ".join(order[:limit]) + (", ...]" if len(order) > limit else "]")


PUSH_HINT = (
    "Likely cause: a node marked visited when it is pushed on the stack instead of when it is entered "
    "(popped the first time), or appended before all of its children are finished (writeup "
    "section 4.4)."
)

# ----------------------------------------------------------------------------------------------
# Judging raw observations
# ----------------------------------------------------------------------------------------------


def order_problem(graph: Graph, got: dict, want: Any = None) -> str | None:
    """What is wrong with the student's topological_order lists for `graph` (None: nothing)."""
    if "error" in got:
        return f"raised {got['error']}"
    inputs = _inputs(graph)
    for root, order in zip(graph["roots"], got["orders"]):
        call = f"{root}.topological_order()"
        if not isinstance(order, list):
            kind = "None (forgot to return the list?)" if order is None else f"a {str(order)[1:]}, expected a list"
            return f"{call} returned {kind}"
        strangers = [n for n in order if n.startswith("?")]
        if strangers:
            return f"{call} returned {strangers[0][1:]} objects that are not nodes of this graph; return the Values"
        expected = reachable(graph, root)
        repeated = sorted(n for n, c in Counter(order).items() if c > 1)
        if repeated:
            return (
                f"{call} returned {_listing(order)}: {', '.join(repeated)} more than once. Likely cause: "
                f"a node reached twice (a * a, or by two paths) is expanded twice; skip nodes already seen"
            )
        missing = sorted(expected - set(order))
        if missing:
            return (
                f"{call} returned {_listing(order)}: {', '.join(missing)} missing (every node {root} was "
                f"computed from belongs in it, leaves and {root} itself included)"
            )
        extra = sorted(set(order) - expected)
        if extra:
            return (
                f"{call} returned {_listing(order)}: {', '.join(extra)} should not be in it "
                f"({root} does not depend on it)"
            )
        position = {n: i for i, n in enumerate(order)}
        for node in order:
            for child in inputs.get(node, []):
                if position[child] > position[node]:
                    return (
                        f"{call} returned {_listing(order)}: {node} = {expression(graph, node)} comes before "
                        f"its child {child}; every node must come after all of its children.\n  {PUSH_HINT}"
                    )
    return None


def backward_problem(graph: Graph, got: dict, want: dict | None) -> str | None:
    """What is wrong with backward() on `graph` (topological_order was given): each node's _backward
    called once, after every node that uses it; leaf grads as the reference's. None: nothing."""
    if "error" in got:
        return f"raised {got['error']}"
    done: list[str] = []
    for k, (root, calls) in enumerate(zip(graph["roots"], got["call_logs"])):
        for log in calls:
            problem = _calls_problem(graph, root, log, done)
            if problem:
                return problem
            done.append(f"{root}.backward()")
        call = (f"after {'; '.join(done[:-1])}: " if len(done) > 1 else "") + f"{root}.backward()"
        if want is not None and "grads" in want:
            for leaf in graph["leaves"]:
                g, w = got["grads"][k].get(leaf), want["grads"][k][leaf]
                try:
                    if isinstance(g, str):
                        raise CheckFailed(f"{call}: {leaf}.grad is a {g[1:]}, not a number")
                    check_close(f"{call}: {leaf}.grad", g, w, rtol=1e-9, atol=1e-12)
                except CheckFailed as e:
                    return (
                        f"{e.message}\n  Hint: intermediate nodes start every backward() from grad 0.0, leaves "
                        f"keep adding up, and the root is seeded with 1.0 (d root / d root)."
                    )
    return None


def _calls_problem(graph: Graph, root: str, log: list[str], done: list[str]) -> str | None:
    """What is wrong with the order of _backward calls of one root.backward() (None: nothing)."""
    inputs = _inputs(graph)
    call = (f"after {'; '.join(done)}: " if done else "") + f"{root}.backward()"
    expected = reachable(graph, root) - set(graph["leaves"])
    counts = Counter(log)
    for n in sorted(counts):
        if counts[n] > 1:
            return (
                f"{call} called the _backward of {n} = {expression(graph, n)} {counts[n]} times; call each "
                f"node's _backward exactly once (it adds its whole contribution at once)"
            )
    missing = sorted(expected - set(log))
    if missing:
        return f"{call} never called the _backward of {', '.join(missing)}"
    extra = sorted(set(log) - expected)
    if extra:
        return f"{call} called the _backward of {extra[0]}, which {root} was not computed from"
    position = {n: i for i, n in enumerate(log)}
    for node in log:
        for child in inputs.get(node, []):
            if child in position and position[child] < position[node]:
                return (
                    f"{call} called the _backward of {child} before that of {node} = "
                    f"{expression(graph, node)}, which uses {child}: {child} passed its gradient on "
                    f"before it was complete (calls: {_listing(log)}). Go through topological_order() "
                    f"in reverse: the root first."
                )
    return None


Problem = Callable[[Graph, dict, "dict | None"], "str | None"]


def _size(graph: Graph) -> tuple[int, int]:
    return len(graph["nodes"]), len(graph["roots"])


def check_random_graphs(
    student: Any,
    reference: Any,
    rng: np.random.Generator,
    mode: str,
    count: int = 30,
    sizes: tuple[int, int] = (2, 30),
    repeat: int = 1,
) -> None:
    """`count` random graphs in one worker call; mode "sort" (task 2.1) or "backward" (task 2.2, with
    topological_order given and each root's backward() called `repeat` times).

    On failure: the smallest failing graph, as code, and what went wrong on it.
    """
    graphs = random_graphs(rng, count, sizes)
    if mode == "backward":
        for g in graphs:
            g["orders"] = [creation_order(g, r) for r in g["roots"]]
    scenario = "graph_orders" if mode == "sort" else "graph_backward"
    kwargs = {} if mode == "sort" else {"repeat": repeat}
    problem: Problem = order_problem if mode == "sort" else backward_problem
    try:
        got = student.run(scenario, graphs=graphs, **kwargs)
    except StudentTimeout as e:
        raise CheckFailed(
            f"{e.message}\n  on {count} random graphs of at most {sizes[1]} nodes: an infinite loop "
            f"(a node never marked seen, or never popped)?"
        ) from None
    want = reference.run(scenario, graphs=graphs, **kwargs) if mode == "backward" else [None] * len(graphs)
    failing = [(g, p) for g, w, o in zip(graphs, want, got) if (p := problem(g, o, w))]
    if not failing:
        return
    graph, message = min(failing, key=lambda gp: _size(gp[0]))
    if message.startswith("raised "):  # again, uncaught: the worker's message shows where in the student's code
        try:
            student.run(scenario, graphs=[graph], catch=False, **kwargs)
        except StudentError as e:
            message = e.message
    what = "topological_order" if mode == "sort" else "backward"
    call = (
        "{}.topological_order()" if mode == "sort" else "{}.backward()" + (f" ({repeat} times)" if repeat > 1 else "")
    )
    raise CheckFailed(
        f"{what} is wrong on {len(failing)} of {count} random graphs; the smallest failing one "
        f"({len(graph['nodes'])} operation node(s)):\n{program(graph, call)}\n  {message}"
    )


def chain_order_problem(order: Any, n: int) -> str | None:
    """Judge y_n.topological_order() on the chain y_k = y_{k-1} * c (y_0 = x): None when valid."""
    graph = {
        "leaves": {"x": 1.0, "c": 1.0},
        "nodes": [[f"y{k}", "*", [f"y{k - 1}" if k > 1 else "x", "c"]] for k in range(1, n + 1)],
        "roots": [f"y{n}"],
    }
    return order_problem(graph, {"orders": [order]})


def diamond_order_problem(order: Any, depth: int) -> str | None:
    """Judge y_depth.topological_order() on m_k = y_{k-1} * y_{k-1}, y_k = m_k + y_{k-1} (y_0 = x)."""
    nodes = []
    for k in range(1, depth + 1):
        prev = f"y{k - 1}" if k > 1 else "x"
        nodes += [[f"m{k}", "*", [prev, prev]], [f"y{k}", "+", [f"m{k}", prev]]]
    return order_problem({"leaves": {"x": 1.0}, "nodes": nodes, "roots": [f"y{depth}"]}, {"orders": [order]})
