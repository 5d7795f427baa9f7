"""hw1p1's catalogue of known wrong formulas, one small list per op or task, beside the tests.

Each entry is a compare.Misconception: what the student did, the rule, and the wrong formula in numpy.
The checks (tests/public/hw1p1_checks.py) evaluate the formulas of the op under test on the same inputs
in the trusted grader, and when a failing answer equals one of them the message names it. The formulas
never run in the worker, and they only explain failures: a correct alternative formula cannot lose
points through them. Not shipped to students (the formulas sit close to the solutions): the handout's
checks find no catalogue and fall back to the generic hints.

Formulas receive the case as keywords and return {result key: wrong value}; a formula that does not fit
a case (it raises, or returns {}) is skipped.
  ops:           op, inputs (list of arrays), upstream, kwargs (dict)        -> {"grad_a", "grad_b"}
  "unbroadcast": grad, shape                                                 -> {"out"}
  "ce":          pred, target (labels), upstream (0-d)                       -> {"grad_pred"}
  "batchnorm":   x, gamma, upstream, eps                                     -> {"grad_x", "grad_gamma", "grad_beta"}
  "sgd", "adam": params, grads (per step, None = no grad), options, schedule -> {"param_<i>_<k>"}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autograder.assignments.hw1p1.scenarios import _index
from autograder.framework.compare import Misconception

M = Misconception


def _sum_to(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum g down to `shape` (the wrong formulas below are wrong elsewhere, not in their un-broadcast)."""
    g = np.asarray(g, dtype=np.float64)
    extra = g.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape) if n == 1 and g.shape[extra + i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape) if axes else g.reshape(shape)


def _unary(fn: Callable[..., np.ndarray]) -> Callable[..., dict]:
    """A formula for a one-input op: fn(x, upstream, **kwargs) -> grad for x."""

    def formula(inputs: list, upstream: np.ndarray, kwargs: dict, **_: Any) -> dict:
        return {"grad_a": fn(np.asarray(inputs[0]), np.asarray(upstream), **(kwargs or {}))}

    return formula


def _binary(fn: Callable[..., tuple], *, raw: bool = False) -> Callable[..., dict]:
    """A formula for a two-tensor op: fn(a, b, upstream) -> (grad_a or None, grad_b or None), un-broadcast
    to each input's shape unless `raw` (the misconception is the missing un-broadcast)."""

    def formula(inputs: list, upstream: np.ndarray, kwargs: dict, **_: Any) -> dict:
        if len(inputs) != 2 or (kwargs or {}).get("scalar") is not None:
            return {}
        a, b = (np.asarray(x) for x in inputs)
        ga, gb = fn(a, b, np.asarray(upstream))
        out = {}
        if ga is not None:
            out["grad_a"] = ga if raw else _sum_to(ga, a.shape)
        if gb is not None:
            out["grad_b"] = gb if raw else _sum_to(gb, b.shape)
        return out

    return formula


