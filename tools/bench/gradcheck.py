"""Benchmark: what the numerical gradient checker costs, against the full Jacobian's 2n forward calls.

Problem from DESIGN.md section 4: f(W) = tanh(X @ W), X 64x256, W 256x128 (n = 32,768), random upstream.
Run: `python -m tools.bench.gradcheck` (prints JSON); `python -m tools.bench` shows it in the table.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import numpy as np

from autograder.framework.gradcheck import check_gradient


def _problem(seed: int = 0) -> tuple[Callable, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(f, X, W, upstream, exact gradient for W)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((64, 256))
    W = rng.standard_normal((256, 128)) / 16.0
    U = rng.standard_normal((64, 128))
    t = np.tanh(X @ W)
    # einsum, not @: a multi-threaded BLAS spins on a loaded 2-core machine and drowns the checker's own cost.
    return (lambda a: np.tanh(np.einsum("ij,jk->ik", a[0], a[1]))), X, W, U, X.T @ (U * (1 - t * t))


def _timed_check(f: Callable, X: np.ndarray, W: np.ndarray, U: np.ndarray, g: np.ndarray) -> tuple[int, float, bool]:
    """(forward evaluations, seconds, ok) of checking g as W's gradient."""
    t0 = time.perf_counter()
    r = check_gradient(f, [X, W], U, [None, g], op="bench", names=["X", "W"], rng=np.random.default_rng(1), which=[1])[
        0
    ]
    return r.forward_evals, time.perf_counter() - t0, r.ok


def gradcheck_cost() -> list[dict]:
    """Forward evaluations and time per checked input: screen, localisation of planted bugs, full Jacobian."""
    f, X, W, U, G = _problem()
    n = G.size
    out: list[dict] = []

    # One forward call, to price the full Jacobian's 2n calls without running them.
    t0 = time.perf_counter()
    for _ in range(20):
        f([X, W])
    per_eval = (time.perf_counter() - t0) / 20

    _timed_check(f, X, W, U, G)  # warm up (BLAS threads, caches) so the timings below are steady
    evals, secs, ok = _timed_check(f, X, W, U, G)
    assert ok, "the benchmark's correct gradient was flagged"
    out.append({"name": "gradcheck_screen_evals_per_input", "value": evals, "unit": "forward calls", "target": "<= 8"})
    out.append({"name": "gradcheck_screen_time_per_input", "value": round(secs * 1e3, 2), "unit": "ms", "target": ""})

    for small in (1, 35, 4096):  # the screen's cost does not grow with the input's size
        x = np.random.default_rng(small).standard_normal(small)
        u = np.random.default_rng(small + 1).standard_normal(small)
        r = check_gradient(
            lambda a: np.sin(a[0]), [x], u, [u * np.cos(x)], op="bench", names=["x"], rng=np.random.default_rng(0)
        )[0]
        out.append(
            {
                "name": f"gradcheck_screen_evals_n{small}",
                "value": r.forward_evals,
                "unit": "forward calls",
                "target": "<= 8",
            }
        )

    one = G.copy()
    one[17, 33] *= 1.01
    column = G.copy()
    column[:, 5] *= 1.01
    for name, g in (
        ("one_element", one),
        ("one_column", column),
        ("sign_flipped", -G),
        ("zeros", 0 * G),
        ("no_activation_derivative", X.T @ U),
    ):
        evals, secs, ok = _timed_check(f, X, W, U, g)
        assert not ok, f"planted bug {name} was not caught"
        out.append(
            {
                "name": f"gradcheck_localise_{name}_evals",
                "value": evals,
                "unit": "forward calls",
                "target": f"< {2 * n} (full Jacobian)",
            }
        )
        out.append({"name": f"gradcheck_localise_{name}_time", "value": round(secs, 3), "unit": "s", "target": ""})

    out.append({"name": "full_jacobian_evals", "value": 2 * n, "unit": "forward calls", "target": ""})
    out.append({"name": "full_jacobian_time_estimate", "value": round(2 * n * per_eval, 2), "unit": "s", "target": ""})
    return out


if __name__ == "__main__":
    print(json.dumps(gradcheck_cost(), indent=1))
