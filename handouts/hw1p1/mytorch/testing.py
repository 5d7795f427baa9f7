"""The grader's numerical gradient check, for your own experiments (given code).

    from mytorch.testing import gradcheck
    gradcheck(lambda a, b: a * b, np.random.randn(3, 5), np.random.randn(3, 1))

`gradcheck(fn, *inputs)` runs `fn` on tensors made from `inputs`, calls backward with a random upstream
gradient, and compares every input's gradient with finite differences of `fn`: the same check, the
same tolerances and the same messages (wrong elements, expected/got, a hint) as the grader's. It uses
the checker shipped with the handout (tests/_support/autograder/framework/gradcheck.py), not a copy.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from .autograd_engine import no_grad
from .tensor import Tensor

CHECKER = "autograder/framework/gradcheck.py"


def _checker() -> ModuleType:
    """The grader's gradcheck module: the handout's shipped copy, else the installed grader's."""
    loaded = sys.modules.get("autograder.framework.gradcheck")
    if loaded is not None:
        return loaded
    shipped = Path(__file__).resolve().parents[1] / "tests" / "_support" / CHECKER
    if shipped.is_file():
        spec = importlib.util.spec_from_file_location("_mytorch_grader_gradcheck", shipped)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up by name
        spec.loader.exec_module(module)
        return module
    try:
        from autograder.framework import gradcheck as installed
    except ImportError:
        raise ImportError(
            f"mytorch.testing needs the grader's checker, tests/_support/{CHECKER} of the "
            "handout: keep mytorch/ inside the handout folder"
        ) from None
    return installed


def _names(fn: Callable[..., Any], count: int) -> list[str]:
    """The parameter names of `fn` when it takes exactly `count` positional ones, else x0, x1, ..."""
    try:
        params = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    return params if len(params) == count else [f"x{i}" for i in range(count)]


def _one_op_grads(out: Tensor, leaves: list[Tensor], up: np.ndarray) -> list[np.ndarray | None] | None:
    """When `out` is one op applied straight to the leaves (and constants), that op's backward, called
    directly as the grader's op tests do (so tasks 1.1 and 1.2 are not needed); else None."""
    node = out.grad_fn
    if node is None or not all(
        p.grad_fn is None and (any(p is t for t in leaves) or not p.requires_grad) for p in node.inputs
    ):
        return None
    returned = node.backward(np.array(up, dtype=np.float64))
    grads: list[np.ndarray | None] = []
    for leaf in leaves:
        parts = [g for p, g in zip(node.inputs, returned) if p is leaf]  # x * x: two parts for x
        grads.append(None if not parts or any(g is None for g in parts) else sum(parts[1:], parts[0]))
    return grads


def _engine_grads(out: Tensor, leaves: list[Tensor], up: np.ndarray) -> list[np.ndarray | None]:
    """The leaves' gradients after your `out.backward(up)` (tasks 1.1 and 1.2)."""
    out.backward(np.array(up, dtype=np.float64))
    return [t.grad for t in leaves]


def gradcheck(
    fn: Callable[..., Tensor],
    *inputs: Any,
    upstream: Any = None,
    seed: int = 0,
    names: Sequence[str] | None = None,
    label: str | None = None,
    quiet: bool = False,
) -> bool:
    """Check the gradients your backward gives for `fn(*inputs)` numerically; True when all are right.

    Args:
        fn: takes one Tensor per input and returns a Tensor (any shape), e.g. `lambda a, b: a @ b`.
        inputs: arrays (or Tensors, whose data is used); all are checked, in float64.
        upstream: the gradient backward starts from; default: random normal of the output's shape
            (never all ones, which would hide swapped axes and cancelling signs).
        seed: seeds the upstream gradient and the checker's random directions.
        names, label: how messages name the inputs and the function (default: fn's parameter names and
            its __name__), as in "label, gradient for input b: ...".
        quiet: print nothing when every gradient is right (failures are always printed).
    Returns:
        True when every input's gradient agrees with finite differences.
    """
    check = _checker()
    xs = [np.array(x.data if isinstance(x, Tensor) else x, dtype=np.float64) for x in inputs]
    names = list(names) if names is not None else _names(fn, len(xs))
    label = label or (fn.__name__ if getattr(fn, "__name__", "<lambda>") != "<lambda>" else "your function")
    rng = np.random.default_rng(seed)

    def forward(arrays: Sequence[np.ndarray]) -> np.ndarray:
        with no_grad():
            return np.asarray(fn(*(Tensor(a) for a in arrays)).data)

    def backward(up: np.ndarray) -> list[np.ndarray | None]:
        leaves = [Tensor(a, requires_grad=True) for a in xs]
        out = fn(*leaves)
        return _one_op_grads(out, leaves, up) or _engine_grads(out, leaves, up)

    out_shape = forward([x.copy() for x in xs]).shape
    up = rng.standard_normal(out_shape) if upstream is None else np.array(upstream, dtype=np.float64)
    results = check.check_gradient(forward, xs, up, backward(up), op=label, names=names, rng=rng, backward=backward)
    for r in results:
        if not r.ok or not quiet:
            print(r.message)
    return all(r.ok for r in results)