def _axes(axis: Any, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    return tuple(sorted(int(a) % ndim for a in (axis if isinstance(axis, (list, tuple)) else [axis])))


def _expand(g: np.ndarray, axis: Any, keepdims: bool, ndim: int) -> np.ndarray:
    return g if keepdims else np.expand_dims(g, _axes(axis, ndim))


def _mean_over_full_size(x, g, axis=None, keepdims=False):
    return np.broadcast_to(_expand(g, axis, keepdims, x.ndim) / x.size, x.shape)


def _mean_not_divided(x, g, axis=None, keepdims=False):
    return np.broadcast_to(_expand(g, axis, keepdims, x.ndim), x.shape)


def _max_full_to_ties(x, g, axis=None, keepdims=False):
    mask = x == np.max(x, axis=_axes(axis, x.ndim), keepdims=True)
    return mask * _expand(g, axis, keepdims, x.ndim)


def _max_first_only(x, g, axis=None, keepdims=False):
    axes = list(_axes(axis, x.ndim))
    keep = [i for i in range(x.ndim) if i not in axes]
    moved = np.transpose(x, keep + axes).reshape([x.shape[i] for i in keep] + [-1])
    first = np.zeros_like(moved)
    np.put_along_axis(first, np.argmax(moved, axis=-1)[..., None], 1.0, axis=-1)
    first = np.transpose(first.reshape([x.shape[i] for i in keep + axes]), np.argsort(keep + axes))
    return first * _expand(g, axis, keepdims, x.ndim)


def _transpose_same(x, g, axes=None):
    return np.transpose(g, axes) if axes else np.transpose(g)


def _getitem_no_repeats(x, g, index):
    grad = np.zeros(x.shape)
    grad[_index(index)] += g  # fancy-index += writes a repeated position once
    return grad


def _swap(m: np.ndarray) -> np.ndarray:
    return np.swapaxes(m, -1, -2)


def _matmul_no_batch_sum(a, b, g):
    if a.ndim < 2 or b.ndim < 2:
        return None, None
    return g @ _swap(b), _swap(a) @ g


def _matmul_1d_not_promoted(a, b, g):
    if a.ndim != 1 and b.ndim != 1:
        return None, None
    ga = g @ (_swap(b) if b.ndim >= 2 else b)
    gb = (_swap(a) if a.ndim >= 2 else a) @ g
    return ga, gb


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _logsm_no_sum(x, g, axis=-1):
    return g - np.exp(_log_softmax(x, axis)) * g


def _logsm_last_axis(x, g, axis=-1):
    if axis % x.ndim == x.ndim - 1:
        return None
    return g - np.exp(_log_softmax(x, axis)) * np.sum(g, axis=-1, keepdims=True)


def _logsm_saved_as_softmax(x, g, axis=-1):
    return g - _log_softmax(x, axis) * np.sum(g, axis=axis, keepdims=True)


SIGMOID_FACT = "sigmoid'(x) = s * (1 - s) with s = sigmoid(x), the output forward saved"
TANH_FACT = "tanh'(x) = 1 - t**2 with t = tanh(x), the output forward saved"
LOGSM_FACT = "the gradient is g - softmax(x) * sum(g along self.axis, keepdims), with softmax = exp(saved output)"
UNBROADCAST_FACT = (
    "sum over the leading axes numpy added, then over the axes where the input had size 1, and "
    "return exactly the input's shape"
)
DIV_FACT = "d(a/b)/da = 1/b and d(a/b)/db = -a / b**2"

OPS: dict[str, tuple[Misconception, ...]] = {
    "add": (
        M(
            "the gradient is not un-broadcast (summed back) to its input's shape",
            "an input numpy stretched in forward receives the sum of the gradient over the stretched axes",
            _binary(lambda a, b, g: (g, g), raw=True),
        ),
    ),
    "sub": (
        M(
            "the gradients' signs are swapped (-g for a, +g for b)",
            "d(a - b)/da = +1 and d(a - b)/db = -1",
            _binary(lambda a, b, g: (-g, g)),
        ),
        M(
            "b's gradient is not negated",
            "d(a - b)/db = -1, so b gets -grad_output",
            _binary(lambda a, b, g: (None, g)),
        ),
        M(
            "the gradient is not un-broadcast (summed back) to its input's shape",
            "an input numpy stretched in forward receives the sum of the gradient over the stretched axes",
            _binary(lambda a, b, g: (g, -g), raw=True),
        ),
    ),
    "neg": (
        M(
            "grad_output is passed through unchanged",
            "d(-a)/da = -1, so the gradient is -grad_output",
            _unary(lambda x, g: g),
        ),
    ),
    "mul": (
        M(
            "each input's gradient is multiplied by that input itself instead of by the other one",
            "d(a*b)/da = b and d(a*b)/db = a",
            _binary(lambda a, b, g: (g * a, g * b)),
        ),
        M(
            "the gradient is not un-broadcast (summed back) to its input's shape",
            "an input numpy stretched in forward receives the sum of the gradient over the stretched axes",
            _binary(lambda a, b, g: (g * b, g * a), raw=True),
        ),
    ),
    "div": (
        M(
            "b's gradient is -grad_output / b (the a of -a / b**2 is missing)",
            DIV_FACT,
            _binary(lambda a, b, g: (None, -g / b)),
        ),
        M(
            "b's gradient is -grad_output * a / b (b is not squared)",
            DIV_FACT,
            _binary(lambda a, b, g: (None, -g * a / b)),
        ),
        M("b's gradient has the wrong sign (+a / b**2)", DIV_FACT, _binary(lambda a, b, g: (None, g * a / (b * b)))),
        M("a's gradient is multiplied by b instead of divided by it", DIV_FACT, _binary(lambda a, b, g: (g * b, None))),
    ),
    "pow": (
        M(
            "the exponent is not lowered by one (p * a**p)",
            "d(a**p)/da = p * a**(p - 1)",
            _unary(lambda x, g, exponent: g * exponent * x**exponent),
        ),
        M(
            "the factor p is missing (a**(p - 1))",
            "d(a**p)/da = p * a**(p - 1)",
            _unary(lambda x, g, exponent: g * x ** (exponent - 1)),
        ),
    ),
    "exp": (
        M(
            "the gradient is multiplied by the input a instead of by exp(a)",
            "the derivative of exp(a) is exp(a) itself, the output forward saved",
            _unary(lambda x, g: g * x),
        ),
    ),
    "log": (
        M("the gradient is multiplied by a instead of divided by it", "d(log a)/da = 1/a", _unary(lambda x, g: g * x)),
        M("the gradient is multiplied by log(a)", "d(log a)/da = 1/a", _unary(lambda x, g: g * np.log(x))),
    ),
    "mean": (
        M(
            "the gradient is divided by the input's full size instead of the number of averaged elements",
            "a mean over some axes divides by the product of those axes' lengths only",
            _unary(_mean_over_full_size),
        ),
        M(
            "the gradient is not divided by the number of averaged elements (Sum's backward)",
            "each averaged element receives grad_output / count",
            _unary(_mean_not_divided),
        ),
    ),
    "max": (
        M(
            "every tied maximum receives the whole gradient",
            "k tied maxima share the gradient equally, 1/k each (as torch.amax)",
            _unary(_max_full_to_ties),
        ),
        M(
            "only the first of tied maxima receives the gradient (argmax)",
            "k tied maxima share the gradient equally, 1/k each (as torch.amax)",
            _unary(_max_first_only),
        ),
    ),
    "transpose": (
        M(
            "backward applies the forward's permutation again instead of its inverse",
            "the inverse of the permutation self.axes is np.argsort(self.axes)",
            _unary(_transpose_same),
        ),
    ),
    "getitem": (
        M(
            "a repeated index receives its gradient once (grad[index] += g writes a repeated position once)",
            "np.add.at(grad, index, grad_output) adds every repeat",
            _unary(_getitem_no_repeats),
        ),
    ),
    "matmul": (
        M(
            "the batch axes of the broadcast operand are not summed back (un-broadcast)",
            "an operand numpy broadcast over batch axes receives the sum of its gradient over them",
            _binary(_matmul_no_batch_sum, raw=True),
        ),
        M(
            "a 1-D operand is not promoted to a matrix (with 1-D arrays, .T does nothing and @ is a dot product)",
            "as np.matmul does, treat a 1-D a as a row (1, k) and a 1-D b as a column (k, 1), then drop the "
            "added axis from the gradient",
            _binary(_matmul_1d_not_promoted, raw=True),
        ),
    ),
    "relu": (
        M(
            "the gradient passes where x >= 0, so ReLU'(0) = 1",
            "this handout (as PyTorch) takes ReLU'(0) = 0: pass the gradient only where x > 0",
            _unary(lambda x, g: g * (x >= 0)),
        ),
        M(
            "the gradient is multiplied by ReLU's output instead of its 0/1 mask",
            "ReLU'(x) is 1 where x > 0 and 0 elsewhere",
            _unary(lambda x, g: g * np.maximum(x, 0.0)),
        ),
    ),
    "sigmoid": (
        M(
            "the derivative is evaluated at the input x (x * (1 - x)) instead of at the saved output s",
            SIGMOID_FACT,
            _unary(lambda x, g: g * x * (1 - x)),
        ),
        M(
            "sigmoid is applied again to the saved output (sigmoid(s) * (1 - sigmoid(s)))",
            SIGMOID_FACT,
            _unary(lambda x, g: g * _sigmoid(_sigmoid(x)) * (1 - _sigmoid(_sigmoid(x)))),
        ),
    ),
    "tanh": (
        M("tanh' is taken as 1 - tanh (not squared)", TANH_FACT, _unary(lambda x, g: g * (1 - np.tanh(x)))),
        M(
            "the derivative is evaluated at the input x (1 - x**2) instead of at the saved output t",
            TANH_FACT,
            _unary(lambda x, g: g * (1 - x * x)),
        ),
    ),
    "log_softmax": (
        M("the sum of grad_output along the axis is left out (g - softmax * g)", LOGSM_FACT, _unary(_logsm_no_sum)),
        M("the sum runs over the last axis whatever self.axis is", LOGSM_FACT, _unary(_logsm_last_axis)),
        M("the saved output (log-softmax) is used as the softmax itself", LOGSM_FACT, _unary(_logsm_saved_as_softmax)),
    ),
}
OPS["T"] = OPS["transpose"]


# ---- unbroadcast (task 2.1) ----------------------------------------------------------------------------------


def _ub_leading_only(grad, shape):
    return {"out": grad.sum(axis=tuple(range(grad.ndim - len(shape))))}


def _ub_size1_only(grad, shape):
    extra = grad.ndim - len(shape)
    axes = tuple(extra + i for i, n in enumerate(shape) if n == 1)
    return {"out": grad.sum(axis=axes, keepdims=True)}


def _ub_keepdims(grad, shape):
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape) if n == 1)
    return {"out": grad.sum(axis=axes, keepdims=True)}


