"""Shared checks for hw1p1's public and hidden tests (not a test file itself).

Every helper runs a scenario on the student's package (`student.run`, sandboxed) and on the reference
(`reference.run`), then compares in this trusted process. Most input generators keep values away from
kinks, ties and zeros, so a correct gradient is never failed by the numerical checker; `with_zeros` and
the tie cases put them there on purpose, and where that is a kink only the reference decides (`kink=`).
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autograder.framework.compare import CheckFailed, check_array, check_close, check_gradients, wrong_answers


def _catalogue() -> dict:
    """The grader's catalogue of known wrong formulas (hw1p1/misconceptions.py), or {} in the handout, which
    does not ship it (the formulas sit close to the solutions): students' local runs get the generic hints."""
    try:
        return importlib.import_module("autograder.assignments.hw1p1.misconceptions").CATALOGUE
    except ImportError:
        return {}


CATALOGUE = _catalogue()


def known_wrong(name: str, **case: Any) -> list:
    """The catalogue's wrong answers for op or task `name` on this case (evaluated here, never in the worker)."""
    return wrong_answers(CATALOGUE.get(name, ()), **case)


NAMES = ("a", "b", "c")

# ----------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------


def normal(rng: np.random.Generator, shape: Sequence[int]) -> np.ndarray:
    """Standard normal values (a 0-d array for shape ())."""
    return np.asarray(rng.standard_normal(tuple(shape)), dtype=np.float64)


def positive(rng: np.random.Generator, shape: Sequence[int]) -> np.ndarray:
    """Values in [0.5, 2]: safe for log, division and fractional powers."""
    return np.asarray(rng.uniform(0.5, 2.0, tuple(shape)), dtype=np.float64)


def nonzero(rng: np.random.Generator, shape: Sequence[int], low: float = 0.5) -> np.ndarray:
    """Values with |x| in [low, 2] and a random sign: away from 0 (division, ReLU's kink)."""
    magnitude = rng.uniform(low, 2.0, tuple(shape))
    sign = np.where(rng.random(tuple(shape)) < 0.5, -1.0, 1.0)
    return np.asarray(sign * magnitude, dtype=np.float64)


def distinct(rng: np.random.Generator, shape: Sequence[int]) -> np.ndarray:
    """Values at least 0.1 apart from each other (no ties for max), shuffled."""
    n = int(np.prod(shape, dtype=np.int64))
    values = (rng.permutation(n) - n / 2.0) * 0.25 + rng.uniform(-0.05, 0.05, n)
    return np.asarray(values.reshape(tuple(shape)), dtype=np.float64)


def with_zeros(rng: np.random.Generator, shape: Sequence[int]) -> np.ndarray:
    """Standard normal values with about a third of them exactly 0 (at least one when there are 2 or more)."""
    x = normal(rng, shape)
    zero = rng.random(tuple(shape)) < 0.35
    if x.size >= 2:
        zero.reshape(-1)[rng.integers(x.size)] = True
    return np.where(zero, 0.0, x)


DRAW: dict[str, Callable[[np.random.Generator, Sequence[int]], np.ndarray]] = {
    "normal": normal,
    "positive": positive,
    "nonzero": nonzero,
    "distinct": distinct,
    "zeros": with_zeros,
}


# ----------------------------------------------------------------------------------------------
# Running and comparing
# ----------------------------------------------------------------------------------------------


def forward_fn(reference: Any, scenario: str, **kwargs: Any) -> Callable[[Sequence[np.ndarray]], np.ndarray]:
    """f(inputs) -> output array through the reference scenario `scenario(inputs=..., **kwargs)`."""
    fn = reference.function(scenario, **kwargs)
    return lambda inputs: np.asarray(fn(inputs=[np.asarray(x, dtype=np.float64) for x in inputs]))


