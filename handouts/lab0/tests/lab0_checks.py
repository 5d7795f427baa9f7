"""Shared checks for lab0's public and hidden tests (not a test file itself).

Each helper runs a scenario on the student's `scalargrad` (`student.run`, sandboxed in the grader) and
on the reference (`reference.run`), then decides here, in the trusted process, from plain numbers.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from autograder.framework.compare import CheckFailed, Misconception, check_close, check_gradients, wrong_answers


def _catalogue() -> dict:
    """The grader's known wrong formulas (lab0/misconceptions.py), or {} in the handout, which does not
    ship them: local runs then get the generic hints."""
    try:
        return importlib.import_module("autograder.assignments.lab0.misconceptions").CATALOGUE
    except ImportError:
        return {}


CATALOGUE = _catalogue()

# ----------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------


def normal(rng: np.random.Generator, scale: float = 1.0) -> float:
    """A standard normal number times `scale`."""
    return float(rng.standard_normal() * scale)


def nonzero(rng: np.random.Generator, low: float = 0.5, high: float = 2.0) -> float:
    """|x| in [low, high] with a random sign: away from 0 (division, relu's kink)."""
    return float(rng.uniform(low, high) * rng.choice([-1.0, 1.0]))


def upstream(rng: np.random.Generator) -> float:
    """An upstream gradient (out.grad) away from 0 and from 1, so that ignoring it shows."""
    return float(rng.uniform(0.5, 2.0) * rng.choice([-1.0, 1.0]))


def moons(rng: np.random.Generator, n: int, noise: float = 0.1) -> tuple[list[list[float]], list[float]]:
    """n points of the two-moons toy set (two interleaved half circles, centred and scaled to about
    [-1.5, 1.5] x [-1, 1]) with labels +1 (upper moon) and -1 (lower moon)."""
    t = rng.uniform(0.0, np.pi, n)
    upper = rng.random(n) < 0.5
    x = np.where(upper, np.cos(t), 1.0 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    points = (np.stack([x, y], axis=1) + rng.normal(0.0, noise, (n, 2)) - [0.5, 0.25]) * [1.0, 2.0]
    return points.tolist(), np.where(upper, 1.0, -1.0).tolist()


def mlp_params(rng: np.random.Generator, sizes: Sequence[int], scale: float = 1.0) -> list[float]:
    """Parameters for MLP(sizes) in parameters() order: weights uniform in [-scale, scale], biases small."""
    params: list[float] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        for _ in range(n_out):
            params += rng.uniform(-scale, scale, n_in).tolist() + [float(rng.uniform(-0.1, 0.1))]
    return params


# ----------------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------------


def _not_a_number(what: str, got: Any) -> None:
    """Fail clearly when the scenario saw something other than a float (e.g. a Value stored as a grad)."""
    if isinstance(got, str) and got.startswith("?"):
        kind = got[1:]
        article = "an" if kind[:1].lower() in "aeiou" else "a"
        hint = (
            " Likely cause: a Value where a float belongs, e.g. `self.grad += out` instead of "
            "`self.grad += out.grad`, or a derivative computed from Values instead of their .data."
            if got == "?Value"
            else ""
        )
        raise CheckFailed(f"{what} is {article} {kind}, not a number.{hint}")


def _overwrites(expr: str, call: dict, want: dict, names: Sequence[str]) -> tuple[Misconception, ...]:
    """The `=`-instead-of-`+=` misconceptions of this case, computed from the reference's answer `want`
    (so they state no derivative and ship with the handout): with grads preset ("accumulate"), a child's
    grad that holds only this node's contribution; for `a + a`, `a * a`, `a - a`, a.grad that holds
    only the second of the two contributions (half of the right one for + and *, -out.grad for -)."""
    found = []
    for n in names:
        before = call.get(f"grad_{n}", 0.0)
        if before and isinstance(want.get(f"grad_{n}"), float):
            found.append(
                Misconception(
                    f"the earlier {n}.grad ({before:.6g}) was overwritten",
                    "use `+=`, not `=`: a node adds its contribution to what its children's grads already hold",
                    lambda _n=n, _v=want[f"grad_{n}"] - before, **c: {f"grad_{_n}": _v},
                )
            )
    second = {"a + a": lambda c: want["grad_a"] / 2, "a * a": lambda c: want["grad_a"] / 2}
    second["a - a"] = lambda c: -c["upstream"]
    if expr in second and isinstance(want.get("grad_a"), float):
        found.append(
            Misconception(
                "the second use of `a` overwrote the first",
                "accumulate with `+=`: the same Value used twice receives two contributions, which add up",
                lambda **c: {"grad_a": second[expr](c)},
            )
        )
    return tuple(found)


_RATIO = re.compile(r"Hint: (the sign is flipped and )?this element is (\S+) (times|of) the expected value: .*")


def _scalar_ratio(line: str) -> str:
    """The checker's constant-factor hint, written for arrays ("mean instead of sum?"), said of one number."""
    m = _RATIO.fullmatch(line.strip())
    if not m:
        return line
    flipped = "the sign is flipped and " if m.group(1) else ""
    return f"  Hint: {flipped}your value is {m.group(2)} {m.group(3)} the expected value: a missing or extra factor?"


def op_case(
    student: Any,
    reference: Any,
    rng: np.random.Generator,
    expr: str,
    a: float,
    b: float | None = None,
    k: float = 0.0,
    *,
    accumulate: bool = False,
    numeric: bool = True,
    note: str = "",
) -> None:
    """One operation's node: out = expr(a, b, k), out.grad = a random upstream, out._backward() once.

    Checks out.data, then a.grad (and b.grad) against the reference's (tight tolerance) and, unless
    `accumulate` or not `numeric`, against central differences of the forward pass. With `accumulate`,
    a.grad and b.grad start from random values, which the node must add to (+=). `note` is added to
    a failure's message (e.g. why a case sits on a kink).
    """
    up = upstream(rng)
    call: dict[str, Any] = dict(expr=expr, a=a, upstream=up, k=k)
    names = ["a"]
    if b is not None:
        call["b"] = b
        names.append("b")
    if accumulate:
        call["grad_a"] = normal(rng)
        call["grad_b"] = normal(rng) if b is not None else 0.0
    shown = ", ".join(f"{n} = {call[n]:.6g}" for n in names) + (f", k = {k:g}" if "k" in expr else "")
    label = f"{expr} with {shown}, out.grad = {up:.6g}"
    if accumulate:
        label += " and " + ", ".join(f"{n}.grad = {call['grad_' + n]:.6g}" for n in names) + " beforehand"
    got = student.run("op_local", **call)
    want = reference.run("op_local", **call)
    _not_a_number(f"{label}: out.data", got.get("out"))
    check_close(f"{label}: out.data (the forward value)", got["out"], want["out"], rtol=1e-9, atol=1e-12)
    for n in names:
        _not_a_number(f"{label}: {n}.grad", got.get(f"grad_{n}"))
    inputs = [np.asarray(call[n], dtype=np.float64) for n in names]
    f = None
    if numeric and not accumulate:
        forward = reference.function("op_forward", expr=expr, k=k)

        def f(xs: Any) -> np.ndarray:
            return np.asarray(forward(inputs=[float(x) for x in xs]), dtype=np.float64)

    known = _overwrites(expr, call, want, names) + CATALOGUE.get(expr, ())
    wrong = wrong_answers(known, **{"b": None, **call})

    def as_arrays(d: dict) -> dict:
        return {
            key: np.asarray(v, dtype=np.float64) for key, v in d.items() if key.startswith("grad_") and key[5:] in names
        }

    try:
        check_gradients(
            f"{expr}: out._backward()",
            as_arrays(got),
            as_arrays(want),
            names=names,
            f=f,
            inputs=inputs,
            upstream=np.asarray(up),
            rng=rng,
            wrong=wrong,
        )
    except CheckFailed as e:
        message = (
            e.message.replace(f"{expr}: out._backward(), gradient for input", f"{label}: out._backward(), gradient for")
            .replace(": 1 of 1 elements wrong", ": wrong")
            .replace("backward ignores grad_output", "_backward ignores out.grad")
        )
        # The checker's ratio hints speak of arrays ("mean instead of sum?"): after a named cause they go
        # (the "(Also seen: ...)" line); alone, they are said of one number.
        message = "\n".join(
            _scalar_ratio(line) for line in message.splitlines() if not line.strip().startswith("(Also seen:")
        )
        raise CheckFailed(message + (f"\n  ({note})" if note else "")) from None


def check_numbers(
    what: str,
    got: Any,
    want: Sequence[Any],
    *,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    names: Sequence[str] | None = None,
) -> None:
    """got is a list like want, each number within atol + rtol*|want| (the first mismatch fails)."""
    if not isinstance(got, list) or len(got) != len(want):
        n = len(got) if isinstance(got, list) else got
        raise CheckFailed(f"{what}: expected {len(want)} values, got {n}")
    for i, (g, w) in enumerate(zip(got, want)):
        name = names[i] if names else f"[{i}]"
        if isinstance(w, list):
            check_numbers(f"{what}{name}", g, w, rtol=rtol, atol=atol)
            continue
        _not_a_number(f"{what}{name}", g)
        check_close(f"{what}{name}", g, w, rtol=rtol, atol=atol)


ACTIVATIONS = {"tanh": np.tanh, "relu": lambda z: max(z, 0.0), "linear": lambda z: z}


def _neuron_hint(activation: str, w: Sequence[float], b: float, x: Sequence[float], got: float) -> str:
    """A likely cause for a neuron output `got`: the bias left out, or another activation applied."""
    z = float(np.dot(w, x))

    def same(v: float) -> bool:
        return bool(np.isclose(got, v, rtol=1e-9, atol=1e-12))

    if b and same(ACTIVATIONS[activation](z)):
        if activation == "linear":
            return f"\n  Hint: your output differs by exactly b ({b:.6g}): bias missing?"
        return f"\n  Hint: your output is {activation}(w . x) without b: bias missing?"
    for other, act in ACTIVATIONS.items():
        if other != activation and not np.isclose(act(z + b), ACTIVATIONS[activation](z + b)) and same(act(z + b)):
            return (
                f"\n  Hint: your output is {other}(w . x + b), but this neuron's activation is {activation!r}: "
                "is self.activation read correctly?"
            )
    return ""


def check_neuron(what: str, call: dict, got: list, want: list) -> None:
    """A neuron's outputs (one per point of call["points"]) against the reference's; a failure shows the
    neuron's weights, bias and input, so it can be reproduced, and a likely cause when one is recognised."""
    if not isinstance(got, list) or len(got) != len(want):
        check_numbers(f"{what}: outputs", got, want)  # fails: the wrong number of outputs
    w, b = call["weights"], call["bias"]
    for i, x in enumerate(call["points"]):
        try:
            check_numbers(f"{what}: output for point ", got[i : i + 1], want[i : i + 1], names=[f"[{i}]"])
        except CheckFailed as e:
            shown = ", ".join(f"{v:.6g}" for v in w)
            point = ", ".join(f"{v:.6g}" for v in x)
            hint = _neuron_hint(call["activation"], w, b, x, got[i]) if isinstance(got[i], float) else ""
            raise CheckFailed(f"{e.message}\n  with w = [{shown}], b = {b:.6g}, x = [{point}]{hint}") from None


def param_names(sizes: Sequence[int]) -> list[str]:
    """Readable names of MLP(sizes).parameters(), in order: ' layer 0, neuron 2, w[1]', ... ', b'."""
    names = []
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        for neuron in range(n_out):
            names += [f" (layer {layer}, neuron {neuron}, w[{i}])" for i in range(n_in)]
            names.append(f" (layer {layer}, neuron {neuron}, b)")
    return names


def train_case(
    student: Any,
    reference: Any,
    rng: np.random.Generator,
    sizes: Sequence[int],
    n: int,
    steps: int,
    lr: float,
    batch_size: int | None = None,
) -> tuple[dict, dict, dict]:
    """fit() on n moons points with the trusted kit (only train_step is the student's): every step's
    loss, then the parameters after training, against the reference's. Returns (call, got, want)."""
    X, y = moons(rng, n)
    call = dict(
        sizes=list(sizes), params=mlp_params(rng, sizes, scale=0.5), X=X, y=y, lr=lr, steps=steps, batch_size=batch_size
    )
    got = student.run("train_steps", **call)
    want = reference.run("train_steps", **call)
    what = f"fit(MLP({list(sizes)}), {n} points, steps={steps}, lr={lr}, batch_size={batch_size})"
    losses = got["losses"]
    _not_a_number(f"{what}: fit returned", losses)
    if isinstance(losses, list):
        for i, g in enumerate(losses):
            if g == "?Value":  # the loss node itself, not its number
                raise CheckFailed(f"{what}: train_step (step {i}) returned a Value; return loss.data (a float).")
            _not_a_number(f"{what}: train_step (step {i}) returned", g)
    hint = ""
    if isinstance(losses, list) and len(losses) == len(want["losses"]) and all(isinstance(v, float) for v in losses):
        wrong = [i for i, (g, w) in enumerate(zip(losses, want["losses"])) if not np.isclose(g, w, rtol=1e-7)]
        if wrong and wrong[0] == 1:
            hint = (
                "\n  Hint: step 0's loss is right and step 1's is not, so the first update moved the parameters "
                "wrongly: each parameter moves against its gradient, p.data -= lr * p.grad."
            )
        elif wrong and wrong[0] == 2:
            hint = (
                "\n  Hint: steps 0 and 1 are right and step 2 is not: are the gradients cleared "
                "(model.zero_grad()) before each backward()? Leaves add up their gradients over calls, so from "
                "step 1 on, stale gradients are added to the new ones."
            )
    try:
        check_numbers(
            f"{what}: the loss returned by train_step at step ",
            losses,
            want["losses"],
            rtol=1e-7,
            names=[str(i) for i in range(len(want["losses"]))],
        )
        check_numbers(
            f"{what}: after training, parameter", got["params"], want["params"], rtol=1e-7, names=param_names(sizes)
        )
    except CheckFailed as e:
        raise CheckFailed(e.message + hint) from None
    return call, got, want