UNBROADCAST = (
    M(
        "only the leading axes numpy added are summed, not the axes where the input had size 1",
        UNBROADCAST_FACT,
        _ub_leading_only,
    ),
    M("only the size-1 axes are summed, not the leading axes numpy added", UNBROADCAST_FACT, _ub_size1_only),
    M("the summed axes are kept (keepdims) instead of removed, e.g. (1, 1) for (1,)", UNBROADCAST_FACT, _ub_keepdims),
)


# ---- cross-entropy (task 5.3) -------------------------------------------------------------------------------


def _ce(pred, target, upstream, *, scale_n: bool = True, sign: float = 1.0, **_: Any) -> dict:
    probs = np.exp(_log_softmax(np.asarray(pred), 1))
    onehot = np.zeros_like(probs)
    onehot[np.arange(len(probs)), np.asarray(target)] = 1.0
    n = len(probs) if scale_n else 1
    return {"grad_pred": sign * (probs - onehot) / n * float(upstream)}


CROSS_ENTROPY = (
    M(
        "the 1/N of the batch mean is missing",
        "the loss is the mean over the batch: (softmax - onehot) / N times grad_output",
        lambda **c: _ce(**c, scale_n=False),
    ),
    M(
        "the subtraction is the wrong way round (onehot - softmax)",
        "the gradient is (softmax - onehot) / N times grad_output",
        lambda **c: _ce(**c, sign=-1.0),
    ),
)