def op_case(
    student: Any,
    reference: Any,
    rng: np.random.Generator,
    label: str,
    op: str,
    inputs: Sequence[np.ndarray],
    kwargs: dict | None = None,
    *,
    numeric: bool = True,
    requires_grad: Sequence[bool] | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    upstream_zeros: bool = False,
    kink: str = "",
) -> None:
    """One op, forward and backward with a random upstream gradient.

    Checks the output, then every input's gradient against the reference's (tight tolerance) and,
    when `numeric`, against central differences of the reference forward. With `requires_grad`,
    only the inputs that require grad are checked (give numeric=False then). `upstream_zeros` makes
    about a third of the upstream gradient exactly 0. `kink` (with numeric=False) says why only the
    reference decides, e.g. "x has exact zeros, ReLU's kink: compared with the reference only".
    """
    inputs = [np.asarray(x, dtype=np.float64) for x in inputs]
    names = list(NAMES[: len(inputs)])
    out_shape = np.shape(reference.run("op_forward", op=op, inputs=inputs, kwargs=kwargs))
    upstream = normal(rng, out_shape)
    if upstream_zeros:
        upstream = np.where(rng.random(out_shape) < 0.35, 0.0, upstream)
    call = dict(op=op, inputs=inputs, upstream=upstream, kwargs=kwargs)
    if requires_grad is not None:
        call["requires_grad"] = list(requires_grad)
        names = [n for n, r in zip(names, requires_grad) if r]
    got = student.run("op_grad", **call)
    want = reference.run("op_grad", **call)
    check_array(f"{label} forward output", got["out"], want["out"], rtol=rtol, atol=atol)
    check_returned(label, got)
    f = forward_fn(reference, "op_forward", op=op, kwargs=kwargs) if numeric else None
    want = {k: v for k, v in want.items() if k != "out" and k[len("grad_") :] in names}
    wrong = known_wrong(op, op=op, inputs=inputs, upstream=upstream, kwargs=kwargs or {})
    try:
        check_gradients(
            label,
            got,
            want,
            names=names,
            f=f,
            inputs=inputs,
            upstream=upstream,
            numeric=numeric,
            rng=rng,
            rtol=rtol,
            atol=atol,
            wrong=wrong,
        )
    except CheckFailed as e:
        raise CheckFailed(e.message + (f"\n  ({kink})" if kink else "")) from None


def check_returned(label: str, got: dict) -> None:
    """Fail with a clear message when a node's backward returned the wrong kind of thing."""
    if got.get("no_graph"):
        raise CheckFailed(
            f"{label}: the output has no grad_fn although its inputs require grad (no graph node was recorded)"
        )
    if got.get("modified_in_place"):
        changed = " and ".join(repr(name) for name in got["modified_in_place"])
        raise CheckFailed(
            f"{label} changed {changed} in place; backward must leave the arrays it is given "
            f"untouched (the engine passes the same grad_output to other nodes), and what forward "
            f"saved too (a second backward through the same node reads it again). Likely cause: an "
            f"in-place operator such as `grad_output *= b`, `x.data -= ...` or `probs[rows, labels] "
            f"-= 1` on a saved array; write the result into a new array (or a .copy()) instead"
        )
    if got.get("backward_differs_on_repeat"):
        raise CheckFailed(
            f"{label}: calling backward a second time on the same node with the same grad_output "
            f"gave a different gradient; backward must not change the node's state (no in-place "
            f"updates of saved values or attributes, no counters)"
        )
    if "backward_returned" in got:
        raise CheckFailed(
            f"{label} returned {got['backward_returned']}; backward must return a tuple with one "
            f"gradient (or None) per input, in the order of the inputs"
        )


def check_all(
    what: str, got: dict, want: dict, keys: Sequence[str] | None = None, *, rtol: float = 1e-6, atol: float = 1e-9
) -> None:
    """check_close on each key of `want` (or `keys`); the first mismatch fails with its name."""
    for key in keys if keys is not None else sorted(want):
        if key not in got:
            raise CheckFailed(f"{what}: the scenario returned no {key!r}")
        if want[key] is None:
            if got[key] is not None:
                raise CheckFailed(f"{what}, {key}: expected None, got a value")
            continue
        check_close(f"{what}, {key}", got[key], want[key], rtol=rtol, atol=atol)


