"""The numerical gradient checker: planted bugs are caught and located; correct gradients never flagged."""

from __future__ import annotations

import re

import numpy as np
import pytest

from autograder.framework.gradcheck import (
    check_gradient,
    check_gradient_redrawing,
    diagnose,
    format_mismatch,
)

# ---------------------------------------------------------------------------------------------------
# The DESIGN section 4 problem: f(W) = sum(tanh(X @ W)), X 64x256, W 256x128 (n = 32,768)
# ---------------------------------------------------------------------------------------------------


class Tanh:
    """f(X, W) = tanh(X @ W) with a random upstream gradient, and its exact gradient for W."""

    def __init__(self, rows: int = 64, inner: int = 256, cols: int = 128, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.X = rng.standard_normal((rows, inner))
        self.W = rng.standard_normal((inner, cols)) / np.sqrt(inner)  # pre-activations ~ N(0, 1): not saturated
        self.U = rng.standard_normal((rows, cols))
        t = np.tanh(self.X @ self.W)
        self.G = self.X.T @ (self.U * (1 - t * t))

    @staticmethod
    def f(a):
        # einsum without BLAS: a multi-threaded BLAS on a loaded 2-core machine spins and runs 10x slower.
        return np.tanh(np.einsum("ij,jk->ik", a[0], a[1]))

    def check(self, g: np.ndarray, seed: int = 1):
        """Check gradient g for W (input 1)."""
        res = check_gradient(
            self.f,
            [self.X, self.W],
            self.U,
            [None, g],
            op="Tanh(X@W)",
            names=["X", "W"],
            rng=np.random.default_rng(seed),
            which=[1],
        )
        assert len(res) == 1
        return res[0]


@pytest.fixture(scope="module")
def tanh():
    return Tanh()


def _big_element(G: np.ndarray, seed: int) -> tuple[int, int]:
    """A random element whose gradient is not tiny (a 1% error of a ~0 element is below any tolerance)."""
    rng = np.random.default_rng(seed)
    while True:
        ix = tuple(int(i) for i in (rng.integers(G.shape[0]), rng.integers(G.shape[1])))
        if abs(G[ix]) > 1.0:
            return ix


def test_correct_gradient_passes_within_8_forward_calls(tanh):
    r = tanh.check(tanh.G)
    assert r.ok and not r.kink and r.n_wrong == 0 and r.wrong == []
    assert r.forward_evals <= 8 and r.screen_evals <= 8


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_element_times_1_01_is_located(tanh, seed):
    ix = _big_element(tanh.G, seed)
    g = tanh.G.copy()
    g[ix] *= 1.01
    r = tanh.check(g, seed=seed + 10)
    assert not r.ok and not r.kink and r.exact
    assert r.n_wrong == 1 and [w[0] for w in r.wrong] == [ix]
    ((_, expected, got),) = r.wrong
    assert expected == pytest.approx(tanh.G[ix], rel=1e-7) and got == g[ix]
    assert f"1 of 32768 elements wrong (row {ix[0]}, column {ix[1]})" in r.message
    assert f"W.grad[{ix[0]}, {ix[1]}]" in r.message
    assert r.forward_evals < 2 * tanh.G.size // 20  # localising costs far less than the full Jacobian


def test_one_column_times_1_01_is_located(tanh):
    g = tanh.G.copy()
    g[:, 5] *= 1.01
    r = tanh.check(g)
    assert not r.ok and not r.kink and r.exact
    # Elements whose 1% error is below the per-element tolerance cannot be blamed; all others must be.
    detectable = int(np.sum(0.01 * np.abs(tanh.G[:, 5]) > 1e-4))
    assert detectable <= r.n_wrong <= 256
    assert all(w[0][1] == 5 for w in r.wrong)
    assert "(all in column 5)" in r.message and "only column 5 is wrong" in r.message
    assert "1.01 times" in r.message


def test_one_sign_flip_is_located_with_hint(tanh):
    ix = _big_element(tanh.G, 7)
    g = tanh.G.copy()
    g[ix] *= -1
    r = tanh.check(g)
    assert not r.ok and r.n_wrong == 1 and r.wrong[0][0] == ix
    assert "Hint: the sign is flipped here." in r.message


def test_whole_sign_flip(tanh):
    r = tanh.check(-tanh.G)
    assert not r.ok and r.exact and r.n_wrong == tanh.G.size
    assert "32768 of 32768 elements wrong" in r.message
    assert "the sign of every element is flipped" in r.message
    for ix, expected, got in r.wrong:
        assert expected == pytest.approx(tanh.G[ix], rel=1e-7) and got == -tanh.G[ix]


def test_transposed_shape_is_named(tanh):
    r = tanh.check(tanh.G.T.copy())
    assert not r.ok and "shape (128, 256), expected (256, 128)" in r.message and "transposed?" in r.message


def test_transposed_values_of_a_square_gradient():
    sq = Tanh(rows=32, inner=128, cols=128, seed=3)
    r = sq.check(sq.G.T.copy())
    assert not r.ok and not r.kink
    off_diagonal = int(np.sum(~np.isclose(sq.G, sq.G.T, rtol=1e-6, atol=0)))
    assert r.n_wrong == off_diagonal
    assert "transpose of the expected gradient" in r.message


def test_divided_by_n(tanh):
    r = tanh.check(tanh.G / 64)
    assert not r.ok and r.n_wrong == tanh.G.size
    assert "1/64 of the expected value" in r.message and "mean instead of sum" in r.message


def test_all_zeros(tanh):
    r = tanh.check(np.zeros_like(tanh.G))
    assert not r.ok and not r.kink
    assert r.n_wrong > 0.9 * tanh.G.size
    assert "all zeros" in r.message
    assert all(got == 0 and abs(expected - tanh.G[ix]) < 1e-6 for ix, expected, got in r.wrong)


def test_forgotten_activation_derivative(tanh):
    g = tanh.X.T @ tanh.U  # d tanh / dz dropped
    r = tanh.check(g)
    assert not r.ok and not r.kink
    assert not r.exact and r.n_wrong > 0.9 * tanh.G.size  # widespread: estimated from a sample, and says so
    assert "about" in r.message and "sampled" in r.message
    assert r.wrong and all(abs(e - tanh.G[ix]) < 1e-6 * max(1, abs(tanh.G[ix])) for ix, e, _ in r.wrong)
    assert r.forward_evals < 2 * tanh.G.size // 20


def test_message_never_prints_a_whole_array(tanh):
    r = tanh.check(-tanh.G)
    lines = r.message.splitlines()
    assert len(lines) <= 6 and len(r.message) < 1000
    assert "... and 32765 more" in r.message


# ---------------------------------------------------------------------------------------------------
# Correct gradients are never flagged (cheap functions, many draws)
# ---------------------------------------------------------------------------------------------------


def _cheap_case(rng: np.random.Generator):
    """f(a, b) = tanh(a) * b / c + exp(a / 3) with broadcasting; gradients for a (3x5), b (1x5), c (3x1)."""
    a = rng.standard_normal((3, 5)) * 2
    b = rng.standard_normal((1, 5))
    c = rng.uniform(0.5, 2.0, (3, 1)) * rng.choice([-1.0, 1.0], (3, 1))
    u = rng.standard_normal((3, 5))

    def f(x):
        return np.tanh(x[0]) * x[1] / x[2] + np.exp(x[0] / 3)

    t = np.tanh(a)
    ga = u * ((1 - t * t) * b / c + np.exp(a / 3) / 3)
    gb = np.sum(u * t / c, axis=0, keepdims=True)
    gc = np.sum(-u * t * b / c**2, axis=1, keepdims=True)
    return f, [a, b, c], u, [ga, gb, gc]


def test_correct_gradients_never_flagged_over_1000_draws():
    rng = np.random.default_rng(2024)
    flagged = []
    for draw in range(1000):
        f, inputs, u, grads = _cheap_case(rng)
        for r in check_gradient(f, inputs, u, grads, op="cheap", names=["a", "b", "c"], rng=rng):
            if not r.ok:
                flagged.append((draw, r.message))
    assert flagged == []


def test_a_small_bug_in_the_cheap_case_is_caught_every_time():
    rng = np.random.default_rng(5)
    for _ in range(50):
        f, inputs, u, grads = _cheap_case(rng)
        grads[1] = grads[1] * np.array([[1, 1, 1.001, 1, 1]])
        r = check_gradient(f, inputs, u, grads, op="cheap", names=["a", "b", "c"], rng=rng, which=[1])[0]
        assert not r.ok and [w[0] for w in r.wrong] == [(0, 2)]


@pytest.mark.parametrize("shape", [(), (1,), (3, 5), (7, 1, 3), (4096,)])
def test_screen_costs_at_most_8_forward_calls_whatever_the_size(shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    u = rng.standard_normal(shape)
    calls = []

    def f(a):
        calls.append(1)
        return np.sin(a[0])

    r = check_gradient(f, [x], u, [u * np.cos(x)], op="Sin.backward", names=["x"], rng=rng)[0]
    assert r.ok and r.forward_evals == len(calls) <= 8


# ---------------------------------------------------------------------------------------------------
# Kinks: inconclusive, never the student's fault
# ---------------------------------------------------------------------------------------------------


def _relu(x):
    return np.maximum(x[0], 0.0)


def test_relu_at_zero_is_a_kink_not_a_bug():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 7))
    x[1, 2] = x[3, 3] = 0.0
    u = rng.standard_normal((5, 7))
    r = check_gradient(_relu, [x], u, [u * (x > 0)], op="ReLU.backward", names=["x"], rng=rng)[0]
    assert not r.ok and r.kink and r.n_wrong == 0 and "kink" in r.message


