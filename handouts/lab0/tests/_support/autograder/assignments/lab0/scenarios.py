"""lab0's scenarios: functions run on the student's `scalargrad` in the sandboxed worker, and on the
reference in the grader. Plain data in, plain data out (observations, never verdicts); no expected
values here: the tests compare with the reference's answers and with finite differences.

This file ships with the handout, so it writes out no derivative a task asks for: the "trusted"
operations below (used where a test must not depend on the student's own operations) take their
local derivatives by the complex step, d f/d a = Im f(a + ih) / h with h = 1e-30, exact to rounding.
"""

from __future__ import annotations

import cmath
import contextlib
import functools
import importlib
import itertools
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

STEP = 1e-30

# ---------------------------------------------------------------------------------------------
# Observations
# ---------------------------------------------------------------------------------------------


def _number(x: Any) -> Any:
    """A grad or data attribute as a float (numpy scalars too), or "?<type>" when it is not a real number."""
    if isinstance(x, (int, float, np.floating, np.integer)) and not isinstance(x, (bool, np.bool_)):
        return float(x)
    return "?" + type(x).__name__


# ---------------------------------------------------------------------------------------------
# Tasks 1.1 to 1.4: one operation's local derivatives, its node's _backward called directly
# ---------------------------------------------------------------------------------------------

# expression -> f(a, b, k): `a` and `b` Values, `k` a plain number. "k - a" is Python's `k - a`
# (Value.__rsub__), "-a" is Value.__neg__.
EXPRESSIONS: dict[str, Callable[[Any, Any, Any], Any]] = {
    "a + b": lambda a, b, k: a + b,
    "a + k": lambda a, b, k: a + k,
    "k + a": lambda a, b, k: k + a,
    "a + a": lambda a, b, k: a + a,
    "a - b": lambda a, b, k: a - b,
    "a - k": lambda a, b, k: a - k,
    "k - a": lambda a, b, k: k - a,
    "a - a": lambda a, b, k: a - a,
    "a * b": lambda a, b, k: a * b,
    "a * k": lambda a, b, k: a * k,
    "k * a": lambda a, b, k: k * a,
    "a * a": lambda a, b, k: a * a,
    "-a": lambda a, b, k: -a,
    "a / b": lambda a, b, k: a / b,
    "a / k": lambda a, b, k: a / k,
    "k / a": lambda a, b, k: k / a,
    "a / a": lambda a, b, k: a / a,
    "a ** k": lambda a, b, k: a**k,
    "a.exp()": lambda a, b, k: a.exp(),
    "a.tanh()": lambda a, b, k: a.tanh(),
    "a.relu()": lambda a, b, k: a.relu(),
}


def op_forward(lib: Any, expr: str, inputs: list, k: float = 0.0) -> float:
    """The expression's value for inputs [a] or [a, b] (numbers or 0-d arrays): for finite differences."""
    a = lib.Value(float(inputs[0]))
    b = lib.Value(float(inputs[1])) if len(inputs) > 1 else None
    return float(EXPRESSIONS[expr](a, b, k).data)


def op_local(
    lib: Any,
    expr: str,
    a: float,
    upstream: float,
    b: float | None = None,
    k: float = 0.0,
    grad_a: float = 0.0,
    grad_b: float = 0.0,
) -> dict:
    """out = expr(a, b, k) on fresh Values; a.grad, b.grad preset to grad_a, grad_b; out.grad = upstream;
    then out._backward() once (not backward(): no traversal, so only this node's derivatives count).

    Returns {"out": out.data, "grad_a": a.grad, "grad_b": b.grad (when b is used), "children": how
    many children the node has}.
    """
    A = lib.Value(a)
    B = lib.Value(b) if b is not None else None
    A.grad = grad_a
    if B is not None:
        B.grad = grad_b
    out = EXPRESSIONS[expr](A, B, k)
    out.grad = upstream
    out._backward()
    result = {"out": _number(out.data), "grad_a": _number(A.grad)}
    if B is not None:
        result["grad_b"] = _number(B.grad)
    return result


# ---------------------------------------------------------------------------------------------
# Trusted operations (graphs of tasks 2.x, the kit of task 3.2)
# ---------------------------------------------------------------------------------------------

# name -> (forward on floats, the same on complex numbers for the complex step)
TRUSTED: dict[str, tuple[Callable[..., float], Callable[..., complex]]] = {
    "+": (lambda a, b: a + b, lambda a, b: a + b),
    "-": (lambda a, b: a - b, lambda a, b: a - b),
    "*": (lambda a, b: a * b, lambda a, b: a * b),
    "/": (lambda a, b: a / b, lambda a, b: a / b),
    "exp": (math.exp, cmath.exp),
    "tanh": (math.tanh, cmath.tanh),
    "relu": (lambda a: a if a > 0 else 0.0, lambda a: a if a.real > 0 else 0.0 * a),
}


