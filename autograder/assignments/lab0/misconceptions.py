"""Known wrong formulas of lab0's operations, named in failure messages (grader only: not shipped).

Each formula gets the case of lab0_checks.op_case (expr, a, b, k, upstream, grad_a, grad_b) and returns
what a student holding the misconception would get for a.grad (and b.grad), including what the grads
held before the node ran. They only explain a failure; they never change a score.
"""

from __future__ import annotations

import math
from typing import Any

from autograder.framework.compare import Misconception


def _grads(case: dict, da: float, db: float | None = None) -> dict[str, float]:
    """{grad_a, grad_b} for local derivatives da, db times upstream, added to the grads the case preset."""
    up = case["upstream"]
    out = {"grad_a": case.get("grad_a", 0.0) + da * up}
    if db is not None and case.get("b") is not None:
        out["grad_b"] = case.get("grad_b", 0.0) + db * up
    return out


CATALOGUE: dict[str, tuple[Misconception, ...]] = {
    "a - b": (Misconception("b's derivative is taken as +1", "d(a - b)/db = -1", lambda **c: _grads(c, 1.0, 1.0)),),
    "k - a": (Misconception("a's derivative is taken as +1", "d(k - a)/da = -1", lambda **c: _grads(c, 1.0)),),
    "a / b": (
        Misconception(
            "b's derivative has the wrong sign",
            "d(a/b)/db = -a / b**2",
            lambda **c: _grads(c, 1.0 / c["b"], c["a"] / c["b"] ** 2),
        ),
        Misconception(
            "b's derivative is taken as -1 / b**2 (a is missing)",
            "d(a/b)/db = -a / b**2",
            lambda **c: _grads(c, 1.0 / c["b"], -1.0 / c["b"] ** 2),
        ),
    ),
    "k / a": (
        Misconception(
            "the derivative is taken as -1 / a**2 (k is missing)",
            "d(k/a)/da = -k / a**2",
            lambda **c: _grads(c, -1.0 / c["a"] ** 2),
        ),
    ),
    "a ** k": (
        Misconception(
            "the exponent is not lowered",
            "d(a**k)/da = k * a**(k - 1)",
            lambda **c: _grads(c, c["k"] * c["a"] ** c["k"]),
        ),
        Misconception(
            "the factor k is missing", "d(a**k)/da = k * a**(k - 1)", lambda **c: _grads(c, c["a"] ** (c["k"] - 1))
        ),
    ),
    "a.tanh()": (
        Misconception(
            "the derivative is computed from the input a instead of the output t = tanh(a)",
            "d tanh(a)/da = 1 - t**2 with t = tanh(a) (out.data)",
            lambda **c: _grads(c, 1.0 - c["a"] ** 2),
        ),
        Misconception(
            "t is not squared",
            "d tanh(a)/da = 1 - t**2 with t = tanh(a)",
            lambda **c: _grads(c, 1.0 - math.tanh(c["a"])),
        ),
    ),
    "a.relu()": (
        Misconception(
            "relu's derivative at exactly 0 is taken as 1 (>= instead of >)",
            "this library takes relu'(0) = 0 (the docstring's convention)",
            lambda **c: _grads(c, 1.0) if c["a"] == 0 else {},
        ),
        Misconception(
            "the derivative is the output relu(a) instead of 1 or 0",
            "relu'(a) is 1 where a > 0 and 0 elsewhere",
            lambda **c: _grads(c, max(c["a"], 0.0)),
        ),
    ),
    "a.exp()": (
        Misconception(
            "the derivative is taken as a * exp(a) (the power rule applied to e**a)",
            "exp is its own derivative: d exp(a)/da = exp(a) (out.data)",
            lambda **c: _grads(c, c["a"] * math.exp(c["a"])),
        ),
    ),
}


def known(expr: str) -> tuple[Any, ...]:
    """The misconceptions for `expr` (the `=`-instead-of-`+=` ones live in lab0_checks: they ship)."""
    return CATALOGUE.get(expr, ())