# x = x*x + x adds three edges from the new x to the old one (two into Mul, one into Add): 3**n paths.
DIAMOND_CHAIN_HINT = (
    "x = x*x + x repeated 30 times has only 61 nodes but 3**30 (about 2e14) paths from the "
    "output to x: a traversal that revisits nodes (or pushes gradients down every path) never "
    "finishes. Process each node once, after all its consumers, summing what they sent it."
)


# ----------------------------------------------------------------------------------------------
# Graphs for the engine tests (plain data the scenarios build with `_build`)
# ----------------------------------------------------------------------------------------------


def graph_edges(graph: dict) -> dict[str, list[str]]:
    """node name -> names of the tensors it was computed from."""
    return {name: list(args) for name, _op, args, _kw in graph["nodes"]}


def check_topological(what: str, order: Any, want_order: list, graph: dict) -> None:
    """order lists the same nodes as the reference's, each once, and every node before its inputs."""
    if order is None:
        raise CheckFailed(f"{what}: topological_sort returned None (did you forget to return the list?)")
    if not isinstance(order, list):
        raise CheckFailed(f"{what}: topological_sort returned {type(order).__name__}; expected a list")
    strangers = [n for n in order if isinstance(n, str) and n.startswith("?")]
    if strangers:
        raise CheckFailed(
            f"{what}: the order contains {strangers[0][1:]} objects that are not tensors of "
            f"this graph; return the Tensors themselves"
        )
    repeated = sorted({n for n in order if order.count(n) > 1})
    if repeated:
        raise CheckFailed(
            f"{what}: node(s) {', '.join(repeated)} appear more than once; visit each node once "
            f"(keep a set of visited nodes)"
        )
    missing = [n for n in want_order if n not in order]
    if missing:
        raise CheckFailed(
            f"{what}: node(s) {', '.join(missing)} are missing from the order (expected "
            f"{len(want_order)} nodes, got {len(order)}); every tensor that requires grad and "
            f"that the root depends on belongs in it"
        )
    extra = [n for n in order if n not in want_order]
    if extra:
        const = set(graph.get("constants", {}))
        why = " (constants with requires_grad=False are not part of the graph)" if set(extra) & const else ""
        raise CheckFailed(f"{what}: node(s) {', '.join(extra)} should not be in the order{why}")
    if order[0] != graph["root"]:
        raise CheckFailed(f"{what}: the order starts with {order[0]}, expected the root {graph['root']} first")
    position = {n: i for i, n in enumerate(order)}
    for node, inputs in graph_edges(graph).items():
        for parent in inputs:
            if node in position and parent in position and position[parent] < position[node]:
                raise CheckFailed(
                    f"{what}: {parent} comes before {node}, but {node} was computed from {parent}; every node "
                    f"must come before the nodes it was computed from (order: {', '.join(order)}). "
                    f"Likely cause: a node marked visited when it was pushed on the stack instead of when it "
                    f"is entered (writeup section 3.5)"
                )


def check_graph_grads(what: str, got: dict, want: dict, graph: dict) -> None:
    """Leaves' grads equal the reference's; constants and intermediates have none."""
    leaves, constants = set(graph.get("leaves", {})), set(graph.get("constants", {}))
    for name in sorted(want):
        g, w = got.get(name), want[name]
        if isinstance(g, dict) and "not_an_array" in g:
            raise CheckFailed(
                f"{what}: {name}.grad is a {g['not_an_array']}; a gradient must be a plain numpy "
                f"array (store the ndarray, not a Tensor: a Tensor grad keeps the graph alive)"
            )
        if name in constants and g is not None:
            raise CheckFailed(
                f"{what}: {name} has requires_grad=False but received a .grad; gradients must not flow into constants"
            )
        if name not in leaves and name not in constants and g is not None and w is None:
            raise CheckFailed(
                f"{what}: the intermediate tensor {name} kept a .grad; only leaves keep "
                f"gradients (pass intermediate gradients on, don't store them)"
            )
        if w is not None:
            if g is None:
                raise CheckFailed(f"{what}: {name}.grad is None after backward; the gradient never reached this leaf")
            try:
                check_array(f"{what}: {name}.grad", g, w)
            except CheckFailed as e:
                if np.shape(g) != np.shape(w):
                    raise
                raise CheckFailed(
                    f"{e.args[0]}\n  Hint: a tensor used by several nodes receives the sum of their "
                    f"gradients (+=, not =), and a node may only pass its gradient on after every "
                    f"node that used it has contributed."
                ) from None