def _slope(f: Callable[..., complex], args: list[float], i: int) -> float:
    """d f/d args[i] by the complex step."""
    shifted = [complex(x, STEP) if k == i else complex(x) for k, x in enumerate(args)]
    return f(*shifted).imag / STEP


def trusted_node(
    lib: Any, op: str, children: list, log: list | None = None, name: str = "", power: float | None = None
) -> Any:
    """A node made here: lib.Value(data, children, op) with our own `_backward` (it appends `name` to
    `log` when it runs). `power` makes op "**" with that number exponent."""
    if power is not None:
        forward, cforward = (lambda a: a**power), (lambda a: a**power)
    else:
        forward, cforward = TRUSTED[op]
    datas = [float(c.data) for c in children]
    out = lib.Value(forward(*datas), tuple(children), op)

    def _backward() -> None:
        if log is not None:
            log.append(name)
        for i, child in enumerate(children):
            child.grad += out.grad * _slope(cforward, datas, i)

    out._backward = _backward
    return out


def _build(lib: Any, graph: dict, log: list | None = None) -> dict:
    """name -> Value for {"leaves": {name: number}, "nodes": [[name, op, [input names]], ...]}."""
    env = {name: lib.Value(float(v)) for name, v in graph["leaves"].items()}
    for name, op, args in graph["nodes"]:
        env[name] = trusted_node(lib, op, [env[a] for a in args], log, name)
    return env


def _names(env: dict, values: Any) -> Any:
    """Values as names ("?<type>" for objects that are not nodes of this graph); None stays None."""
    if values is None:
        return None
    if not isinstance(values, (list, tuple)):
        return "?" + type(values).__name__
    ids = {id(v): k for k, v in env.items()}
    return [ids.get(id(v), "?" + type(v).__name__) for v in values]


@contextlib.contextmanager
def _given_orders(lib: Any, orders: dict[int, list]) -> Iterator[None]:
    """Value.topological_order replaced by one that returns the order the grader computed (id(root) ->
    Values), so that backward's checks (task 2.2) do not depend on task 2.1."""
    original = lib.Value.__dict__.get("topological_order")

    def topological_order(self: Any) -> list:
        return list(orders[id(self)])

    lib.Value.topological_order = topological_order
    try:
        yield
    finally:
        if original is None:
            del lib.Value.topological_order
        else:
            lib.Value.topological_order = original


def _caught(fn: Callable[[], dict], catch: bool) -> dict:
    """fn(), or {"error": "Type: message"} when it raises and `catch`."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 -- reported per graph; the parent re-runs one uncaught
        if not catch:
            raise
        return {"error": f"{type(e).__name__}: {str(e)[:300]}"}


# ---------------------------------------------------------------------------------------------
# Task 2.1: topological_order; task 2.2: backward
# ---------------------------------------------------------------------------------------------


def graph_orders(lib: Any, graphs: list, catch: bool = True) -> list:
    """For each graph (trusted nodes), {"orders": [names from root.topological_order(), per root]}."""

    def one(graph: dict) -> dict:
        env = _build(lib, graph)
        return {"orders": [_names(env, env[r].topological_order()) for r in graph["roots"]]}

    return [_caught(functools.partial(one, g), catch) for g in graphs]


def graph_backward(lib: Any, graphs: list, catch: bool = True, repeat: int = 1) -> list:
    """For each graph: root.backward() for each root in turn (each `repeat` times), with
    topological_order returning graph["orders"][i] (names, computed by the grader) for root i.

    {"call_logs": [[names of the nodes whose _backward ran, in call order, per call], per root],
     "grads": [{leaf: leaf.grad after that root}, per root], "root_grads": [root.grad after its backward]}.
    """

    def one(graph: dict) -> dict:
        log: list = []
        env = _build(lib, graph, log)
        orders = {id(env[r]): [env[n] for n in order] for r, order in zip(graph["roots"], graph["orders"])}
        logs, grads, root_grads = [], [], []
        with _given_orders(lib, orders):
            for root in graph["roots"]:
                calls = []
                for _ in range(repeat):
                    del log[:]
                    env[root].backward()
                    calls.append(list(log))
                logs.append(calls)
                grads.append({leaf: _number(env[leaf].grad) for leaf in graph["leaves"]})
                root_grads.append(_number(env[root].grad))
        return {"call_logs": logs, "grads": grads, "root_grads": root_grads}

    return [_caught(functools.partial(one, g), catch) for g in graphs]


def chain(lib: Any, n: int, x: float, c: float, mode: str) -> dict:
    """y_k = y_{k-1} * c (trusted nodes; c a leaf Value) for k = 1..n, y_0 = x.

    mode "sort": {"order": names from y_n.topological_order()} ("x", "c", "y1", ...).
    mode "backward": y_n.backward() with topological_order given (children first: x, c, y1, ..., y_n);
    {"grad_x": x.grad, "grad_c": c.grad}. A recursive traversal passes Python's recursion limit.
    """
    env = {"x": lib.Value(x), "c": lib.Value(c)}
    y = env["x"]
    for k in range(1, n + 1):
        y = env[f"y{k}"] = trusted_node(lib, "*", [y, env["c"]])
    if mode == "sort":
        return {"order": _names(env, y.topological_order())}
    with _given_orders(lib, {id(y): list(env.values())}):
        y.backward()
    return {"grad_x": _number(env["x"].grad), "grad_c": _number(env["c"].grad)}


def diamond_chain(lib: Any, depth: int, x: float) -> dict:
    """m_k = y_{k-1} * y_{k-1}, y_k = m_k + y_{k-1} (trusted nodes), y_0 = x; y_depth.topological_order()
    as names. 3**depth paths lead from y_depth to x: a search that re-enters nodes never ends."""
    env = {"x": lib.Value(x)}
    y = env["x"]
    for k in range(1, depth + 1):
        m = env[f"m{k}"] = trusted_node(lib, "*", [y, y])
        y = env[f"y{k}"] = trusted_node(lib, "+", [m, y])
    return {"order": _names(env, y.topological_order())}


# ---------------------------------------------------------------------------------------------
# Task 3.1: Neuron, Layer, MLP
# ---------------------------------------------------------------------------------------------


def _nn(lib: Any) -> Any:
    """The package's nn module."""
    return importlib.import_module(lib.__name__ + ".nn")


