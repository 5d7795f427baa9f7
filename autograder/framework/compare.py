"""Trusted comparisons of observations with expected values, failing with student-readable messages.

Every check runs in the trusted grader on plain data that came back from the sandbox (or from the
reference). It never calls methods of what the student returned beyond numpy's own conversions of plain
data, and never prints a whole expected array: only the first few wrong elements.

Copied verbatim into the student handout: numpy and stdlib only (plus our gradcheck module).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from autograder.framework.errors import StudentTimeout
from autograder.framework.gradcheck import _close, _idx, _num, _shape_hint, check_gradient, mismatch_message

# ----------------------------------------------------------------------------------------------------
# Misconceptions: known wrong formulas, evaluated by the trusted grader on the same inputs
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Misconception:
    """A known wrong formula for one op or task, declared by the assignment beside its tests.

    `formula(**case)` computes, with numpy only, what a student who holds this misconception returns
    for the case's inputs: {key: value}, keys as in the scenario's result ("grad_a", "param_0_2", ...).
    It runs in the trusted grader only. A student's answer that fails its check and equals this value
    gets the hint `this is what you get when <when>; <fact>.` in place of a generic one, so the
    catalogue only ever explains a failure: it can never cost a correct answer points.
    """

    when: str  # what the student did, e.g. "the derivative is evaluated at the input x instead of the output"
    fact: str  # the rule, e.g. "the derivative of sigmoid is s * (1 - s) with s = sigmoid(x), the saved output"
    formula: Callable[..., Mapping[str, Any]]

    @property
    def hint(self) -> str:
        """The hint line's text."""
        return f"this is what you get when {self.when}; {self.fact}."


Wrong = Sequence[tuple[str, Mapping[str, Any]]]  # (hint, {key: wrong value}) per applicable misconception


def wrong_answers(catalogue: Sequence[Misconception], **case: Any) -> list[tuple[str, dict[str, Any]]]:
    """Each misconception's wrong answer on this case, as (hint, {key: value}).

    A formula that does not apply to the case (it raises, e.g. shapes that cannot multiply) is skipped:
    that misconception would have made the student's code raise instead.
    """
    answers = []
    for m in catalogue:
        try:
            with np.errstate(all="ignore"):
                values = m.formula(**case)
        except Exception:  # noqa: BLE001 -- a wrong formula may fail on shapes it does not fit
            continue
        if values:
            answers.append((m.hint, dict(values)))
    return answers


def _same(got: Any, value: Any) -> bool:
    """got equals value: same shape, elementwise within rounding (NaN equal to NaN)."""
    try:
        g = np.asarray(got, dtype=np.float64)
        v = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if g.shape != v.shape:
        return False
    finite = v[np.isfinite(v)]
    scale = float(np.abs(finite).max()) if finite.size else 0.0
    return bool(np.all(_close(g, v, 1e-7, 1e-10 * max(scale, 1e-300))))


def known_mistake(key: str, got: Any, want: Any, wrong: Wrong, result: Mapping[str, Any] | None = None) -> str | None:
    """The hint of a misconception whose value for `key` equals `got` (and differs from `want`), or None.

    With the student's whole `result`, a misconception that also explains every other key it predicts is
    preferred (b's gradient alone cannot tell "b not negated" from "both signs swapped"; a's can).
    """
    fits = [
        (hint, values)
        for hint, values in wrong
        if key in values and _same(got, values[key]) and not _same(want, values[key])
    ]
    if result is not None:
        for hint, values in fits:
            if all(k not in result or _same(result[k], v) for k, v in values.items()):
                return hint
    return fits[0][0] if fits else None


def axis_sizes(**shapes: tuple[int, ...]) -> dict[int, str]:
    """Axis length -> 'the size of axis i of <name>' for the given shapes (lengths >= 2, first naming wins)."""
    sizes: dict[int, str] = {}
    for name, shape in shapes.items():
        for i, n in enumerate(shape):
            if n >= 2:
                sizes.setdefault(int(n), f"the size of axis {i} of {name}")
    return sizes


