"""hw1p1 scenarios: small programs run on a `mytorch` package, returning plain data only.

Each scenario is `name(lib, **plain_data) -> plain data`. The grader runs it twice with the same
arguments: in the sandboxed worker on the student's package and in the trusted parent on the
reference; the tests compare the two. Scenarios therefore hold no expected values, import only numpy
and the standard library, and never hand a student object back (the worker refuses anything that is
not numbers, strings, bools, None, numpy arrays, lists or str-keyed dicts).

Submodules (`nn`, `optim`, `train`, `ops.broadcast`) are reached with importlib inside the scenario
that needs them, so a broken optim.py only fails the optimizer tests.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# ---------------------------------------------------------------------------------------------
# Building blocks: one table of ops by name, and a tiny graph language on top of it.
# ---------------------------------------------------------------------------------------------


def _axis(axis: Any) -> Any:
    """JSON has no tuples: an axis given as a list means a tuple of axes."""
    return tuple(axis) if isinstance(axis, list) else axis


def _index(spec: Any) -> Any:
    """Turn a plain index description into a numpy index.

    A list is a tuple of index items; each item is an int, an int array (or list of ints), the
    string "..." or a dict {"slice": [start, stop, step]} (None allowed in each slot).
    """

    def item(x: Any) -> Any:
        if isinstance(x, dict) and "slice" in x:
            return slice(*x["slice"])
        if isinstance(x, str) and x == "...":
            return Ellipsis
        if isinstance(x, (list, np.ndarray)):
            return np.asarray(x, dtype=np.int64)
        return int(x)

    if isinstance(spec, list):
        return tuple(item(x) for x in spec)
    return item(spec)


def _binary(fn: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    """A binary op that also accepts one tensor and a Python scalar on either side."""

    def apply(lib: Any, *ts: Any, scalar: float | None = None, side: str = "right") -> Any:
        if scalar is None:
            return fn(ts[0], ts[1])
        s = float(scalar)
        return fn(s, ts[0]) if side == "left" else fn(ts[0], s)

    return apply


def _log_softmax(lib: Any, a: Any, axis: int = -1) -> Any:
    return lib.log_softmax(a, axis=axis)


def _transpose(lib: Any, a: Any, axes: list | None = None) -> Any:
    return a.transpose(*axes) if axes else a.transpose()


_CONST_MUL: dict[str, Any] = {}


def _const_mul(lib: Any, a: Any, c: Any) -> Any:
    """a * c through a Function defined here (not by the student) whose backward returns None for c.

    The contract allows None for an input that needs no gradient; the engine must skip it. Built on
    the package's own given Function base class, once per package.
    """
    cls = _CONST_MUL.get(lib.__name__ + str(id(lib)))
    if cls is None:
        base = importlib.import_module(lib.__name__ + ".autograd_engine").Function

        class ConstMul(base):  # type: ignore[misc, valid-type]
            def forward(self, x: np.ndarray, k: np.ndarray) -> np.ndarray:
                self.save_for_backward(k)
                return x * k

            def backward(self, grad_output: np.ndarray) -> tuple:
                (k,) = self.saved
                return grad_output * k, None

        cls = _CONST_MUL[lib.__name__ + str(id(lib))] = ConstMul
    return cls.apply(a, c)


# name -> f(lib, *tensors, **kwargs); kwargs are plain data (lists stand for tuples).
OPS: dict[str, Callable[..., Any]] = {
    "add": _binary(lambda a, b: a + b),
    "sub": _binary(lambda a, b: a - b),
    "mul": _binary(lambda a, b: a * b),
    "div": _binary(lambda a, b: a / b),
    "neg": lambda lib, a: -a,
    "pow": lambda lib, a, exponent: a ** float(exponent),
    "exp": lambda lib, a: a.exp(),
    "log": lambda lib, a: a.log(),
    "sum": lambda lib, a, axis=None, keepdims=False: a.sum(axis=_axis(axis), keepdims=keepdims),
    "mean": lambda lib, a, axis=None, keepdims=False: a.mean(axis=_axis(axis), keepdims=keepdims),
    "max": lambda lib, a, axis=None, keepdims=False: a.max(axis=_axis(axis), keepdims=keepdims),
    "reshape": lambda lib, a, shape: a.reshape(*shape),
    "transpose": _transpose,
    "T": lambda lib, a: a.T,
    "getitem": lambda lib, a, index: a[_index(index)],
    "matmul": lambda lib, a, b: a @ b,
    "relu": lambda lib, a: a.relu(),
    "sigmoid": lambda lib, a: a.sigmoid(),
    "tanh": lambda lib, a: a.tanh(),
    "log_softmax": _log_softmax,
    "const_mul": _const_mul,
}


def _apply(lib: Any, op: str, tensors: list, kwargs: dict | None) -> Any:
    """Apply the op named `op` (a key of OPS) to tensors with plain kwargs."""
    return OPS[op](lib, *tensors, **(kwargs or {}))


def _tensors(lib: Any, arrays: list, requires_grad: list | None = None) -> list:
    """Leaf tensors for each array (copied, so the caller's arrays cannot be changed)."""
    flags = requires_grad if requires_grad is not None else [True] * len(arrays)
    return [lib.Tensor(np.array(a, dtype=np.float64), requires_grad=bool(f)) for a, f in zip(arrays, flags)]


def _build(lib: Any, graph: dict, apply: Callable | None = None) -> dict:
    """Build a graph described as plain data; return name -> Tensor.

    graph = {"leaves": {name: array}, "constants": {name: array} (requires_grad=False),
             "nodes": [[name, op, [input names], kwargs], ...] in forward order, "root": name}
    `apply(op, inputs, kwargs)` makes each node: by default the library's own operators.
    """
    if apply is None:
        apply = lambda op, args, kwargs: _apply(lib, op, args, kwargs)  # noqa: E731
    env: dict[str, Any] = {}
    for name, a in graph.get("leaves", {}).items():
        env[name] = lib.Tensor(np.array(a, dtype=np.float64), requires_grad=True)
    for name, a in graph.get("constants", {}).items():
        env[name] = lib.Tensor(np.array(a, dtype=np.float64), requires_grad=False)
    for name, op, args, kwargs in graph["nodes"]:
        env[name] = apply(op, [env[x] for x in args], kwargs)
    return env


def _names_of(env: dict) -> dict[int, str]:
    """id(tensor) and id(tensor.grad_fn) -> the tensor's name (a sort may return either)."""
    names: dict[int, str] = {}
    for name, t in env.items():
        names[id(t)] = name
        fn = getattr(t, "grad_fn", None)
        if fn is not None:
            names.setdefault(id(fn), name)
    return names


def _describe(x: Any) -> str:
    """A short type description of a student value, safe to send (never the object itself)."""
    return type(x).__module__ + "." + type(x).__qualname__ if x is not None else "None"


def _grad_or_type(t: Any) -> Any:
    """t.grad if it is None or an ndarray; otherwise a note naming its type (a Tensor, a list...)."""
    g = getattr(t, "grad", None)
    if g is None or type(g) is np.ndarray:
        return g
    return {"not_an_array": _describe(g)}


def _function_classes(lib: Any) -> list:
    """Every subclass of the package's Function base class, recursively."""
    base = importlib.import_module(lib.__name__ + ".autograd_engine").Function
    seen, stack = [], list(base.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls not in seen:
            seen.append(cls)
            stack.extend(cls.__subclasses__())
    return seen


class _CountBackwardCalls:
    """Context manager: wraps every Function subclass's backward to log calls per node.

    `log` lists id(node) of every outermost backward call, in call order (raw observations for the
    parent to check: each node once, after all its consumers); `counts` tallies it.
    """

    def __init__(self, lib: Any):
        self.lib = lib
        self.counts: dict[int, int] = {}
        self.log: list[int] = []
        self.depth: dict[int, int] = {}  # shared by all wrappers: super().backward() is the same visit
        self.saved: list = []

    def __enter__(self) -> _CountBackwardCalls:
        for cls in _function_classes(self.lib):
            original = cls.__dict__.get("backward")
            if original is not None and not isinstance(original, (staticmethod, classmethod)):
                self.saved.append((cls, original))
                cls.backward = self._wrap(original)
        return self

    def _wrap(self, original: Any) -> Callable[..., Any]:
        counts, depth, log = self.counts, self.depth, self.log

        def backward(node: Any, *args: Any, **kwargs: Any) -> Any:
            # Count only the outermost call per node, so super().backward() is not a second visit.
            key = id(node)
            if depth.get(key, 0) == 0:
                counts[key] = counts.get(key, 0) + 1
                log.append(key)
            depth[key] = depth.get(key, 0) + 1
            try:
                return original(node, *args, **kwargs)
            finally:
                depth[key] -= 1

        return backward

    def __exit__(self, *exc: Any) -> None:
        # The worker is persistent: always put the student's methods back.
        for cls, original in reversed(self.saved):
            cls.backward = original


def _caught(fn: Callable[[], Any]) -> dict | None:
    """Run fn; None if it returned, else the exception's type name and message (both str)."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 -- we report whatever the student raised
        return {"type": type(e).__name__, "message": str(e)[:500]}
    return None


# ---------------------------------------------------------------------------------------------
# Ops (tasks 2.x-5.2)
# ---------------------------------------------------------------------------------------------


def op_forward(lib: Any, op: str, inputs: list, kwargs: dict | None = None) -> np.ndarray:
    """The op's output array (used by the numerical gradient checker as f(inputs))."""
    ts = _tensors(lib, inputs, [False] * len(inputs))
    return _apply(lib, op, ts, kwargs).data


def _node_backward(out: Any, tensors: list, names: list, upstream: np.ndarray) -> dict:
    """Call out.grad_fn.backward(upstream) directly (not through the engine).

    So an op's test exercises that op's backward alone: a student whose engine is unfinished
    still earns the op's points. Returns {"grad_<name>": gradient for each tensor}, or
    {"backward_returned": description} when backward did not return a tuple of right length,
    {"no_graph": True} when the output has no grad_fn, or {"modified_in_place": [names]} when
    backward changed grad_output or an input's data.
    """
    fn = out.grad_fn
    if fn is None:
        return {"no_graph": True}
    # What backward is given must come back unchanged: the engine hands the same arrays to other nodes,
    # and what the node saved must too: a second backward through the same node reads it again.
    given = [("grad_output", upstream), *((name, t.data) for name, t in zip(names, tensors)), *_saved_arrays(fn)]
    before = [arr.copy() for _, arr in given]
    grads = fn.backward(upstream)
    modified = [
        name
        for (name, arr), old in zip(given, before)
        if arr.shape != old.shape or not np.array_equal(arr, old, equal_nan=True)
    ]
    if modified:
        return {"modified_in_place": modified}
    grads = _as_tuple(grads, fn)
    again = _as_tuple(fn.backward(upstream.copy()), fn)  # the same node, the same upstream: the same answer
    if not _same_grads(grads, again):
        return {"backward_differs_on_repeat": True}
    inputs = list(fn.inputs)
    if not isinstance(grads, (tuple, list)):
        return {"backward_returned": f"a {_describe(grads)} (expected a tuple with one gradient per input)"}
    if len(grads) != len(inputs):
        return {"backward_returned": f"{len(grads)} gradient(s) for {len(inputs)} input(s)"}
    result: dict[str, Any] = {}
    for name, t in zip(names, tensors):
        # the node's inputs may include wrapped Python scalars: find our tensor by identity
        g = next((g for x, g in zip(inputs, grads) if x is t), None)
        # numpy reductions to shape () give numpy scalars: the same value as a 0-d array
        result["grad_" + name] = np.asarray(g) if isinstance(g, np.generic) else g
    return result


def _saved_arrays(fn: Any) -> list[tuple[str, np.ndarray]]:
    """The arrays a node keeps for backward (its `saved` tuple and ndarray attributes), named as in its code."""
    found: list[tuple[str, np.ndarray]] = []
    saved = getattr(fn, "saved", None)
    if isinstance(saved, (tuple, list)):
        found += [(f"self.saved[{i}]", a) for i, a in enumerate(saved) if type(a) is np.ndarray]
    for name, value in vars(fn).items():
        if type(value) is np.ndarray and not any(value is a for _, a in found):
            found.append((f"self.{name}", value))
    return found


def _as_tuple(grads: Any, fn: Any) -> Any:
    """A bare array from a one-input op's backward counts as a one-element tuple (accepted)."""
    return (grads,) if isinstance(grads, np.ndarray) and len(fn.inputs) == 1 else grads


def _same_grads(first: Any, second: Any) -> bool:
    """Two backward results hold the same values (anything that is not a tuple of arrays is left to the checks)."""
    if not isinstance(first, (tuple, list)) or not isinstance(second, (tuple, list)) or len(first) != len(second):
        return True
    for a, b in zip(first, second):
        if isinstance(a, (np.ndarray, np.generic)) and isinstance(b, (np.ndarray, np.generic)):
            if np.shape(a) != np.shape(b) or not np.array_equal(a, b, equal_nan=True):
                return False
        elif (a is None) != (b is None):
            return False
    return True


def op_grad(
    lib: Any,
    op: str,
    inputs: list,
    upstream: Any,
    kwargs: dict | None = None,
    names: list | None = None,
    requires_grad: list | None = None,
    engine: bool = False,
) -> dict:
    """Forward, then the op's backward(upstream); {"out", "grad_<name>" per input}.

    engine=False calls the op node's backward directly; engine=True goes through out.backward().
    """
    names = names or ["a", "b", "c"][: len(inputs)]
    ts = _tensors(lib, inputs, requires_grad)
    out = _apply(lib, op, ts, kwargs)
    up = np.array(upstream, dtype=np.float64)
    if not engine:
        return {"out": out.data, **_node_backward(out, ts, names, up)}
    out.backward(up)
    result = {"out": out.data}
    for name, t in zip(names, ts):
        result["grad_" + name] = t.grad
    return result


def unbroadcast(lib: Any, grad: np.ndarray, shape: list) -> Any:
    """The student's unbroadcast helper called directly."""
    mod = importlib.import_module(lib.__name__ + ".ops.broadcast")
    result = mod.unbroadcast(np.array(grad, dtype=np.float64), tuple(shape))
    # numpy reductions to shape () give a numpy scalar: the same value as a 0-d array
    return np.asarray(result) if isinstance(result, np.generic) else result


# ---------------------------------------------------------------------------------------------
# Engine (tasks 1.1, 1.2)
# ---------------------------------------------------------------------------------------------


def topo_order(lib: Any, graph: dict) -> dict:
    """lib.topological_sort(root) as a list of node names ("?<type>" for objects not in the graph)."""
    env = _build(lib, graph)
    names = _names_of(env)
    order = lib.topological_sort(env[graph["root"]])
    if order is None:
        return {"order": None}
    return {"order": [names.get(id(n), "?" + _describe(n)) for n in order]}


def graph_backward(lib: Any, graph: dict, upstream: Any = None, repeat: int = 1) -> dict:
    """Build the graph and call root.backward(upstream) `repeat` times (rebuilding the op nodes on
    the same leaves each time, so gradients accumulate).

    Returns {"grads": {name: grad or None for every tensor}, "call_log": names of the nodes whose
    backward ran, in call order ("?" for nodes outside this graph)} and "out". The parent counts.
    """
    env = _build(lib, graph)
    leaves = {name: env[name] for name in list(graph.get("leaves", {})) + list(graph.get("constants", {}))}
    up = None if upstream is None else np.array(upstream, dtype=np.float64)
    log: list[str] = []
    for k in range(repeat):
        if k > 0:
            env = _rebuild_with(lib, graph, leaves)
        names = _names_of(env)
        # Wrap after the forward pass: op modules are imported lazily, so their classes exist now.
        with _CountBackwardCalls(lib) as counter:
            env[graph["root"]].backward(up)
        log += [names.get(key, "?") for key in counter.log]
    return {
        "out": env[graph["root"]].data,
        "grads": {name: _grad_or_type(t) for name, t in env.items()},
        "call_log": log,
    }


def _rebuild_with(lib: Any, graph: dict, leaves: dict) -> dict:
    """Rebuild the graph's op nodes on top of existing leaf tensors."""
    env = dict(leaves)
    for name, op, args, kwargs in graph["nodes"]:
        env[name] = _apply(lib, op, [env[x] for x in args], kwargs)
    return env


_ENGINE_OPS: dict[str, dict] = {}


STEP = 1e-30  # the complex step: far below rounding, so f(a + ih) = f(a) + ih f'(a) exactly in floating point
BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}


def _engine_ops(lib: Any) -> dict:
    """Elementwise ops written here on the package's given Function base (correct by construction),
    by name as in OPS, so that the random-graph and deep-chain checks test the student's engine
    (tasks 1.1, 1.2) and not their op backwards (tasks 2.x, charged by their own tests)."""
    key = lib.__name__ + str(id(lib))
    if key in _ENGINE_OPS:
        return _ENGINE_OPS[key]
    Function = importlib.import_module(lib.__name__ + ".autograd_engine").Function

    # Local derivatives by the complex step, d f/d a = Im f(a + ih) / h, exact to rounding for these
    # analytic ops: the handout ships this file, so no op's backward formula is written out here.
    def slope(f: Callable[..., np.ndarray], args: list[np.ndarray], i: int) -> np.ndarray:
        shifted = [x + 1j * STEP if k == i else x.astype(complex) for k, x in enumerate(args)]
        return np.imag(f(*shifted)) / STEP

    class Binary(Function):  # type: ignore[misc, valid-type]
        def forward(self, a: np.ndarray, b: np.ndarray, *, op: str) -> np.ndarray:
            self.save_for_backward(a, b)
            self.f = BINARY[op]
            self.same = op == "add"
            return np.real(self.f(a, b))

        def backward(self, g: np.ndarray) -> tuple:
            if self.same:  # the same array twice, as Add's backward gives it for same-shaped inputs
                return g, g
            a, b = self.saved
            return g * slope(self.f, [a, b], 0), g * slope(self.f, [a, b], 1)

    class Unary(Function):  # type: ignore[misc, valid-type]
        def forward(self, a: np.ndarray, *, op: str, scalar: float = 0.0, side: str = "right") -> np.ndarray:
            s, left = scalar, side == "left"
            self.f = {
                "exp": np.exp,
                "neg": np.negative,
                "add": lambda x: x + s,
                "sub": (lambda x: s - x) if left else (lambda x: x - s),
                "mul": lambda x: x * s,
                "div": (lambda x: s / x) if left else (lambda x: x / s),
            }[op]
            self.save_for_backward(a)
            return np.real(self.f(a))

        def backward(self, g: np.ndarray) -> tuple:
            (a,) = self.saved
            return (g * slope(self.f, [a], 0),)

    def apply(op: str, tensors: list, kwargs: dict | None) -> Any:
        kwargs = kwargs or {}
        if len(tensors) == 2:
            return Binary.apply(tensors[0], tensors[1], op=op)
        return Unary.apply(tensors[0], op=op, scalar=float(kwargs.get("scalar", 0.0)), side=kwargs.get("side", "right"))

    _ENGINE_OPS[key] = {"apply": apply}
    return _ENGINE_OPS[key]


def _build_trusted(lib: Any, graph: dict) -> dict:
    """_build with the ops of _engine_ops: name -> Tensor."""
    return _build(lib, graph, _engine_ops(lib)["apply"])


def _order_names(order: Any, names: dict[int, str]) -> Any:
    """topological_sort's result as names (see _names_of); None stays None."""
    if order is None:
        return None
    return [names.get(id(n), "?" + _describe(n)) for n in order]


def random_graphs(lib: Any, graphs: list, mode: str, catch: bool = True) -> list:
    """For each graph (see _build_trusted; "roots": names, "upstreams": one per root), raw observations.

    mode "sort": {"orders": [names from topological_sort(root), one list per root]}.
    mode "backward": root.backward(upstream) for each root in sequence on the same graph;
    {"call_logs": [names whose grad_fn.backward ran, in call order, per root],
     "grads": [{leaf: its .grad after that root} per root], "kept": non-leaves holding a .grad}.
    Names are "?<type>" for objects not in the graph. With `catch`, an exception in one graph is
    {"error": "Type: message"} for that graph (the parent re-runs a small failing graph uncaught).
    """
    out = []
    for graph in graphs:
        try:
            out.append(_random_graph_run(lib, graph, mode))
        except Exception as e:  # noqa: BLE001 -- reported per graph; re-run uncaught for the traceback
            if not catch:
                raise
            out.append({"error": f"{type(e).__name__}: {str(e)[:300]}"})
    return out


def _random_graph_run(lib: Any, graph: dict, mode: str) -> dict:
    """One graph of random_graphs (built with the ops of _engine_ops)."""
    env = _build_trusted(lib, graph)
    names = _names_of(env)
    leaves = list(graph.get("leaves", {}))
    if mode == "sort":
        return {"orders": [_order_names(lib.topological_sort(env[root]), names) for root in graph["roots"]]}
    logs, grads = [], []
    for root, up in zip(graph["roots"], graph["upstreams"]):
        with _CountBackwardCalls(lib) as counter:
            env[root].backward(np.array(up, dtype=np.float64))
        logs.append([names.get(key, "?") for key in counter.log])
        grads.append({name: _copy_grad(env[name]) for name in leaves})
    kept = [name for name, t in env.items() if name not in leaves and getattr(t, "grad", None) is not None]
    return {"call_logs": logs, "grads": grads, "kept": kept}


def diamond_chain(lib: Any, x: np.ndarray, depth: int, upstream: np.ndarray, sort_only: bool = False) -> dict:
    """m_k = y_{k-1} * y_{k-1}, y_k = m_k + y_{k-1} (y_0 = x) for k = 1..depth; backward, or only
    topological_sort(y_depth) as tensor names ("x", "m1", "y1", ...).

    A traversal that revisits shared nodes does 2**depth work here.
    """
    leaf = lib.Tensor(np.array(x, dtype=np.float64), requires_grad=True)
    env, y = {"x": leaf}, leaf
    for k in range(1, depth + 1):
        m = env[f"m{k}"] = y * y
        y = env[f"y{k}"] = m + y
    if sort_only:
        return {"order": _order_names(lib.topological_sort(y), _names_of(env))}
    y.backward(np.array(upstream, dtype=np.float64))
    return {"out": y.data, "grad_x": leaf.grad}


def deep_chain(lib: Any, x: np.ndarray, n: int, upstream: np.ndarray, sort_only: bool = False) -> dict:
    """y_k = y_{k-1} * c (y_0 = x; c a constant near 1; the Mul of _engine_ops) for k = 1..n; backward,
    or only topological_sort(y_n) as tensor names ("x", "y1", ...; "c" for the constant).

    A recursive traversal hits Python's recursion limit (~1,000 frames) long before n = 10,000.
    """
    leaf = lib.Tensor(np.array(x, dtype=np.float64), requires_grad=True)
    near_one = 1.0 + 0.01 * np.cos(np.arange(np.size(x))).reshape(np.shape(x)) / np.sqrt(n)  # c**n stays O(1)
    c = lib.Tensor(near_one, requires_grad=False)
    env, y = {"x": leaf, "c": c}, leaf
    mul = _engine_ops(lib)["apply"]  # our Mul: the chain tests the engine, not Mul.backward (task 2.3)
    for k in range(1, n + 1):
        y = env[f"y{k}"] = mul("mul", [y, c], None)
    if sort_only:
        return {"order": _order_names(lib.topological_sort(y), _names_of(env))}
    y.backward(np.array(upstream, dtype=np.float64))
    return {"out": y.data, "grad_x": leaf.grad}


def _layout(a: Any) -> Any:
    """Where an array's bytes are (address, shape, strides, itemsize): raw data for the parent to
    compare; the type's name for anything that is not an ndarray."""
    if type(a) is not np.ndarray:
        return _describe(a)
    return {
        "ptr": int(a.__array_interface__["data"][0]),
        "shape": list(a.shape),
        "strides": list(a.strides),
        "itemsize": int(a.itemsize),
    }


def aliasing(lib: Any, a: np.ndarray, b: np.ndarray, upstream: np.ndarray) -> dict:
    """out = a + b, backward(upstream); then a second backward that reaches only `a`.

    Returns raw observations: the memory layouts of a.grad, b.grad, the upstream array and a.data
    (the parent decides what overlaps), b.grad after the first backward, both grads and the
    upstream array after the second.
    """
    ta = lib.Tensor(np.array(a, dtype=np.float64), requires_grad=True)
    tb = lib.Tensor(np.array(b, dtype=np.float64), requires_grad=True)
    up = np.array(upstream, dtype=np.float64)
    (ta + tb).backward(up)
    ga, gb = ta.grad, tb.grad
    result: dict[str, Any] = {
        "layout": {"a_grad": _layout(ga), "b_grad": _layout(gb), "upstream": _layout(up), "a_data": _layout(ta.data)},
        "grad_b_first": _copy_grad(tb),
    }
    (ta * 3.0).backward(np.ones_like(up))  # reaches only `a`
    result["grad_b_after"] = _copy_grad(tb)
    result["grad_a_after"] = _copy_grad(ta)
    result["upstream_after"] = up
    return result


def grad_types(lib: Any, a: np.ndarray, b: np.ndarray, c: np.ndarray, upstream: np.ndarray) -> dict:
    """out = (a * b + c) * a with constant c (same shapes): every tensor's .grad as it is (an array
    keeps its dtype; None; or the name of its type), for the parent to judge."""
    ta = lib.Tensor(np.array(a, dtype=np.float64), requires_grad=True)
    tb = lib.Tensor(np.array(b, dtype=np.float64), requires_grad=True)
    tc = lib.Tensor(np.array(c, dtype=np.float64), requires_grad=False)
    mid = ta * tb
    out = (mid + tc) * ta
    out.backward(np.array(upstream, dtype=np.float64))
    return {name: _grad_or_type(t) for name, t in (("a", ta), ("b", tb), ("c", tc), ("mid", mid), ("out", out))}


def backward_errors(lib: Any, x: np.ndarray) -> dict:
    """What backward() without a gradient does on a non-scalar output and on a 1-element one:
    the exception raised (type and message) or None, and the gradient the 1-element case gave."""
    t = lib.Tensor(np.array(x, dtype=np.float64), requires_grad=True)
    non_scalar = _caught(lambda: (t * 2.0).backward())
    t2 = lib.Tensor(np.array(x, dtype=np.float64), requires_grad=True)
    one = (t2 * t2).sum(axis=None, keepdims=True)  # one element, shape (1, 1, ...)
    one_element = _caught(lambda: one.backward())
    return {"non_scalar": non_scalar, "one_element": one_element, "grad_one_element": _copy_grad(t2)}


def no_grad_graph(lib: Any, a: np.ndarray, b: np.ndarray) -> dict:
    """Inside lib.no_grad(), ops record no graph; outside they do again; the result is a constant."""
    ta = lib.Tensor(np.array(a, dtype=np.float64), requires_grad=True)
    tb = lib.Tensor(np.array(b, dtype=np.float64), requires_grad=True)
    with lib.no_grad():
        inside = (ta * tb).exp()
    outside = (ta * tb).exp()
    (ta * inside).sum().backward()  # `inside` is a constant here: only ta gets a gradient
    return {
        "grad_a": ta.grad,
        "grad_b": tb.grad,
        "inside_requires_grad": bool(inside.requires_grad),
        "inside_has_grad_fn": inside.grad_fn is not None,
        "outside_requires_grad": bool(outside.requires_grad),
        "outside_has_grad_fn": outside.grad_fn is not None,
        "inside_out": inside.data,
    }


def zero_grad_then_backward(lib: Any, x: np.ndarray, w: np.ndarray, upstream: np.ndarray, zero: bool) -> dict:
    """A one-parameter module y = x * w: backward, then zero_grad() when `zero`, then backward again.

    Returns w's grad right after the reset ("reset_w") and at the end ("grad_w"): with zero_grad
    the end result is one backward's worth; without, two (accumulated). Elementwise on purpose:
    no broadcasting, so only the engine is under test.
    """
    nn: Any = importlib.import_module(lib.__name__ + ".nn")

    class Scale(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = lib.Tensor(np.array(w, dtype=np.float64), requires_grad=True)

        def forward(self, v: Any) -> Any:
            return v * self.w

    model = Scale()
    result: dict[str, Any] = {}
    for step in range(2):
        model(lib.Tensor(np.array(x, dtype=np.float64))).backward(np.array(upstream, dtype=np.float64))
        if step == 0 and zero:
            model.zero_grad()
            result["reset_w"] = _copy_grad(model.w)
    result["grad_w"] = _copy_grad(model.w)
    return result


def _copy_grad(t: Any) -> Any:
    """A copy of t.grad when it is an ndarray (later steps may change it in place)."""
    g = _grad_or_type(t)
    return g.copy() if isinstance(g, np.ndarray) else g


# ---------------------------------------------------------------------------------------------
# Modules, losses (tasks 4.1, 5.1, 5.3, 6.1)
# ---------------------------------------------------------------------------------------------


def _load(param: Any, value: np.ndarray) -> None:
    """Write given values into a parameter tensor in place (whatever its constructor drew)."""
    np.copyto(param.data, np.asarray(value, dtype=np.float64))


def linear(lib: Any, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, upstream: np.ndarray) -> dict:
    """nn.Linear with given weight (out, in) and bias: out and the gradients of x, weight, bias."""
    nn: Any = importlib.import_module(lib.__name__ + ".nn")
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    _load(layer.weight, weight)
    if bias is not None:
        _load(layer.bias, bias)
    tx = lib.Tensor(np.array(x, dtype=np.float64), requires_grad=True)
    out = layer(tx)
    out.backward(np.array(upstream, dtype=np.float64))
    result = {"out": out.data, "grad_x": tx.grad, "grad_weight": layer.weight.grad}
    if bias is not None:
        result["grad_bias"] = layer.bias.grad
    return result


def linear_forward(lib: Any, inputs: list, has_bias: bool = True) -> np.ndarray:
    """f(x, weight[, bias]) = x @ weight.T + bias through nn.Linear, for the numerical checker."""
    nn: Any = importlib.import_module(lib.__name__ + ".nn")
    weight = np.asarray(inputs[1])
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=has_bias)
    _load(layer.weight, weight)
    if has_bias:
        _load(layer.bias, inputs[2])
    return layer(lib.Tensor(np.array(inputs[0], dtype=np.float64))).data


def _loss(lib: Any, kind: str, pred: Any, target: Any, reduction: str) -> Any:
    nn: Any = importlib.import_module(lib.__name__ + ".nn")
    if kind == "mse":
        return nn.MSELoss(reduction=reduction)(pred, lib.Tensor(np.array(target, dtype=np.float64)))
    return nn.CrossEntropyLoss()(pred, np.asarray(target, dtype=np.int64))


def loss_grad(
    lib: Any, kind: str, pred: np.ndarray, target: np.ndarray, upstream: Any, reduction: str = "mean"
) -> dict:
    """MSELoss (kind "mse", target array) or CrossEntropyLoss (kind "ce", int labels): loss, grad."""
    tp = lib.Tensor(np.array(pred, dtype=np.float64), requires_grad=True)
    loss = _loss(lib, kind, tp, target, reduction)
    up = np.array(upstream, dtype=np.float64).reshape(np.shape(loss.data))
    if kind == "ce":  # one fused node: test its backward alone
        return {"out": loss.data, **_node_backward(loss, [tp], ["pred"], up)}
    loss.backward(up)  # MSELoss is composed of ops: through the engine
    return {"out": loss.data, "grad_pred": tp.grad}


def loss_forward(lib: Any, inputs: list, kind: str, target: np.ndarray, reduction: str = "mean") -> np.ndarray:
    """The loss value as f(pred), for the numerical checker."""
    tp = lib.Tensor(np.array(inputs[0], dtype=np.float64))
    return _loss(lib, kind, tp, target, reduction).data


def _batchnorm(lib: Any, num_features: int, gamma: np.ndarray, beta: np.ndarray, momentum: float, eps: float) -> Any:
    nn: Any = importlib.import_module(lib.__name__ + ".nn")
    bn = nn.BatchNorm1d(num_features, eps=eps, momentum=momentum)
    _load(bn.weight, gamma)
    _load(bn.bias, beta)
    return bn


def batchnorm(
    lib: Any,
    batches: list,
    upstreams: list,
    modes: list,
    gamma: np.ndarray,
    beta: np.ndarray,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> dict:
    """One BatchNorm1d over several batches; mode "train"/"eval" per batch.

    Per step k: out_k, running_mean_k, running_var_k, and in train mode grad_x_k, grad_gamma_k,
    grad_beta_k from the fused node's backward called directly (eval mode is composed of other
    ops, whose tests charge for their bugs: no gradients there).
    """
    bn = _batchnorm(lib, np.shape(gamma)[0], gamma, beta, momentum, eps)
    result: dict[str, Any] = {}
    for k, (x, up, mode) in enumerate(zip(batches, upstreams, modes)):
        bn.train() if mode == "train" else bn.eval()
        tx = lib.Tensor(np.array(x, dtype=np.float64), requires_grad=True)
        out = bn(tx)
        result[f"out_{k}"] = out.data
        if mode == "train":  # the fused node's backward alone (eval mode is composed of ops)
            grads = _node_backward(
                out, [tx, bn.weight, bn.bias], ["x", "gamma", "beta"], np.array(up, dtype=np.float64)
            )
            if "backward_returned" in grads or "no_graph" in grads:
                return grads
            for name in ("x", "gamma", "beta"):
                result[f"grad_{name}_{k}"] = grads["grad_" + name]

        result[f"running_mean_{k}"] = np.array(bn.running_mean, dtype=np.float64)
        result[f"running_var_{k}"] = np.array(bn.running_var, dtype=np.float64)
    return result


def batchnorm_forward(
    lib: Any,
    inputs: list,
    mode: str = "train",
    running_mean: Any = None,
    running_var: Any = None,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> np.ndarray:
    """f(x, gamma, beta) through a fresh BatchNorm1d, for the numerical checker."""
    x, gamma, beta = inputs
    bn = _batchnorm(lib, np.shape(gamma)[0], gamma, beta, momentum, eps)
    if running_mean is not None:
        np.copyto(bn.running_mean, np.asarray(running_mean, dtype=np.float64))
        np.copyto(bn.running_var, np.asarray(running_var, dtype=np.float64))
    bn.train() if mode == "train" else bn.eval()
    return bn(lib.Tensor(np.array(x, dtype=np.float64))).data


# ---------------------------------------------------------------------------------------------
# Optimizers (tasks 7.1, 7.2)
# ---------------------------------------------------------------------------------------------


def optimizer_steps(
    lib: Any, kind: str, params: list, grads: list, options: dict, schedule: list | None = None
) -> dict:
    """Run `len(grads)` steps of SGD or Adam from given params with given gradients.

    grads[k][i] is parameter i's gradient at step k (None: that parameter has no grad this step).
    schedule[k], when given, holds hyperparameters set on the optimizer before step k (e.g. {"lr": 0.05},
    as a learning-rate schedule does): step() must read self.lr etc. each time, not a copy from __init__.
    Returns {"param_<i>_<k>": value after step k}.
    """
    optim = importlib.import_module(lib.__name__ + ".optim")
    tensors = [lib.Tensor(np.array(p, dtype=np.float64), requires_grad=True) for p in params]
    opt = (optim.SGD if kind == "sgd" else optim.Adam)(tensors, **_optim_options(options))
    result: dict[str, Any] = {}
    for k, step_grads in enumerate(grads):
        for name, value in _optim_options((schedule or [{}] * len(grads))[k] or {}).items():
            setattr(opt, name, value)
        for t, g in zip(tensors, step_grads):
            t.grad = None if g is None else np.array(g, dtype=np.float64)
        opt.step()
        for i, t in enumerate(tensors):
            # Copy: the next step may update the same array in place.
            result[f"param_{i}_{k}"] = t.data.copy() if isinstance(t.data, np.ndarray) else t.data
    return result


def _optim_options(options: dict) -> dict:
    """JSON lists back to tuples (Adam's betas)."""
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in options.items()}


# ---------------------------------------------------------------------------------------------
# Training (task 8)
# ---------------------------------------------------------------------------------------------


def train_digits(
    lib: Any,
    seed: int,
    sizes: list,
    epochs: int,
    batch_size: int,
    lr: float,
    record: list | None = None,
    X: np.ndarray | None = None,
    y: np.ndarray | None = None,
) -> dict:
    """Train lib.train.make_mlp(sizes) with lib.train.fit on the given training rows (without X and y:
    every row of data/digits.npz, a fixed workload for timing benchmarks).

    Returns the losses at the steps listed in `record`, the number of steps and the trained
    parameters (in model.parameters() order). No accuracy: the parent measures it itself, on
    held-out rows this scenario never sees (mlp_accuracy, run on the reference).
    """
    train = importlib.import_module(lib.__name__ + ".train")
    if X is None or y is None:
        with np.load(Path(__file__).resolve().parent / "data" / "digits.npz", allow_pickle=False) as z:
            X, y = z["X"], z["y"]
    rng = np.random.default_rng(seed)
    model = train.make_mlp(list(sizes), rng)
    losses = train.fit(
        model,
        np.array(X, dtype=np.float64),
        np.asarray(y, dtype=np.int64),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        rng=rng,
    )
    losses = [float(v) for v in losses]
    steps = [s for s in (record or []) if s < len(losses)]
    return {
        "n_steps": len(losses),
        "steps": steps,
        "losses": np.array([losses[s] for s in steps], dtype=np.float64),
        "params": [_param_data(p) for p in model.parameters()],
    }


def _param_data(p: Any) -> Any:
    """A parameter's values as a float64 array copy (its type's name if it has no array data)."""
    data = getattr(p, "data", None)
    return np.array(data, dtype=np.float64) if isinstance(data, np.ndarray) else _describe(p)


def mlp_accuracy(lib: Any, sizes: list, params: list, X: np.ndarray, y: np.ndarray) -> float:
    """Held-out accuracy of make_mlp(sizes) carrying the given parameters (the parent runs this on the
    reference, with rows the worker never received)."""
    train = importlib.import_module(lib.__name__ + ".train")
    model = train.make_mlp(list(sizes), np.random.default_rng(0))
    for p, value in zip(model.parameters(), params):
        _load(p, value)
    return float(train.accuracy(model, np.array(X, dtype=np.float64), np.asarray(y, dtype=np.int64)))


_TRAIN_KITS: dict[str, Any] = {}


def _train_kit(lib: Any) -> dict:
    """A model, a loss and an optimizer written here on the package's given base classes.

    Their forward/backward/step are ours (correct by construction), so a test of the student's
    train_step depends only on train_step itself and the engine, not on the ops or the optimizers.
    """
    key = lib.__name__ + str(id(lib))
    if key in _TRAIN_KITS:
        return _TRAIN_KITS[key]
    Function = importlib.import_module(lib.__name__ + ".autograd_engine").Function
    nn: Any = importlib.import_module(lib.__name__ + ".nn")
    Optimizer = importlib.import_module(lib.__name__ + ".optim.optimizer").Optimizer

    class Affine(Function):  # type: ignore[misc, valid-type]
        def forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
            self.save_for_backward(x, w)
            return x @ w.T + b

        def backward(self, g: np.ndarray) -> tuple:
            x, w = self.saved
            return g @ w, g.T @ x, g.sum(axis=0)

    class Tanh(Function):  # type: ignore[misc, valid-type]
        def forward(self, x: np.ndarray) -> np.ndarray:
            y = np.tanh(x)
            self.save_for_backward(y)
            return y

        def backward(self, g: np.ndarray) -> tuple:
            (y,) = self.saved
            return (g * (1.0 - y * y),)

    class SoftmaxCE(Function):  # type: ignore[misc, valid-type]
        def forward(self, z: np.ndarray, *, labels: np.ndarray) -> np.ndarray:
            shifted = z - z.max(axis=1, keepdims=True)
            logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            self.save_for_backward(np.exp(logp), labels)
            return np.asarray(-logp[np.arange(len(z)), labels].mean())

        def backward(self, g: np.ndarray) -> tuple:
            p, labels = self.saved
            onehot = np.zeros_like(p)
            onehot[np.arange(len(p)), labels] = 1.0
            return ((p - onehot) * (g / len(p)),)

    class Model(nn.Module):
        def __init__(self, weights: list, biases: list) -> None:
            super().__init__()
            self.ws = [lib.Tensor(np.array(w, dtype=np.float64), requires_grad=True) for w in weights]
            self.bs = [lib.Tensor(np.array(b, dtype=np.float64), requires_grad=True) for b in biases]

        def forward(self, x: Any) -> Any:
            for k, (w, b) in enumerate(zip(self.ws, self.bs)):
                x = Affine.apply(x, w, b)
                if k < len(self.ws) - 1:
                    x = Tanh.apply(x)
            return x

    class Loss(nn.Module):
        def forward(self, z: Any, labels: Any) -> Any:
            return SoftmaxCE.apply(z, labels=np.asarray(labels, dtype=np.int64))

    class PlainSGD(Optimizer):  # type: ignore[misc, valid-type]
        def step(self) -> None:
            for p in self.params:
                if p.grad is not None:
                    p.data -= self.lr * p.grad

    kit = _TRAIN_KITS[key] = {"Model": Model, "Loss": Loss, "SGD": PlainSGD}
    return kit


def train_step_once(
    lib: Any,
    x: np.ndarray,
    y: np.ndarray,
    weights: list,
    biases: list,
    lr: float,
    steps: int = 2,
    stale_grads: list | None = None,
) -> dict:
    """Call the student's train_step `steps` times on one batch with a model, loss and optimizer
    written here (see _train_kit); the returned losses and the parameters afterwards.

    A later call differs from the first only through the parameters: a missing zero_grad makes
    gradients pile up and the parameters drift from the reference's. `stale_grads` (one per parameter,
    in model.parameters() order) are set as .grad before the first call, as an earlier backward leaves them.
    """
    train = importlib.import_module(lib.__name__ + ".train")
    kit = _train_kit(lib)
    model = kit["Model"](weights, biases)
    opt = kit["SGD"](model.parameters(), lr=lr)
    for p, g in zip(model.parameters(), stale_grads or []):  # left over from earlier work: must not count
        p.grad = np.array(g, dtype=np.float64)
    losses = []
    for _ in range(steps):
        losses.append(
            train.train_step(
                model, kit["Loss"](), opt, lib.Tensor(np.array(x, dtype=np.float64)), np.asarray(y, dtype=np.int64)
            )
        )
    result: dict[str, Any] = {
        "losses": [float(v) if isinstance(v, (int, float, np.floating)) else None for v in losses],
        "loss_types": [_describe(v) for v in losses],
    }
    for i, p in enumerate(model.parameters()):
        result[f"param_{i}"] = np.array(p.data, dtype=np.float64)
    return result