def check_call_counts(what: str, got: dict, want: dict) -> None:
    """Each node's backward ran exactly as often as in the reference (once per node).

    Counted here from the call logs (the node names in call order), not taken from the worker.
    """
    counts = Counter(got["call_log"])
    wanted = Counter(want["call_log"])
    unknown = counts.pop("?", 0)
    for name in sorted(wanted):
        n, m = counts.get(name, 0), wanted[name]
        if n != m:
            hint = (
                "visit each node once, after all its consumers (topological order), and sum the gradients it received"
                if n > m
                else "this node was never processed"
            )
            raise CheckFailed(f"{what}: backward of node {name} was called {n} times, expected {m}; {hint}")
    extra = sorted(set(counts) - set(wanted))
    if extra:
        raise CheckFailed(
            f"{what}: backward was called on node(s) {', '.join(extra)}, which should not be "
            f"reached (they do not require grad?)"
        )
    if unknown:
        raise CheckFailed(f"{what}: {unknown} backward call(s) on nodes outside this graph")


def case(case_id: str, op: str, *inputs: tuple, **kwargs: Any) -> Any:
    """A pytest.param for op_case: inputs are (draw kind, shape) pairs, kwargs the op's plain kwargs."""
    import pytest

    return pytest.param(op, list(inputs), kwargs or None, id=case_id)


def draw(rng: np.random.Generator, specs: Sequence[tuple]) -> list[np.ndarray]:
    """Arrays for (kind, shape) specs, kinds from DRAW."""
    return [DRAW[kind](rng, shape) for kind, shape in specs]


def scalar_upstream(rng: np.random.Generator) -> np.ndarray:
    """A random 0-d upstream gradient, kept away from 0 and from 1."""
    return np.asarray(rng.uniform(0.5, 1.5) * rng.choice([-1.0, 1.0]) + 0.0, dtype=np.float64)


# name -> builder(rng) -> graph description (see scenarios._build). Only same-shape elementwise ops
# (add, sub, mul, neg, exp): the engine tests should not fail because of a broadcasting or reduction
# bug, which the op tests already charge for. The root is not a scalar: backward gets an upstream
# array shaped like it (root_shape).
def _fanout(rng: np.random.Generator) -> dict:
    # x is used by three nodes: a, b and d
    return {
        "leaves": {"x": normal(rng, (3, 5)), "w": normal(rng, (3, 5))},
        "nodes": [
            ["a", "mul", ["x", "w"], {}],
            ["b", "exp", ["x"], {}],
            ["c", "add", ["a", "b"], {}],
            ["d", "mul", ["c", "x"], {}],
        ],
        "root": "d",
    }


def _diamond(rng: np.random.Generator) -> dict:
    # a feeds b twice (a*a) and c; b and c meet again in d
    return {
        "leaves": {"x": normal(rng, (5,))},
        "nodes": [
            ["a", "exp", ["x"], {}],
            ["b", "mul", ["a", "a"], {}],
            ["c", "neg", ["a"], {}],
            ["d", "add", ["b", "c"], {}],
        ],
        "root": "d",
    }


def _square(rng: np.random.Generator) -> dict:
    # b = a * a names a twice as an input of one node: a search may meet it twice before visiting it
    return {
        "leaves": {"x": normal(rng, (3, 5))},
        "nodes": [["a", "exp", ["x"], {}], ["b", "mul", ["a", "a"], {}], ["c", "mul", ["b", "x"], {}]],
        "root": "c",
    }


def _t_plus_tt(rng: np.random.Generator) -> dict:
    # y = t + t*t: marking t visited when it is pushed (not when it is entered) puts t before m, its consumer
    return {
        "leaves": {"t": normal(rng, (3, 5))},
        "nodes": [["m", "mul", ["t", "t"], {}], ["y", "add", ["t", "m"], {}]],
        "root": "y",
    }