def test_max_tie_is_a_kink_not_a_bug():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 6))
    x[2, 1] = x[2, 4] = 5.0  # a tie for the maximum of row 2
    u = rng.standard_normal(4)
    g = np.zeros_like(x)
    g[np.arange(4), x.argmax(axis=1)] = u
    r = check_gradient(lambda a: a[0].max(axis=1), [x], u, [g], op="Max.backward", names=["x"], rng=rng)[0]
    assert r.kink and not r.ok


def test_kink_on_a_large_tensor_is_inconclusive():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((100, 50))
    x[5, 5] = 0.0
    u = rng.standard_normal((100, 50))
    r = check_gradient(_relu, [x], u, [u * (x > 0)], op="ReLU.backward", names=["x"], rng=rng)[0]
    assert r.kink and not r.ok


def test_a_real_bug_next_to_a_kink_is_still_reported():
    rng = np.random.default_rng(3)
    x = rng.uniform(0.5, 2.0, (5, 7))
    x[1, 2] = 0.0
    u = rng.standard_normal((5, 7))
    g = u * (x > 0)
    g[4, 6] *= -1
    r = check_gradient(_relu, [x], u, [g], op="ReLU.backward", names=["x"], rng=rng)[0]
    assert not r.ok and not r.kink and [w[0] for w in r.wrong] == [(4, 6)]