# ---- BatchNorm1d (task 6.1) ---------------------------------------------------------------------------------

BN_FACT = (
    "dL/dx = inv_std / N * (N * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)) with dxhat = "
    "grad_output * weight and sums over the batch (axis 0): the mean and the variance depend on every row"
)


def _bn(
    x,
    gamma,
    upstream,
    eps,
    *,
    mean_term=True,
    var_term=True,
    direct_only=False,
    use_gamma=True,
    swap_params=False,
    **_: Any,
) -> dict:
    x, g = np.asarray(x), np.asarray(upstream)
    inv_std = 1.0 / np.sqrt(x.var(axis=0) + eps)
    xhat = (x - x.mean(axis=0)) * inv_std
    n = len(x)
    dxhat = g * gamma if use_gamma else g
    terms = n * dxhat
    if mean_term:
        terms = terms - dxhat.sum(axis=0)
    if var_term:
        terms = terms - xhat * (dxhat * xhat).sum(axis=0)
    grad_x = dxhat * inv_std if direct_only else inv_std / n * terms
    grad_gamma, grad_beta = (g * xhat).sum(axis=0), g.sum(axis=0)
    if swap_params:
        return {"grad_gamma": grad_beta, "grad_beta": grad_gamma}
    return {"grad_x": grad_x}


BATCHNORM = (
    M("the mean term (- sum(dxhat)) is left out of dL/dx", BN_FACT, lambda **c: _bn(**c, mean_term=False)),
    M(
        "the variance term (- xhat * sum(dxhat * xhat)) is left out of dL/dx",
        BN_FACT,
        lambda **c: _bn(**c, var_term=False),
    ),
    M("only the direct path is kept (dL/dx = dxhat * inv_std)", BN_FACT, lambda **c: _bn(**c, direct_only=True)),
    M(
        "dL/dx leaves out the weight (dxhat = grad_output instead of grad_output * weight)",
        BN_FACT,
        lambda **c: _bn(**c, use_gamma=False),
    ),
    M(
        "the gradients of weight and bias are swapped",
        "dL/dweight = sum(grad_output * xhat) and dL/dbias = sum(grad_output), over the batch",
        lambda **c: _bn(**c, swap_params=True),
    ),
)