def _tt_plus_t(rng: np.random.Generator) -> dict:
    # y = t*t + t: the same with the inputs swapped, for a search that explores the first input first
    return {
        "leaves": {"t": normal(rng, (3, 5))},
        "nodes": [["m", "mul", ["t", "t"], {}], ["y", "add", ["m", "t"], {}]],
        "root": "y",
    }


def _none_grads(rng: np.random.Generator) -> dict:
    # const_mul's backward returns None for the constant c (allowed: c needs no gradient); c is used twice
    return {
        "leaves": {"x": normal(rng, (3, 5))},
        "constants": {"c": normal(rng, (3, 5))},
        "nodes": [["a", "const_mul", ["x", "c"], {}], ["b", "const_mul", ["a", "c"], {}], ["d", "mul", ["b", "x"], {}]],
        "root": "d",
    }


def _long_short(rng: np.random.Generator) -> dict:
    # paths of different lengths from x to d: passing a's gradient on before b has contributed under-counts
    return {
        "leaves": {"x": 0.5 * normal(rng, (3, 1))},
        "nodes": [
            ["a", "exp", ["x"], {}],
            ["b", "exp", ["a"], {}],
            ["e", "mul", ["b", "a"], {}],
            ["c", "add", ["e", "a"], {}],
            ["d", "add", ["c", "x"], {}],
        ],
        "root": "d",
    }


def _constants(rng: np.random.Generator) -> dict:
    # c and k do not require grad: no gradient for them, and they are not graph nodes
    return {
        "leaves": {"x": normal(rng, (3, 5))},
        "constants": {"c": normal(rng, (3, 5)), "k": normal(rng, (3, 5))},
        "nodes": [
            ["a", "mul", ["x", "c"], {}],
            ["b", "add", ["a", "k"], {}],
            ["m", "mul", ["c", "k"], {}],
            ["d", "sub", ["b", "m"], {}],
        ],
        "root": "d",
    }


def _power_chain(rng: np.random.Generator) -> dict:
    # y = x * x * ... (x used six times, once per node)
    nodes, prev = [], "x"
    for k in range(5):
        nodes.append([f"y{k}", "mul", [prev, "x"], {}])
        prev = f"y{k}"
    return {"leaves": {"x": positive(rng, (7,))}, "nodes": nodes, "root": prev}


def _reuse(rng: np.random.Generator) -> dict:
    # two leaves, each reused at several depths
    return {
        "leaves": {"x": normal(rng, (5, 3)), "w": normal(rng, (5, 3))},
        "nodes": [
            ["a", "mul", ["x", "w"], {}],
            ["b", "add", ["a", "x"], {}],
            ["c", "mul", ["b", "w"], {}],
            ["d", "sub", ["c", "a"], {}],
            ["e", "mul", ["d", "b"], {}],
        ],
        "root": "e",
    }


def root_shape(graph: dict) -> tuple:
    """The root's shape: every graph above is elementwise on same-shaped leaves."""
    return np.shape(next(iter(graph["leaves"].values())))


GRAPHS: dict[str, Callable[[np.random.Generator], dict]] = {
    "fanout": _fanout,
    "diamond": _diamond,
    "long_short": _long_short,
    "constants": _constants,
    "power_chain": _power_chain,
    "reuse": _reuse,
    "square": _square,
    "none_grads": _none_grads,
    "t_plus_tt": _t_plus_tt,
    "tt_plus_t": _tt_plus_t,
}


# ----------------------------------------------------------------------------------------------
# Modules, losses, optimizers, training
# ----------------------------------------------------------------------------------------------


def _without(d: dict, *keys: str) -> dict:
    return {k: v for k, v in d.items() if k not in keys}