def _ignores_upstream(got: np.ndarray, want: np.ndarray, upstream: Any) -> bool:
    """got * upstream == want, with an upstream that is not all ones: backward never used grad_output."""
    if upstream is None:
        return False
    u = np.asarray(upstream, dtype=np.float64)
    if u.shape != want.shape or got.shape != want.shape or np.all(u == 1.0) or not np.any(want):
        return False
    with np.errstate(all="ignore"):
        return _same(got * u, want)


class CheckFailed(AssertionError):
    """A check failed; args[0] is the student-readable message."""

    @property
    def message(self) -> str:
        """The student-readable message."""
        return str(self.args[0]) if self.args else ""


def _kind(got: Any) -> str:
    """Student-facing name of a Python type: 'a list', 'a dict', 'a str'."""
    name = type(got).__name__
    return ("an " if name[:1] in "aeiou" else "a ") + name


def _as_array_problem(what: str, got: Any, want: np.ndarray) -> str | None:
    """Why `got` cannot stand for an array like `want`, or None (None, lists, other objects)."""
    if got is None:
        return f"{what} is None: returned None: did you forget to return (or to set) it?"
    if isinstance(got, (list, tuple)):
        return f"{what} is {_kind(got)} where a numpy array belongs (did you build a list instead of an array?)"
    if isinstance(got, np.ndarray):
        return None
    if want.ndim == 0 and isinstance(got, (int, float, np.number)) and not isinstance(got, bool):
        return None
    return f"{what} is {_kind(got)} where a numpy array belongs."


def _dtype_problem(what: str, got: np.ndarray) -> str | None:
    """float64 is required: name the likely cause of anything else."""
    if got.dtype == np.float64:
        return None
    if got.dtype.kind == "f":
        return f"{what} has dtype {got.dtype}, expected float64: computed in single precision?"
    if got.dtype.kind in "iu":
        return f"{what} has dtype {got.dtype}, expected float64: integer division, or np.zeros_like of an int array?"
    if got.dtype.kind == "b":
        return f"{what} has dtype bool, expected float64: a comparison (mask) returned instead of numbers?"
    return f"{what} has dtype {got.dtype}, expected float64."


def _nonfinite_problem(what: str, got: np.ndarray, want: np.ndarray) -> str | None:
    """NaN or inf where the expected value is finite: say where, and the usual causes."""
    bad = ~np.isfinite(got) & np.isfinite(want)
    if not bad.any():
        return None
    first = tuple(int(i) for i in np.argwhere(bad)[0]) if got.ndim else ()
    kind = "NaN" if np.isnan(got[first]) else "inf"
    return (
        f"{what} contains NaN or inf in {int(bad.sum())} of {got.size} elements (first: {kind} at "
        f"{what}{_idx(first)}, expected {_num(float(want[first]))}): log of 0? overflow in exp? "
        "division by zero?"
    )


def _with_hint(msg: str, hint: str | None) -> str:
    """A message with a hint line appended (a named misconception explains shape and NaN problems too)."""
    return f"{msg}\n  Hint: {hint}" if hint else msg


def _array_problem(
    what: str,
    got: Any,
    want: np.ndarray,
    rtol: float,
    atol: float,
    header: str | None = None,
    *,
    known: str | None = None,
    sizes: Mapping[int, str] | None = None,
    upstream: Any = None,
) -> str | None:
    """The first problem with `got` as an array equal to `want` (type, dtype, shape, NaN, values), or None.

    `known` is a misconception's hint that replaces the generic one; `sizes` (axis length -> name) sharpens
    a constant-factor hint; `upstream`, when given, lets a gradient that ignores it be named.
    """
    want = np.asarray(want, dtype=np.float64)
    head = f"{header}: " if header else ""
    msg = _as_array_problem(what, got, want)
    if msg:
        return head + msg
    arr = got if isinstance(got, np.ndarray) else np.asarray(got, dtype=np.float64)
    msg = _dtype_problem(what, arr)
    if msg:
        return head + msg
    if arr.shape != want.shape:
        hint = _shape_hint(arr.shape, want.shape)
        msg = (
            head + f"{what} has shape {arr.shape}, expected {want.shape}" + (f": {hint}" if hint and not known else ".")
        )
        return _with_hint(msg, known)
    msg = _nonfinite_problem(what, arr, want)
    if msg:
        return _with_hint(head + msg, known)
    if known is None and _ignores_upstream(arr, want, upstream):
        known = (
            "your gradient times the upstream gradient is the expected one: backward ignores grad_output "
            "(the chain rule multiplies the local derivative by it)."
        )
    label = what.rsplit(": ", 1)[-1]  # 'backward on graph g: w.grad' -> lines say 'w.grad[0, 1]'
    return mismatch_message(header or what, label, want, arr, rtol, atol, hint=known, sizes=sizes)