def _load(model: Any, params: list) -> Any:
    """Set the model's parameters' data, in parameters() order (the given code fixes the order)."""
    ps = model.parameters()
    if len(ps) != len(params):
        raise ValueError(f"the model has {len(ps)} parameters, expected {len(params)}")
    for p, v in zip(ps, params):
        p.data = float(v)
    return model


def neuron_forward(lib: Any, weights: list, bias: float, activation: str, points: list, as_values: bool) -> dict:
    """Neuron(len(weights), activation) with the given parameters, called on each point (numbers, or
    Values when as_values): {"outs": its outputs' data, "kinds": "Value" or the type returned}."""
    neuron = _load(_nn(lib).Neuron(len(weights), activation), [*weights, bias])
    outs, kinds = [], []
    for x in points:
        y = neuron([lib.Value(v) for v in x] if as_values else list(x))
        kinds.append(type(y).__name__)
        outs.append(_number(getattr(y, "data", y)))
    return {"outs": outs, "kinds": kinds}


def neuron_reaches(lib: Any, weights: list, bias: float, activation: str, point: list) -> dict:
    """Which of a neuron's parameters and inputs its output was computed from (trusted walk of
    `children`, no backward): {"params": [bool per parameter], "inputs": [bool per input]}."""
    neuron = _load(_nn(lib).Neuron(len(weights), activation), [*weights, bias])
    xs = [lib.Value(v) for v in point]
    y = neuron(xs)
    seen, stack = set(), [y]
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen.add(id(node))
            stack.extend(getattr(node, "children", ()))
    return {"params": [id(p) in seen for p in neuron.parameters()], "inputs": [id(x) in seen for x in xs]}


def mlp_forward(lib: Any, sizes: list, params: list, points: list) -> dict:
    """MLP(sizes) with the given parameters on each point: {"outs": [output data (a list when n_out > 1)]}."""
    model = _load(_nn(lib).MLP(sizes), params)
    outs = []
    for x in points:
        y = model(list(x))
        outs.append([_number(v.data) for v in y] if isinstance(y, list) else _number(y.data))
    return {"outs": outs}


def zero_grad(lib: Any, sizes: list, grads: list, which: str) -> dict:
    """Preset every parameter's grad, then `which`.zero_grad() ("mlp", or "layer0", or "neuron0" of the
    first layer): {"grads": every parameter's grad afterwards, in MLP order}."""
    model = _nn(lib).MLP(sizes)
    ps = model.parameters()
    for p, g in zip(ps, grads):
        p.grad = float(g)
    target = {"mlp": model, "layer0": model.layers[0], "neuron0": model.layers[0].neurons[0]}[which]
    target.zero_grad()
    return {"grads": [_number(p.grad) for p in ps]}


# ---------------------------------------------------------------------------------------------
# Task 3.2: train_step and fit, on a kit of trusted operations
# ---------------------------------------------------------------------------------------------