def linear_case(
    student: Any, reference: Any, rng: np.random.Generator, x_shape: Sequence[int], out_features: int, bias: bool = True
) -> None:
    """nn.Linear(in, out) with drawn weights: output, then grads of x, weight and bias (numerical too)."""
    x = normal(rng, x_shape)
    weight = normal(rng, (out_features, x_shape[-1]))
    b = normal(rng, (out_features,)) if bias else None
    up = normal(rng, tuple(x_shape[:-1]) + (out_features,))
    got = student.run("linear", x=x, weight=weight, bias=b, upstream=up)
    want = reference.run("linear", x=x, weight=weight, bias=b, upstream=up)
    check_array("Linear forward output", got["out"], want["out"])
    names = ["x", "weight", "bias"] if bias else ["x", "weight"]
    inputs = [x, weight, b] if bias else [x, weight]
    check_gradients(
        "Linear (x @ W.T + b) backward",
        got,
        _without(want, "out"),
        names=names,
        f=forward_fn(reference, "linear_forward", has_bias=bias),
        inputs=inputs,
        upstream=up,
        rng=rng,
    )


def loss_case(
    student: Any,
    reference: Any,
    rng: np.random.Generator,
    kind: str,
    pred: np.ndarray,
    target: np.ndarray,
    reduction: str = "mean",
    numeric: bool = True,
) -> None:
    """MSELoss / CrossEntropyLoss: the loss value and the gradient w.r.t. the prediction (logits)."""
    up = scalar_upstream(rng)
    call = dict(kind=kind, pred=pred, target=target, upstream=up, reduction=reduction)
    got = student.run("loss_grad", **call)
    want = reference.run("loss_grad", **call)
    label = "MSELoss" if kind == "mse" else "CrossEntropy.backward"
    check_close(f"{label} value", got["out"], want["out"])
    check_returned(label, got)
    f = forward_fn(reference, "loss_forward", kind=kind, target=target, reduction=reduction) if numeric else None
    wrong = known_wrong(kind, pred=pred, target=target, upstream=up, reduction=reduction)
    if kind == "ce":  # the writeup and the docstring call CrossEntropy's input the logits
        got, want = _renamed(got, "grad_pred", "grad_logits"), _renamed(want, "grad_pred", "grad_logits")
        wrong = [(hint, _renamed(values, "grad_pred", "grad_logits")) for hint, values in wrong]
    name = "logits" if kind == "ce" else "pred"
    check_gradients(
        label if kind == "ce" else f"{label} backward",
        got,
        _without(want, "out"),
        names=[name],
        f=f,
        inputs=[pred],
        upstream=up,
        numeric=numeric,
        rng=rng,
        wrong=wrong,
    )


def _renamed(d: Any, old: str, new: str) -> Any:
    """`d` with key `old` called `new` (anything that is not a dict is returned as it is)."""
    return {(new if k == old else k): v for k, v in d.items()} if isinstance(d, dict) else d