def check_array(
    what: str,
    got: Any,
    want: np.ndarray,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    wrong: Wrong = (),
    key: str = "",
    result: Mapping[str, Any] | None = None,
) -> None:
    """Raise CheckFailed unless `got` is a float64 array of want's shape, equal within atol + rtol*|want|.

    `wrong` (from wrong_answers) and `key` name a known misconception when `got` is one of its answers;
    `result`, the student's whole answer, helps pick the right one (see known_mistake).
    """
    msg = _array_problem(what, got, want, rtol, atol)
    if msg and wrong:  # only a failure consults the catalogue
        known = known_mistake(key, got, want, wrong, result)
        msg = _array_problem(what, got, want, rtol, atol, known=known) if known else msg
    if msg:
        raise CheckFailed(msg)


def check_close(
    what: str,
    got: Any,
    want: Any,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    wrong: Wrong = (),
    key: str = "",
    result: Mapping[str, Any] | None = None,
) -> None:
    """Raise CheckFailed unless `got` equals `want` (a number or an array) within atol + rtol*|want|.

    `wrong`, `key` and `result` as in check_array.
    """
    if isinstance(want, np.ndarray) and want.ndim > 0:
        check_array(what, got, want, rtol=rtol, atol=atol, wrong=wrong, key=key, result=result)
        return
    try:
        _check_number(what, got, want, rtol, atol)
    except CheckFailed as e:
        known = known_mistake(key, got, want, wrong, result) if wrong else None
        raise CheckFailed(_with_hint(e.message, known)) from None


def _check_number(what: str, got: Any, want: Any, rtol: float, atol: float) -> None:
    """check_close for a single number."""
    if got is None:
        raise CheckFailed(f"{what} is None: returned None: did you forget to return it?")
    if isinstance(got, bool) or not isinstance(got, (int, float, np.number, np.ndarray)):
        raise CheckFailed(f"{what} is {_kind(got)} where a number belongs.")
    if isinstance(got, np.ndarray) and got.size != 1:
        raise CheckFailed(f"{what} is an array of shape {got.shape} where a single number belongs.")
    g, w = float(np.asarray(got).reshape(())), float(np.asarray(want, dtype=np.float64).reshape(()))
    if np.isnan(g) and not np.isnan(w):
        raise CheckFailed(f"{what} is NaN, expected {_num(w)}: log of 0? overflow in exp? division by zero?")
    tol = atol + rtol * abs(w)
    if not (abs(g - w) <= tol or (np.isnan(g) and np.isnan(w)) or (np.isinf(w) and g == w)):
        err = abs(g - w)
        rel = err / abs(w) if w != 0 else float("inf")
        raise CheckFailed(
            f"{what}: expected {_num(w)}, got {_num(g)}   (abs err {err:.1e}, rel err {rel:.1e}, tolerance {tol:.2g})"
        )


assert_close = check_close  # the name docs/ARCHITECTURE.md uses in its example


REF_RTOL = 1e-9  # agreement with the reference: two analytical formulas differ by rounding only (~1e-15)
REF_ATOL_SCALE = 1e-12  # ... and near-zero elements by ~1e-15 of the gradient's largest element
REF_ATOL_FLOOR = 1e-13  # an all-zero expected gradient still tolerates rounding noise


class ReferenceDisagrees(RuntimeError):
    """The reference gradient failed the numerical check: a grader problem, never the student's fault."""