def test_redrawing_gets_past_a_kink():
    draws = []

    def make_case(rng):
        x = rng.standard_normal((3, 5))
        if not draws:
            x[0, 0] = 0.0  # the first draw sits on a kink
        draws.append(1)
        u = rng.standard_normal((3, 5))
        return _relu, [x], u, [u * (x > 0)]

    res = check_gradient_redrawing(make_case, op="ReLU.backward", names=["x"], rng=np.random.default_rng(0))
    assert len(draws) == 2 and res[0].ok


# ---------------------------------------------------------------------------------------------------
# Preflight and structure
# ---------------------------------------------------------------------------------------------------


def _mul_case(rng):
    a, b, u = rng.standard_normal((3, 5)), rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    return a, b, u


def test_random_forward_is_refused():
    rng = np.random.default_rng(0)
    a, b, u = _mul_case(rng)
    noise = np.random.default_rng(1)
    res = check_gradient(
        lambda x: x[0] * x[1] + noise.standard_normal(), [a, b], u, [u * b, u * a], op="Mul", names=["a", "b"], rng=rng
    )
    assert all(not r.ok and "forward is random" in r.message for r in res)


def test_inputs_modified_in_place_are_reported():
    rng = np.random.default_rng(0)
    a, b, u = _mul_case(rng)
    a_before = a.copy()

    def backward(up):
        a[0, 0] += 1.0  # a backward that scribbles on its input
        return [up * b, up * a_before]

    res = check_gradient(
        lambda x: x[0] * x[1], [a, b], u, [u * b, u * a_before], op="Mul", names=["a", "b"], rng=rng, backward=backward
    )
    assert all(not r.ok and "input a was modified in place" in r.message for r in res)


def test_forward_cannot_alter_the_callers_inputs():
    rng = np.random.default_rng(0)
    a, b, u = _mul_case(rng)
    a0, b0 = a.copy(), b.copy()

    def f(x):
        out = x[0] * x[1]
        x[0][...] = 0.0  # scribbles on the copy it was given
        return out

    check_gradient(f, [a, b], u, [u * b, u * a], op="Mul", names=["a", "b"], rng=rng)
    assert np.array_equal(a, a0) and np.array_equal(b, b0)