def batchnorm_case(
    student: Any,
    reference: Any,
    rng: np.random.Generator,
    n: int,
    c: int,
    modes: Sequence[str],
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> None:
    """BatchNorm1d over several batches (train/eval per batch): outputs, grads and running stats.

    Train-mode gradients come from the fused node; the first batch (train mode) is also checked
    numerically.
    """
    batches = [normal(rng, (n, c)) * rng.uniform(0.5, 3.0, c) + rng.uniform(-2, 2, c) for _ in modes]
    ups = [normal(rng, (n, c)) for _ in modes]
    gamma, beta = positive(rng, (c,)), normal(rng, (c,))
    call = dict(batches=batches, upstreams=ups, modes=list(modes), gamma=gamma, beta=beta, momentum=momentum, eps=eps)
    got = student.run("batchnorm", **call)
    want = reference.run("batchnorm", **call)
    check_returned("BatchNorm1dFunction.backward", got)
    for k, mode in enumerate(modes):
        step = f"BatchNorm1d ({mode} mode, batch {k + 1} of {len(modes)})"
        check_all(step, got, want, [f"out_{k}", f"running_mean_{k}", f"running_var_{k}"])
        if mode != "train":
            continue  # eval mode is composed of other ops: only its output and statistics count here
        grads = {f"grad_{name}": got[f"grad_{name}_{k}"] for name in ("x", "gamma", "beta")}
        wants = {f"grad_{name}": want[f"grad_{name}_{k}"] for name in ("x", "gamma", "beta")}
        f = None
        if k == 0:
            f = forward_fn(reference, "batchnorm_forward", mode=mode, momentum=momentum, eps=eps)
        wrong = known_wrong("batchnorm", x=batches[k], gamma=gamma, upstream=ups[k], eps=eps)
        check_gradients(
            f"{step} backward",
            grads,
            wants,
            names=["x", "gamma", "beta"],
            f=f,
            inputs=[batches[k], gamma, beta],
            upstream=ups[k],
            numeric=k == 0,
            rng=rng,
            wrong=wrong,
        )


def optimizer_case(
    student: Any,
    reference: Any,
    rng: np.random.Generator,
    kind: str,
    options: dict,
    shapes: Sequence[Sequence[int]] = ((3, 5), (5,)),
    steps: int = 5,
    skip: Sequence[tuple[int, int]] = (),
    schedule: Sequence[dict] | None = None,
) -> None:
    """`steps` optimizer steps from drawn params with drawn grads; (step, param) pairs in `skip` get None;
    schedule[k] (optional) sets hyperparameters on the optimizer before step k (e.g. a new lr)."""
    params = [normal(rng, s) for s in shapes]
    grads = [[None if (k, i) in skip else normal(rng, s) for i, s in enumerate(shapes)] for k in range(steps)]
    call = dict(kind=kind, params=params, grads=grads, options=options)
    if schedule is not None:
        call["schedule"] = [dict(h) for h in schedule]
    got = student.run("optimizer_steps", **call)
    want = reference.run("optimizer_steps", **call)
    wrong = known_wrong(kind, params=params, grads=grads, options=options, schedule=call.get("schedule"))
    label = "SGD" if kind == "sgd" else "Adam"
    opts = ", ".join(f"{k}={v}" for k, v in options.items())
    for k in range(steps):
        changed = ", ".join(f"{n}={v}" for n, v in (schedule[k] if schedule else {}).items())
        for i in range(len(shapes)):
            key = f"param_{i}_{k}"
            note = " (its grad was None this step: skip it)" if (k, i) in skip else ""
            note += f" ({changed} set on the optimizer before this step; step() must read it)" if changed else ""
            check_close(
                f"{label}({opts}) step {k + 1}: parameter {i}{note}",
                got.get(key),
                want[key],
                wrong=wrong,
                key=key,
                result=got,
            )


def train_step_case(
    student: Any,
    reference: Any,
    rng: np.random.Generator,
    n: int = 7,
    sizes: Sequence[int] = (5, 7, 3),
    steps: int = 3,
    lr: float = 0.1,
    stale: bool = False,
) -> None:
    """The student's train_step, `steps` times on one batch with a model, loss and optimizer defined by
    the scenario (so only train_step and the engine are under test): returned losses, final parameters.
    With `stale`, every parameter already holds a gradient from earlier work when train_step is entered."""
    weights = [0.5 * normal(rng, (o, i)) for i, o in zip(sizes[:-1], sizes[1:])]
    biases = [0.1 * normal(rng, (o,)) for o in sizes[1:]]
    x, y = normal(rng, (n, sizes[0])), rng.integers(0, sizes[-1], size=n)
    call = dict(x=x, y=y, weights=weights, biases=biases, lr=lr, steps=steps)
    if stale:
        call["stale_grads"] = [normal(rng, np.shape(p)) for p in weights + biases]  # parameters() order
    got = student.run("train_step_once", **call)
    want = reference.run("train_step_once", **call)
    for k, kind in enumerate(got["loss_types"]):
        if got["losses"][k] is None:
            raise CheckFailed(f"train_step returned a {kind}; it must return the loss as a Python float (loss.item())")
    for k in range(steps):
        hint = " (an earlier step left gradients behind: zero them before backward)" if k or stale else ""
        check_close(f"train_step call {k + 1}: the returned loss{hint}", got["losses"][k], want["losses"][k])
    for i in range(len(weights) * 2):
        check_close(
            f"after {steps} train_step calls: parameter {i} of the model", got[f"param_{i}"], want[f"param_{i}"]
        )