_OPS = {"__add__": "+", "__sub__": "-", "__mul__": "*", "__truediv__": "/"}
_REFLECTED = {"__radd__": "+", "__rsub__": "-", "__rmul__": "*", "__rtruediv__": "/"}


@contextlib.contextmanager
def _trusted_kit(lib: Any) -> Iterator[None]:
    """Value's operations, topological_order and backward, Module.zero_grad and Neuron.__call__
    replaced by ours while the block runs, so that task 3.2's checks test train_step alone."""
    Value, nn = lib.Value, _nn(lib)

    def wrap(x: Any) -> Any:
        return x if isinstance(x, Value) else Value(float(x))

    def binary(op: str, reflected: bool) -> Callable[..., Any]:
        def method(self: Any, other: Any) -> Any:
            a, b = (wrap(other), self) if reflected else (self, wrap(other))
            return trusted_node(lib, op, [a, b])

        return method

    def power(self: Any, n: float) -> Any:
        return trusted_node(lib, f"**{n:g}", [self], power=n)

    def order(self: Any) -> list:
        # Every node was made after its children: sorting the reachable nodes by creation
        # (a counter in `made`) gives children before parents.
        seen: dict[int, Any] = {}
        stack = [self]
        while stack:
            node = stack.pop()
            if id(node) not in seen:
                seen[id(node)] = node
                stack.extend(node.children)
        return sorted(seen.values(), key=lambda v: made.get(id(v), -1))

    def backward(self: Any) -> None:
        nodes = order(self)
        for v in nodes:
            if v.children:
                v.grad = 0.0
        self.grad += 1.0
        for v in reversed(nodes):
            v._backward()

    def zero_grad(self: Any) -> None:
        for p in self.parameters():
            p.grad = 0.0

    def neuron_call(self: Any, x: Any) -> Any:
        total = self.b
        for wi, xi in zip(self.w, x):
            total = total + wi * xi
        return {"tanh": Value.tanh, "relu": Value.relu}.get(self.activation, lambda v: v)(total)

    made: dict[int, int] = {}  # id -> creation number (an id reused after garbage collection gets a new one)
    counter = itertools.count()
    original_init = Value.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        made[id(self)] = next(counter)

    patches = {
        (Value, "__init__"): init,
        **{(Value, name): binary(op, False) for name, op in _OPS.items()},
        **{(Value, name): binary(op, True) for name, op in _REFLECTED.items()},
        (Value, "__neg__"): lambda self: trusted_node(lib, "*", [self, Value(-1.0)]),
        (Value, "__pow__"): power,
        (Value, "exp"): lambda self: trusted_node(lib, "exp", [self]),
        (Value, "tanh"): lambda self: trusted_node(lib, "tanh", [self]),
        (Value, "relu"): lambda self: trusted_node(lib, "relu", [self]),
        (Value, "topological_order"): order,
        (Value, "backward"): backward,
        (nn.Module, "zero_grad"): zero_grad,
        (nn.Neuron, "__call__"): neuron_call,
    }
    saved = {(cls, name): cls.__dict__.get(name) for cls, name in patches}
    try:
        for (cls, name), fn in patches.items():
            setattr(cls, name, fn)
        yield
    finally:
        for (cls, name), fn in saved.items():
            if fn is None:
                with contextlib.suppress(AttributeError):
                    delattr(cls, name)
            else:
                setattr(cls, name, fn)


def _train_module(lib: Any) -> Any:
    """The package's train module."""
    return importlib.import_module(lib.__name__ + ".train")


def train_steps(
    lib: Any, sizes: list, params: list, X: list, y: list, lr: float, steps: int, batch_size: int | None = None
) -> dict:
    """fit(MLP(sizes) with `params`, X, y, steps, lr, batch_size) on the trusted kit: the student's
    train_step alone is under test. {"losses": what each train_step returned, "params": after}."""
    train = _train_module(lib)
    with _trusted_kit(lib):
        model = _load(_nn(lib).MLP(sizes), params)
        losses = train.fit(model, [list(map(float, p)) for p in X], [float(t) for t in y], steps, lr, batch_size)
        after = [_number(p.data) for p in model.parameters()]
    return {
        "losses": [_number(v) for v in losses] if isinstance(losses, list) else "?" + type(losses).__name__,
        "params": after,
    }


def moons_accuracy(lib: Any, sizes: list, params: list, X: list, y: list) -> float:
    """The fraction of points whose sign(model(x)) equals their label (+1 / -1). Run on the reference,
    in the grader only: a student's word on its own accuracy would be believed."""
    model = _load(_nn(lib).MLP(sizes), params)
    hits = sum((model(list(p)).data > 0) == (t > 0) for p, t in zip(X, y))
    return hits / len(y)