@pytest.mark.parametrize(
    "bad, words",
    [
        (None, "missing (None)"),
        ("T", "transposed?"),
        ("f32", "float32"),
        ("nan", "NaN or inf"),
    ],
)
def test_structure_problems_are_named(bad, words):
    rng = np.random.default_rng(0)
    a, b, u = _mul_case(rng)
    ga = {"T": (u * b).T.copy(), "f32": (u * b).astype(np.float32), "nan": np.where(a > 0, np.nan, u * b), None: None}[
        bad
    ]
    r = check_gradient(lambda x: x[0] * x[1], [a, b], u, [ga, u * a], op="Mul", names=["a", "b"], rng=rng)
    assert not r[0].ok and words in r[0].message and r[0].message.startswith("Mul, gradient for input a")
    assert r[1].ok


def test_upstream_ignored_is_caught_by_linearity():
    rng = np.random.default_rng(0)
    a, b, u = _mul_case(rng)

    def backward(up):
        return [up * b, b * 0 + a]  # the b gradient forgets the upstream gradient

    r = check_gradient(
        lambda x: x[0] * x[1], [a, b], u, backward(u), op="Mul", names=["a", "b"], rng=rng, backward=backward
    )
    assert r[0].ok
    assert not r[1].ok and "zero upstream gradient gave a nonzero gradient" in r[1].message


def test_output_shape_must_match_upstream():
    rng = np.random.default_rng(0)
    a, b, u = _mul_case(rng)
    res = check_gradient(lambda x: np.sum(x[0] * x[1]), [a, b], u, [u * b, u * a], op="Mul", names=["a", "b"], rng=rng)
    assert all(not r.ok and "shape ()" in r.message for r in res)


# ---------------------------------------------------------------------------------------------------
# Hints and messages
# ---------------------------------------------------------------------------------------------------


@pytest.fixture
def expected():
    return np.random.default_rng(9).standard_normal((5, 7))


def test_diagnose_hints(expected):
    e = expected
    assert "sign of every element is flipped" in diagnose(e, -e)
    assert "1/8 of the expected value" in diagnose(e, e / 8)
    assert "2 times the expected value" in diagnose(e, 2 * e)
    assert "all zeros" in diagnose(e, np.zeros_like(e))
    sq = e[:5, :5]
    assert "transpose" in diagnose(sq, sq.T.copy())
    one_row = e.copy()
    one_row[3] += 1.0
    assert "only row 3 is wrong" in diagnose(e, one_row)
    assert "transposed?" in diagnose(e, e.T.copy())
    assert "un-broadcast" in diagnose(e[:1], np.repeat(e[:1], 4, axis=0))
    assert diagnose(e, e) is None
    assert diagnose(e, e + np.random.default_rng(1).standard_normal(e.shape)) is None  # no pattern: no hint


def test_format_matches_the_design_example():
    e = np.random.default_rng(4).standard_normal((5, 7))
    g = e.copy()
    g[3, 4] = -e[3, 4]
    msg = format_mismatch("Mul.backward", "b", e, g, rtol=1e-6, atol=1e-9)
    lines = msg.splitlines()
    assert lines[0] == "Mul.backward, gradient for input b: 1 of 35 elements wrong (row 3, column 4)"
    assert re.fullmatch(
        r"  b\.grad\[3, 4\]: expected -?\d+\.\d{6}, got -?\d+\.\d{6}   "
        r"\(abs err \d\.\de[+-]\d\d, rel err \d\.\de[+-]\d\d, tolerance [\d.e+-]+\)",
        lines[1],
    )
    assert lines[2] == "  Hint: the sign is flipped here."
    assert len(lines) == 3


def test_one_row_times_1_01_is_located(tanh):
    g = tanh.G.copy()
    g[200] *= 1.01
    r = tanh.check(g)
    detectable = int(np.sum(0.01 * np.abs(tanh.G[200]) > 1e-4))
    assert not r.ok and r.exact and detectable <= r.n_wrong <= 128
    assert "(all in row 200)" in r.message and "only row 200 is wrong" in r.message


def test_scattered_elements_in_a_long_vector_are_found_by_bisection():
    rng = np.random.default_rng(8)
    x = rng.standard_normal(20000)
    u = rng.standard_normal(20000)
    g = u * np.cos(x)
    planted = [(123,), (4567,), (19999,)]
    for ix in planted:
        g[ix] += 0.5
    calls = []

    def f(a):
        calls.append(1)
        return np.sin(a[0])

    r = check_gradient(f, [x], u, [g], op="Sin.backward", names=["x"], rng=rng)[0]
    assert not r.ok and r.exact and r.n_wrong == 3 and [w[0] for w in r.wrong] == planted
    assert "(element 123; element 4567; element 19999)" in r.message
    assert len(calls) < 400  # ~3 log2(20000) projections, not 40,000 calls