def check_gradients(
    op: str,
    got: Mapping[str, Any],
    want: Mapping[str, np.ndarray],
    *,
    names: Sequence[str],
    f: Callable | None = None,
    inputs: Sequence[np.ndarray] | None = None,
    upstream: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    ref_rtol: float | None = None,
    wrong: Wrong = (),
    numeric: bool = True,
) -> None:
    """Check the student's gradients ("grad_<name>") against the reference, and numerically when f is given.

    For each name: structure (present, array, float64, shape, finite), then agreement with the reference
    gradient, elementwise within a + ref_rtol*|want| where ref_rtol defaults to min(rtol, REF_RTOL) and
    a = min(atol, max(REF_ATOL_SCALE * max|want|, REF_ATOL_FLOOR)): two analytical formulas differ by
    rounding only, while a finite-difference "implementation" is off by ~1e-10..1e-7 and fails. `rtol` is
    the tolerance of the numerical check. When f, inputs and upstream are given, the gradients that matched the
    reference are also checked by finite differences of sum(upstream * f(inputs)) (inputs in `names` order);
    a disagreement there means the reference or f is wrong, and raises ReferenceDisagrees (a grader error).
    Raises CheckFailed with one message covering every failing input, so the student can fix all at once.
    A failing gradient equal to a misconception's answer in `wrong` (from wrong_answers) gets its hint; a
    constant factor equal to an axis length of an input or of `upstream` is named, and so is a gradient that
    ignores `upstream`. numeric=False skips the finite differences even when f, inputs and upstream are given.
    """
    sizes = axis_sizes(
        **{
            n: np.shape(inputs[i]) if inputs is not None else np.shape(want.get(f"grad_{n}"))
            for i, n in enumerate(names)
        }
    )
    if upstream is not None:
        sizes = {**axis_sizes(upstream=np.shape(upstream)), **sizes}
    messages: list[str] = []
    passed: list[int] = []
    ref_rtol = min(rtol, REF_RTOL) if ref_rtol is None else ref_rtol
    for i, name in enumerate(names):
        key = f"grad_{name}"
        header = f"{op}, gradient for input {name}"
        g = got.get(key) if isinstance(got, Mapping) else None
        if want.get(key) is None:  # the reference has no gradient here (a constant): neither may the student
            if g is not None:
                messages.append(
                    f"{header}: {name}.grad should be None ({name} does not require a gradient), "
                    "but backward set it: gradients set on constants?"
                )
            continue
        if g is None:
            messages.append(
                f"{header}: {name}.grad is None: backward never reached {name} (is it connected to "
                "the output, and does backward accumulate into leaves?)"
            )
            continue
        w = np.asarray(want[key], dtype=np.float64)
        finite = w[np.isfinite(w)]
        ref_atol = min(
            atol, max(REF_ATOL_SCALE * (float(np.abs(finite).max()) if finite.size else 0.0), REF_ATOL_FLOOR)
        )
        msg = _array_problem(f"{name}.grad", g, w, ref_rtol, ref_atol, header=header, sizes=sizes, upstream=upstream)
        known = known_mistake(key, g, w, wrong, got if isinstance(got, Mapping) else None) if msg and wrong else None
        if known:  # only a failure consults the catalogue
            msg = _array_problem(f"{name}.grad", g, w, ref_rtol, ref_atol, header=header, known=known, sizes=sizes)
        if msg:
            messages.append(msg)
        else:
            passed.append(i)
    if numeric and f is not None and inputs is not None and upstream is not None and passed:
        analytical = [np.asarray(got[f"grad_{n}"], dtype=np.float64) for n in names]
        results = check_gradient(
            f,
            inputs,
            upstream,
            analytical,
            op=op,
            names=names,
            rng=rng if rng is not None else np.random.default_rng(0),
            which=passed,
        )
        # Kinks are inconclusive by nature: the reference comparison above already decided.
        bad = [r for r in results if not r.ok and not r.kink]
        if bad:
            raise ReferenceDisagrees(
                "the gradient matches the reference but not finite differences (a grader "
                "problem; please tell the course staff):\n" + "\n".join(r.message for r in bad)
            )
    if messages:
        raise CheckFailed("\n".join(messages))


def run_with_hint(student: Any, scenario: str, hint: str, **kwargs: Any) -> Any:
    """student.run, adding `hint` (why this check can time out, e.g. a revisiting traversal) to a timeout's
    message. Other failures already carry their likely cause (errors.py), so they are left as they are."""
    try:
        return student.run(scenario, **kwargs)
    except StudentTimeout as e:
        raise CheckFailed(f"{e.message}\n  {hint}") from None