# ---- optimizers (tasks 7.1, 7.2) ----------------------------------------------------------------------------


def _steps(params: list, grads: list, options: dict, schedule: list | None, update: Callable) -> dict:
    """Simulate the steps with update(i, p, g, state, hyper) -> new p; hyperparameters follow the schedule."""
    ps = [np.array(p, dtype=np.float64) for p in params]
    hyper, out = dict(options), {}
    state: list[dict] = [{} for _ in ps]
    for k, step_grads in enumerate(grads):
        hyper.update((schedule or [{}] * len(grads))[k] or {})
        for i, g in enumerate(step_grads):
            if g is not None:
                ps[i] = update(ps[i], np.asarray(g, dtype=np.float64), state[i], hyper, k)
        out.update({f"param_{i}_{k}": p.copy() for i, p in enumerate(ps)})
    return out


def _sgd(params, grads, options, schedule=None, *, lr_in_buffer=False, ema=False, wd_after=False, **_: Any):
    def update(p, g, st, h, k):
        lr, mom, wd = h["lr"], h.get("momentum", 0.0), h.get("weight_decay", 0.0)
        if not wd_after:
            g = g + wd * p
        if mom:
            step = lr * g if lr_in_buffer else g
            if ema:
                st["buf"] = mom * st.get("buf", 0.0) + (1 - mom) * step
            else:
                st["buf"] = step if "buf" not in st else mom * st["buf"] + step
            g = st["buf"]
        if wd_after:
            g = g + wd * p
        return p - (g if lr_in_buffer else lr * g)

    if lr_in_buffer and not options.get("momentum"):
        return {}
    return _steps(params, grads, options, schedule, update)


def _adam(params, grads, options, schedule=None, *, correct=True, eps_inside=False, shared_t=False, **_: Any):
    def update(p, g, st, h, k):
        b1, b2 = h.get("betas", (0.9, 0.999))
        eps = h.get("eps", 1e-8)
        if shared_t:
            t = k + 1  # one counter for all parameters: it advances on every step()
        else:
            st["t"] = t = st.get("t", 0) + 1
        st["m"] = b1 * st.get("m", 0.0) + (1 - b1) * g
        st["v"] = b2 * st.get("v", 0.0) + (1 - b2) * g * g
        m_hat = st["m"] / (1 - b1**t) if correct else st["m"]
        v_hat = st["v"] / (1 - b2**t) if correct else st["v"]
        denom = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        return p - h.get("lr", 1e-3) * m_hat / denom

    return _steps(params, grads, options, schedule, update)


SGD_FACT = "as torch.optim.SGD: g = grad + weight_decay * p; buf = momentum * buf + g (buf = g at first); p -= lr * buf"
ADAM_FACT = "m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t), p -= lr * m_hat / (sqrt(v_hat) + eps)"

SGD = (
    M(
        "the learning rate is inside the momentum buffer (buf = momentum * buf + lr * g; p -= buf), which "
        "differs as soon as lr changes between steps",
        SGD_FACT,
        lambda **c: _sgd(**c, lr_in_buffer=True),
    ),
    M(
        "the momentum buffer is an exponential average (buf = momentum * buf + (1 - momentum) * g)",
        SGD_FACT,
        lambda **c: _sgd(**c, ema=True),
    ),
    M(
        "weight decay is added after the momentum buffer instead of to the gradient before it",
        SGD_FACT,
        lambda **c: _sgd(**c, wd_after=True),
    ),
)
ADAM = (
    M("the bias correction is left out (m and v used as they are)", ADAM_FACT, lambda **c: _adam(**c, correct=False)),
    M("eps is added inside the square root (sqrt(v_hat + eps))", ADAM_FACT, lambda **c: _adam(**c, eps_inside=True)),
    M(
        "one step counter is shared by all parameters (t advances even for a parameter without a gradient)",
        "each parameter counts its own steps t (self.t[i])",
        lambda **c: _adam(**c, shared_t=True),
    ),
)

# Everything by the name the checks look up.
CATALOGUE: dict[str, tuple[Misconception, ...]] = {
    **OPS,
    "unbroadcast": UNBROADCAST,
    "ce": CROSS_ENTROPY,
    "batchnorm": BATCHNORM,
    "sgd": SGD,
    "adam": ADAM,
}
