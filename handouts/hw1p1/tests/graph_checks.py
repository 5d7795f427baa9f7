"""Random-graph checks for tasks 1.1 and 1.2 (not a test file itself).

Hand-made graphs list their inputs in one order only, so a traversal bug such as marking a node
visited when it is pushed (not when it is finished) can pass all of them. Here a seeded generator
draws many small DAGs (fan-out, diamonds, shared intermediates, a node used twice by one op, inputs
in both orders, constants, several leaves, several roots run in sequence) with mul/div/sub/exp, so a
wrong order changes numbers. The ops are the scenarios' own (correct by construction): only the
student's topological_sort and backward are under test. The worker returns raw observations only
(node names in the order the student's code produced them, the grads); every verdict is made here,
against the graph built here. A failing graph is shrunk (nodes dropped while it still fails) and
shown as a few lines of code.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autograder.framework.compare import CheckFailed, check_array
from autograder.framework.errors import StudentError, StudentTimeout

SHAPE = (3,)
BINARY = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
UNARY = {"exp": "exp({})", "neg": "-{}"}
OPS = ("mul", "mul", "mul", "sub", "sub", "div", "div", "add", "exp", "exp", "neg", "scalar")
SHRINK_SECONDS = 4.0  # wall-clock budget for shrinking one failure (a few worker calls)
SHRINK_ROUNDS = 60

Graph = dict
Problem = Callable[[Graph, dict, "dict | None"], "str | None"]

# ----------------------------------------------------------------------------------------------
# The generator
# ----------------------------------------------------------------------------------------------


def _nonzero(rng: np.random.Generator) -> np.ndarray:
    """Values with |v| in [0.5, 2] and random signs."""
    return rng.uniform(0.5, 2.0, SHAPE) * np.where(rng.random(SHAPE) < 0.5, -1.0, 1.0)


def _evaluate(op: str, values: list, kwargs: dict) -> np.ndarray:
    """The forward value of one node (used only to keep the drawn values in a safe range)."""
    if "scalar" in kwargs:
        s, v = kwargs["scalar"], values[0]
        a, b = (s, v) if kwargs["side"] == "left" else (v, s)
        return {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b}[op]
    if op == "exp":
        return np.exp(values[0])
    if op == "neg":
        return -values[0]
    a, b = values
    return {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b}[op]


def _safe(v: np.ndarray) -> bool:
    """Values away from 0 (division, vanishing contributions) and from overflow."""
    with np.errstate(all="ignore"):
        return bool(np.all(np.isfinite(v)) and np.all(np.abs(v) >= 0.1) and np.all(np.abs(v) <= 20.0))


def random_graph(rng: np.random.Generator, n_nodes: int) -> Graph:
    """A random DAG of `n_nodes` op nodes on 1-4 leaves and 0-2 constants (elementwise, shape SHAPE).

    Inputs are drawn from recent nodes (depth), from anything earlier (fan-out, shared
    intermediates), the same node twice (`a * a`) or an input of the other input (`t + t*t`, the
    shape that breaks visited-on-push), in either order. 1-3 roots, run in sequence. The
    description is what scenarios._build_trusted takes, plus "roots" and "upstreams".
    """
    leaves = {f"x{i}": _nonzero(rng) for i in range(int(rng.integers(1, 5)))}
    constants = {f"c{i}": _nonzero(rng) for i in range(int(rng.integers(0, 3)))}
    values = {**leaves, **constants}
    grad = {**{k: True for k in leaves}, **{k: False for k in constants}}
    inputs: dict[str, list[str]] = {}
    nodes: list[list] = []

    def pick(need_grad: bool = False) -> str:
        # Unused nodes first (so most nodes end up in the root's graph), recent ones (depth), or any.
        pool = [k for k in values if grad[k] or not need_grad]
        used = {x for n in nodes for x in n[2]}
        r = rng.random()
        unused = [n[0] for n in nodes if n[0] not in used and (grad[n[0]] or not need_grad)]
        recent = [n[0] for n in nodes[-3:] if grad[n[0]] or not need_grad]
        choice = unused if unused and r < 0.4 else recent if recent and r < 0.7 else pool
        return choice[int(rng.integers(len(choice)))]

    for i in range(n_nodes):
        last = i == n_nodes - 1  # the main root must require grad
        for _ in range(30):
            a = pick(need_grad=last)
            op = OPS[int(rng.integers(len(OPS)))]
            kwargs: dict = {}
            if op in UNARY:
                args = [a]
            elif op == "scalar":
                op = ("add", "sub", "mul", "div")[int(rng.integers(4))]
                scalar = float(rng.choice([0.5, 2.0, 3.0]))
                kwargs = {"scalar": scalar, "side": "left" if rng.random() < 0.5 else "right"}
                args = [a]
            else:
                r = rng.random()
                family = [p for q in inputs.get(a, []) for p in [q, *inputs.get(q, [])]]
                if r < 0.35:  # a square, preferably of a node that has another consumer already
                    used = [x for x in dict.fromkeys(y for n in nodes for y in n[2]) if grad[x] or not last]
                    if used and rng.random() < 0.7:
                        a = used[int(rng.integers(len(used)))]
                    b = a
                elif r < 0.65 and family:
                    b = family[int(rng.integers(len(family)))]
                else:
                    b = pick()
                args = [a, b] if rng.random() < 0.5 else [b, a]
            v = _evaluate(op, [values[x] for x in args], kwargs)
            if _safe(v):
                break
        else:  # always safe: the magnitudes of a are
            op, args, kwargs = "neg", [a], {}
            v = -values[a]
        name = f"n{i}"
        nodes.append([name, op, args, kwargs])
        values[name], inputs[name] = v, args
        grad[name] = any(grad[x] for x in args)
    candidates = [n[0] for n in nodes[:-1] if grad[n[0]]]
    roots = [nodes[-1][0]]
    for _ in range(int(rng.choice([0, 0, 1, 2]))):
        if candidates:
            roots.append(candidates[int(rng.integers(len(candidates)))])
    roots = list(dict.fromkeys(roots[i] for i in rng.permutation(len(roots))))
    # Values as lists of floats: exact through the channel's JSON, and much cheaper than one array each.
    return {
        "leaves": {k: v.tolist() for k, v in leaves.items()},
        "constants": {k: v.tolist() for k, v in constants.items()},
        "nodes": nodes,
        "roots": roots,
        "upstreams": [rng.standard_normal(SHAPE).tolist() for _ in roots],
    }


def random_graphs(rng: np.random.Generator, count: int, sizes: tuple[int, int] = (5, 60)) -> list[Graph]:
    """`count` graphs; half of them small (at most 12 nodes: short failures), the rest up to sizes[1]."""
    lo, hi = sizes
    return [
        random_graph(rng, int(rng.integers(lo, min(hi, 12) + 1) if k % 2 == 0 else rng.integers(lo, hi + 1)))
        for k in range(count)
    ]


def chain_graph(n: int) -> Graph:
    """The structure of scenarios.deep_chain: y_k = y_{k-1} * c, y_0 = x (no values: for judging)."""
    nodes = [[f"y{k}", "mul", [f"y{k - 1}" if k > 1 else "x", "c"], {}] for k in range(1, n + 1)]
    return {"leaves": {"x": None}, "constants": {"c": None}, "nodes": nodes, "roots": [f"y{n}"], "upstreams": [None]}


def diamond_graph(depth: int) -> Graph:
    """The structure of scenarios.diamond_chain: m_k = y_{k-1} * y_{k-1}, y_k = m_k + y_{k-1}, y_0 = x."""
    nodes = []
    for k in range(1, depth + 1):
        prev = f"y{k - 1}" if k > 1 else "x"
        nodes += [[f"m{k}", "mul", [prev, prev], {}], [f"y{k}", "add", [f"m{k}", prev], {}]]
    return {"leaves": {"x": None}, "constants": {}, "nodes": nodes, "roots": [f"y{depth}"], "upstreams": [None]}


# ----------------------------------------------------------------------------------------------
# The structure, as the parent built it
# ----------------------------------------------------------------------------------------------


def _inputs(graph: Graph) -> dict[str, list[str]]:
    """op node name -> the names of its inputs, in order."""
    return {name: list(args) for name, _op, args, _kw in graph["nodes"]}


def _requires_grad(graph: Graph) -> dict[str, bool]:
    """name -> whether that tensor requires grad (leaves do, constants don't, a node if any input does)."""
    rg = {**{k: True for k in graph["leaves"]}, **{k: False for k in graph.get("constants", {})}}
    for name, _op, args, _kw in graph["nodes"]:
        rg[name] = any(rg[a] for a in args)
    return rg


def in_graph(graph: Graph, root: str) -> set[str]:
    """The tensors that require grad and that `root` was computed from (root included)."""
    inputs, rg = _inputs(graph), _requires_grad(graph)
    seen, stack = {root}, [root]
    while stack:
        for p in inputs.get(stack.pop(), []):
            if rg[p] and p not in seen:
                seen.add(p)
                stack.append(p)
    return seen


def expression(graph: Graph, name: str) -> str:
    """`name`'s defining expression, e.g. 'a * a', 'exp(t)', '2 - x'."""
    for node, op, args, kwargs in graph["nodes"][::-1]:  # (in error paths only: linear is fine)
        if node == name:
            if "scalar" in kwargs:
                s = f"{kwargs['scalar']:g}"
                a, b = (s, args[0]) if kwargs["side"] == "left" else (args[0], s)
                return f"{a} {BINARY[op]} {b}"
            if op in UNARY:
                return UNARY[op].format(args[0])
            return f"{args[0]} {BINARY[op]} {args[1]}"
    return "leaf"


def program(graph: Graph, backward: bool) -> str:
    """The graph as lines a student can type: leaves, constants, one line per node, the calls made."""
    head = "; ".join(
        [f"{k} = leaf (requires_grad=True)" for k in graph["leaves"]]
        + [f"{k} = constant (requires_grad=False)" for k in graph.get("constants", {})]
    )
    lines = [head] + [f"{name} = {expression(graph, name)}" for name, *_ in graph["nodes"]]
    roots = graph["roots"]
    if backward:
        lines.append("; ".join(f"{r}.backward(g{k + 1 if len(roots) > 1 else ''})" for k, r in enumerate(roots)))
    else:
        lines.append("; ".join(f"topological_sort({r})" for r in roots))
    return "\n".join("    " + line for line in lines)


def _labels(graph: Graph) -> dict[str, str]:
    """Short readable names: leaves x, w, v..., constants c, k..., roots y, z, other nodes a, b, d, ..."""

    def names(pool: str, n: int, fallback: str) -> list[str]:
        return [pool[i] if i < len(pool) else f"{fallback}{i}" for i in range(n)]

    roots = graph["roots"]
    inner = [n[0] for n in graph["nodes"] if n[0] not in roots]
    mapping = dict(zip(graph["leaves"], names("xwvus", len(graph["leaves"]), "x")))
    mapping.update(zip(graph.get("constants", {}), names("ckm", len(graph.get("constants", {})), "c")))
    mapping.update(zip(roots, names("yz", len(roots), "y")))
    mapping.update(zip(inner, names("abdefghpqrt", len(inner), "n")))
    return mapping


def relabel(graph: Graph) -> Graph:
    """The same graph with the short names of _labels."""
    mapping = _labels(graph)
    return {
        "leaves": {mapping[k]: v for k, v in graph["leaves"].items()},
        "constants": {mapping[k]: v for k, v in graph.get("constants", {}).items()},
        "nodes": [[mapping[n], op, [mapping[a] for a in args], kw] for n, op, args, kw in graph["nodes"]],
        "roots": [mapping[r] for r in graph["roots"]],
        "upstreams": list(graph["upstreams"]),
    }


def relabel_text(text: str, graph: Graph) -> str:
    """`text` (a message about `graph`) with the names of relabel(graph)."""
    mapping = _labels(graph)
    return re.sub(r"\b[xcn]\d+\b", lambda m: mapping.get(m.group(0), m.group(0)), text)


# ----------------------------------------------------------------------------------------------
# Judging raw observations
# ----------------------------------------------------------------------------------------------

ORDER_HINT = (
    "Likely cause: a node marked visited when it is pushed on the stack (or queued, breadth-first) "
    "instead of when it is entered, i.e. popped the first time (writeup section 3.5). Depth-first "
    "search finishes a node only after all its inputs have finished; reversed, that finishing order "
    "puts every node before the nodes it was computed from."
)


def _listing(order: Sequence[str], limit: int = 20) -> str:
    """A list of names as text, cut after `limit`."""
    shown = ", ".join(order[:limit])
    return f"[{shown}{', ...' if len(order) > limit else ''}]"


def sort_problem(graph: Graph, got: dict, want: dict | None = None) -> str | None:
    """What is wrong with the student's topological_sort orders for `graph` (None: nothing)."""
    if "error" in got:
        return f"raised {got['error']}"
    inputs = _inputs(graph)
    for root, order in zip(graph["roots"], got["orders"]):
        call = f"topological_sort({root})"
        if order is None:
            return f"{call} returned None (forgot to return the list?)"
        expected = in_graph(graph, root)
        strangers = [n for n in order if n.startswith("?")]
        if strangers:
            return f"{call} returned {strangers[0][1:]} objects that are not tensors of this graph; return the Tensors"
        counts = Counter(order)
        repeated = sorted(n for n, k in counts.items() if k > 1)
        if repeated:
            return (
                f"{call} returned {_listing(order)}: {', '.join(repeated)} appear(s) more than once. Likely "
                f"cause: a node pushed twice before it is popped is expanded twice; skip a popped node that "
                f"is already visited"
            )
        missing = sorted(expected - set(order))
        if missing:
            return (
                f"{call} returned {_listing(order)}: {', '.join(missing)} missing (every tensor that requires "
                f"grad and that {root} was computed from belongs in it)"
            )
        extra = [n for n in order if n not in expected]
        if extra:
            return (
                f"{call} returned {_listing(order)}: {', '.join(extra)} should not be in it (constants and "
                f"tensors computed only from constants do not require grad; tensors {root} does not "
                f"depend on are not part of its graph)"
            )
        if order[0] != root:
            return f"{call} returned {_listing(order)}: the root {root} must come first"
        position = {n: i for i, n in enumerate(order)}
        for node in order:
            for p in inputs.get(node, []):
                if p in position and position[p] < position[node]:
                    return (
                        f"{call} returned {_listing(order)}: {p} comes before {node}, but {node} = "
                        f"{expression(graph, node)} was computed from {p}; {p} must come after every node "
                        f"computed from it.\n  {ORDER_HINT}"
                    )
    return None


def backward_problem(graph: Graph, got: dict, want: dict | None) -> str | None:
    """What is wrong with backward on `graph`: calls (each node once, after all its consumers), stray
    .grad, leaf gradients (when the reference's are known). None: nothing."""
    if "error" in got:
        return f"raised {got['error']}"
    inputs, rg = _inputs(graph), _requires_grad(graph)
    done = []
    for k, (root, log) in enumerate(zip(graph["roots"], got["call_logs"])):
        call = f"{root}.backward(g{k + 1 if len(graph['roots']) > 1 else ''})"
        if done:
            call = f"after {'; '.join(done)}: {call}"
        done.append(f"{root}.backward(...)")
        expected = {n for n in in_graph(graph, root) if n in inputs}  # op nodes: leaves have no backward
        if "?" in log:
            return f"{call} called backward on {log.count('?')} node(s) that are not part of this graph"
        counts = Counter(log)
        for n in sorted(counts):
            if counts[n] > 1:
                return (
                    f"{call} ran the backward of {n} = {expression(graph, n)} {counts[n]} times; each node "
                    f"must be processed once, after all its consumers, with the sum of their gradients"
                )
        missing = sorted(expected - set(log))
        if missing:
            return f"{call} never ran the backward of {', '.join(missing)}"
        extra = sorted(set(log) - expected)
        if extra:
            why = "it does not require grad" if not rg[extra[0]] else f"{root} was not computed from it"
            return f"{call} ran the backward of {extra[0]}, which it should not reach ({why})"
        position = {n: i for i, n in enumerate(log)}
        for node in log:
            for p in inputs.get(node, []):
                if p in position and position[p] < position[node]:
                    return (
                        f"{call} ran the backward of {p} before that of {node}, but {node} = "
                        f"{expression(graph, node)} passes a gradient to {p}: {p} was processed before all "
                        f"its consumers had contributed (order of calls: {_listing(log)}).\n  {ORDER_HINT}"
                    )
        if want is not None and "grads" in want:
            for leaf in graph["leaves"]:
                g, w = got["grads"][k].get(leaf), want["grads"][k][leaf]
                if w is None and g is not None:
                    return f"{call} gave {leaf} a .grad, but {leaf} is not part of {root}'s graph"
                if w is not None:
                    if not isinstance(g, np.ndarray):
                        return f"{call}: {leaf}.grad is {'None' if g is None else g}, expected an array"
                    try:
                        check_array(f"{call}: {leaf}.grad", g, w)
                    except CheckFailed as e:
                        return (
                            f"{e}\n  Hint: a tensor used by several nodes receives the sum of all their "
                            f"gradients (+=), and may pass its gradient on (or be finished, for a leaf) only "
                            f"after every node computed from it has contributed."
                        )
    if got["kept"]:
        name = got["kept"][0]
        kind = "a constant (requires_grad=False)" if name in graph.get("constants", {}) else "an intermediate"
        return f"after backward, {name} has a .grad, but it is {kind}: only leaves keep gradients"
    return None


def check_order(what: str, order: Any, graph: Graph) -> None:
    """topological_sort's order (names) for the graph's one root is valid, judged against `graph`."""
    problem = sort_problem(graph, {"orders": [order]})
    if problem:
        raise CheckFailed(f"{what}: {problem}")


def _extent(layout: dict) -> tuple[int, int]:
    """[low, high) byte addresses an array with this layout (address, shape, strides, itemsize) touches."""
    low = high = int(layout["ptr"])
    if any(n == 0 for n in layout["shape"]):
        return low, low
    for n, stride in zip(layout["shape"], layout["strides"]):
        span = (int(n) - 1) * int(stride)
        low, high = (low + span, high) if span < 0 else (low, high + span)
    return low, high + int(layout["itemsize"])


def overlaps(a: dict, b: dict) -> bool:
    """Whether two arrays' memory ranges intersect (np.may_share_memory's rule), from observed layouts."""
    (lo_a, hi_a), (lo_b, hi_b) = _extent(a), _extent(b)
    return lo_a < hi_b and lo_b < hi_a


# ----------------------------------------------------------------------------------------------
# Shrinking
# ----------------------------------------------------------------------------------------------


def _prune(graph: Graph) -> Graph:
    """Drop the nodes no root depends on, then unused leaves and constants."""
    inputs = _inputs(graph)
    keep, stack = set(graph["roots"]), list(graph["roots"])
    while stack:
        for p in inputs.get(stack.pop(), []):
            if p not in keep:
                keep.add(p)
                stack.append(p)
    return {
        "leaves": {k: v for k, v in graph["leaves"].items() if k in keep},
        "constants": {k: v for k, v in graph.get("constants", {}).items() if k in keep},
        "nodes": [n for n in graph["nodes"] if n[0] in keep],
        "roots": list(graph["roots"]),
        "upstreams": list(graph["upstreams"]),
    }


def _candidates(graph: Graph) -> list[Graph]:
    """Smaller graphs to try, smallest first: fewer roots, another node as the root, a node bypassed."""
    out = []
    roots, ups = graph["roots"], graph["upstreams"]
    if len(roots) > 1:
        out += [{**graph, "roots": [r], "upstreams": [u]} for r, u in zip(roots, ups)]
        out += [
            {**graph, "roots": roots[:i] + roots[i + 1 :], "upstreams": ups[:i] + ups[i + 1 :]}
            for i in range(len(roots))
        ]
    else:
        rg = _requires_grad(graph)
        out += [{**graph, "roots": [n[0]]} for n in graph["nodes"] if rg[n[0]] and n[0] != roots[0]]
    rg = _requires_grad(graph)
    for name, _op, args, _kw in graph["nodes"]:
        for u in dict.fromkeys(args):
            if name in roots and not rg[u]:
                continue
            nodes = [[n, op, [u if a == name else a for a in a_], kw] for n, op, a_, kw in graph["nodes"] if n != name]
            out.append({**graph, "nodes": nodes, "roots": [u if r == name else r for r in roots]})
    pruned = []
    for g in out:
        g = _prune(g)
        ops, rg = _inputs(g), _requires_grad(g)
        # roots stay distinct op nodes that require grad
        if len(set(g["roots"])) == len(g["roots"]) and all(r in ops and rg[r] for r in g["roots"]) and _values_safe(g):
            pruned.append(g)
    return sorted(pruned, key=lambda g: (len(g["nodes"]), len(g["roots"])))


def _values_safe(graph: Graph) -> bool:
    """Every node's forward value is in the generator's safe range (bypassing a node can make `x - x`)."""
    values = {k: np.asarray(v, dtype=np.float64) for k, v in {**graph["leaves"], **graph.get("constants", {})}.items()}
    for name, op, args, kwargs in graph["nodes"]:
        values[name] = _evaluate(op, [values[a] for a in args], kwargs)
        if not _safe(values[name]):
            return False
    return True


def _size(graph: Graph) -> tuple[int, int]:
    """Sort key of graphs: op nodes, then roots."""
    return len(graph["nodes"]), len(graph["roots"])


def shrink(graph: Graph, evaluate: Callable[[list[Graph]], list[str | None]]) -> Graph:
    """The smallest graph found that still fails: greedy, each round one batch of candidates."""
    deadline = time.monotonic() + SHRINK_SECONDS
    for _ in range(SHRINK_ROUNDS):
        if time.monotonic() > deadline:
            break
        candidates = [g for g in _candidates(graph) if _size(g) < _size(graph) and g["nodes"]]
        if not candidates:
            break
        try:
            problems = evaluate(candidates)
        except StudentError:  # a candidate looped or crashed the worker: keep what we have
            break
        failing = [g for g, p in zip(candidates, problems) if p]
        if not failing:
            break
        graph = failing[0]
    return graph


# ----------------------------------------------------------------------------------------------
# The checks the tests call
# ----------------------------------------------------------------------------------------------


def check_random_graphs(
    student: Any, reference: Any, rng: np.random.Generator, mode: str, count: int = 40, sizes: tuple[int, int] = (5, 60)
) -> None:
    """`count` random graphs in one worker call; mode "sort" (task 1.1) or "backward" (task 1.2).

    On failure: the smallest failing graph found, as code, and what went wrong on it.
    """
    problem: Problem = sort_problem if mode == "sort" else backward_problem
    graphs = random_graphs(rng, count, sizes)

    def run(batch: list[Graph]) -> list[str | None]:
        got = student.run("random_graphs", graphs=batch, mode=mode)
        want = _reference(reference, batch, mode)
        return [problem(g, o, w) for g, o, w in zip(batch, got, want)]

    try:
        problems = run(graphs)
    except StudentTimeout as e:
        raise CheckFailed(
            f"{e.message}\n  on {count} random graphs of at most {sizes[1]} nodes: an infinite loop "
            f"(a node that is never marked visited, or never popped)?"
        ) from None
    failing = [(g, p) for g, p in zip(graphs, problems) if p]
    if not failing:
        return
    smallest, first_problem = min(failing, key=lambda gp: _size(gp[0]))
    shown = relabel(shrink(smallest, run))
    got = student.run("random_graphs", graphs=[shown], mode=mode)[0]
    if "error" in got:  # again, uncaught: the worker's message shows where in the student's code
        try:
            student.run("random_graphs", graphs=[shown], mode=mode, catch=False)
        except StudentError as e:
            raise CheckFailed(f"{_header(shown, mode, len(failing), count)}\n  {e.message}") from None
    message = problem(shown, got, _reference(reference, [shown], mode)[0])
    if not message:  # only judgeable with reference values we lack here (a student's machine): as drawn
        drawn = _prune(smallest)  # (the nodes its roots do not depend on play no part)
        shown, message = relabel(drawn), relabel_text(first_problem, drawn)
    raise CheckFailed(f"{_header(shown, mode, len(failing), count)}\n  {message}")


def _reference(reference: Any, batch: list[Graph], mode: str) -> list[dict | None]:
    """The reference's observations (leaf grads) in backward mode; None where unknown.

    Sort orders are judged against the graph alone. On a student's machine the recorded answers
    cover the drawn graphs only, not the smaller ones tried while shrinking: those are judged
    by structure alone.
    """
    if mode != "backward":
        return [None] * len(batch)
    try:
        return reference.run("random_graphs", graphs=batch, mode=mode)
    except LookupError:
        return [None] * len(batch)


def _header(graph: Graph, mode: str, n_failing: int, count: int) -> str:
    """The first lines of a failure: how many graphs failed, and the graph shown as code."""
    what = "topological_sort" if mode == "sort" else "backward"
    return (
        f"{what} is wrong on {n_failing} of {count} random graphs; the smallest failing graph found "
        f"({len(graph['nodes'])} op node(s)):\n{program(graph, mode == 'backward')}"
    )
