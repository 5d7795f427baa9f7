"""Trusted comparisons: every kind of wrong observation fails with a message that says what, where and why."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.framework.compare import (
    CheckFailed,
    ReferenceDisagrees,
    assert_close,
    check_array,
    check_close,
    check_gradients,
)


@pytest.fixture
def want():
    return np.random.default_rng(0).standard_normal((3, 5))


def _message(fn, *args, **kwargs) -> str:
    with pytest.raises(CheckFailed) as info:
        fn(*args, **kwargs)
    assert isinstance(info.value, AssertionError)
    assert info.value.message == info.value.args[0]
    return info.value.message


def test_equal_arrays_pass(want):
    check_array("out", want.copy(), want)
    check_array("out", want * (1 + 1e-9), want)
    check_array("out", np.float64(2.5), np.asarray(2.5))  # a numpy scalar stands for a 0-d array


@pytest.mark.parametrize(
    "got, words",
    [
        (None, "returned None: did you forget to return"),
        ([1.0, 2.0], "a list where a numpy array belongs"),
        ((1.0, 2.0), "a tuple where a numpy array belongs"),
        ("text", "a str where a numpy array belongs"),
    ],
)
def test_not_an_array(want, got, words):
    assert words in _message(check_array, "out", got, want)


def test_dtypes_name_a_likely_cause(want):
    assert "float32, expected float64: computed in single precision?" in _message(
        check_array, "out", want.astype(np.float32), want
    )
    assert "integer division, or np.zeros_like of an int array?" in _message(
        check_array, "out", np.zeros((3, 5), dtype=np.int64), want
    )
    assert "dtype bool" in _message(check_array, "out", want > 0, want)


def test_shapes_with_hints(want):
    assert "shape (5, 3), expected (3, 5): transposed?" in _message(check_array, "x.grad", want.T.copy(), want)
    bias = want[:1]
    assert "un-broadcast missing?" in _message(check_array, "b.grad", want, bias)
    assert "expected (1,)" in _message(check_array, "b.grad", np.zeros((1, 1)), np.zeros(1))


def test_nan_says_where_and_why(want):
    got = want.copy()
    got[2, 3] = np.nan
    msg = _message(check_array, "out", got, want)
    assert "1 of 15 elements" in msg and "out[2, 3]" in msg and "log of 0? overflow in exp?" in msg


def test_nan_expected_is_not_a_failure():
    want = np.array([np.nan, 1.0])
    check_array("out", np.array([np.nan, 1.0]), want)


def test_values_show_first_few_and_a_hint(want):
    msg = _message(check_array, "out", want * 3, want)
    lines = msg.splitlines()
    assert lines[0] == "out: 15 of 15 elements wrong"
    assert lines[1].startswith("  out[0, 0]: expected ") and "tolerance" in lines[1]
    assert "... and 12 more" in msg and "3 times the expected value" in msg
    assert len(lines) == 6  # never the whole array


def test_a_big_array_message_stays_short():
    want = np.arange(100000, dtype=np.float64)
    msg = _message(check_array, "out", want + 1, want)
    assert len(msg.splitlines()) <= 6 and len(msg) < 800


def test_check_close_scalars():
    check_close("loss", 1.0 + 1e-8, 1.0)
    assert_close("loss", np.float64(3.0), 3.0)
    msg = _message(check_close, "loss", 1.5, 1.2)
    assert msg.startswith("loss: expected 1.200000, got 1.500000") and "rel err 2.5e-01" in msg
    assert "None" in _message(check_close, "loss", None, 1.0)
    assert "a str where a number belongs" in _message(check_close, "loss", "1.0", 1.0)
    assert "NaN" in _message(check_close, "loss", float("nan"), 1.0)
    assert "shape (2,)" in _message(check_close, "loss", np.ones(2), 1.0)
    assert "a bool where a number belongs" in _message(check_close, "loss", True, 1.0)


def test_check_close_delegates_arrays(want):
    assert "transposed?" in _message(check_close, "out", want.T.copy(), want)


# ---------------------------------------------------------------------------------------------------
# check_gradients
# ---------------------------------------------------------------------------------------------------


@pytest.fixture
def mul():
    rng = np.random.default_rng(3)
    a, b, u = rng.standard_normal((5, 7)), rng.standard_normal((5, 7)), rng.standard_normal((5, 7))
    return a, b, u, {"grad_a": u * b, "grad_b": u * a}


def test_correct_gradients_pass_with_the_numerical_check(mul):
    a, b, u, want = mul
    got = {"grad_a": u * b, "grad_b": u * a}
    check_gradients(
        "Mul.backward",
        got,
        want,
        names=["a", "b"],
        f=lambda x: x[0] * x[1],
        inputs=[a, b],
        upstream=u,
        rng=np.random.default_rng(0),
    )


def test_the_design_example(mul):
    a, b, u, want = mul
    gb = u * a
    gb[3, 4] *= -1
    msg = _message(
        check_gradients,
        "Mul.backward",
        {"grad_a": u * b, "grad_b": gb},
        want,
        names=["a", "b"],
        ref_rtol=1e-5,
        atol=1e-9,
    )
    lines = msg.splitlines()
    assert lines[0] == "Mul.backward, gradient for input b: 1 of 35 elements wrong (row 3, column 4)"
    assert lines[1].startswith(f"  b.grad[3, 4]: expected {want['grad_b'][3, 4]:.6f}, got {gb[3, 4]:.6f}   (abs err")
    assert lines[1].endswith(f"tolerance {1e-5 * abs(want['grad_b'][3, 4]):.2g})")
    assert lines[2] == "  Hint: the sign is flipped here."


def test_rounding_differences_between_two_formulas_pass(mul):
    a, b, u, want = mul
    got = {"grad_a": (u * 3.0) * b / 3.0, "grad_b": (a * u * 7.0) / 7.0}  # same math, different rounding
    assert not np.array_equal(got["grad_a"], want["grad_a"]) or not np.array_equal(got["grad_b"], want["grad_b"])
    check_gradients("Mul.backward", got, want, names=["a", "b"])


def test_one_message_covers_every_failing_input(mul):
    a, b, u, want = mul
    got = {"grad_a": (u * b).T.copy(), "grad_b": u * a / 5}
    msg = _message(check_gradients, "Mul.backward", got, want, names=["a", "b"])
    assert "gradient for input a: a.grad has shape (7, 5), expected (5, 7): transposed?" in msg
    assert "gradient for input b: 35 of 35 elements wrong" in msg and "1/5 of the expected value" in msg


def test_missing_and_constant_gradients(mul):
    a, b, u, want = mul
    msg = _message(check_gradients, "Mul.backward", {"grad_b": u * a}, want, names=["a", "b"])
    assert "a.grad is None: backward never reached a" in msg
    const = {"grad_a": u * b, "grad_b": None}  # b is a constant in the reference
    msg = _message(check_gradients, "Mul.backward", {"grad_a": u * b, "grad_b": u * a}, const, names=["a", "b"])
    assert "b.grad should be None" in msg and "constants" in msg
    check_gradients("Mul.backward", {"grad_a": u * b, "grad_b": None}, const, names=["a", "b"])


@pytest.mark.parametrize("h", [1e-4, 1e-6, 1e-8])
def test_a_forward_difference_implementation_fails(mul, h):
    """A student who 'implements' backward with finite differences is not within the tight tolerance."""
    a, b, u, want = mul
    fd = np.zeros_like(a)
    for ix in np.ndindex(a.shape):
        ap = a.copy()
        ap[ix] += h
        fd[ix] = (np.sum(u * ap * b) - np.sum(u * a * b)) / h
    msg = _message(check_gradients, "Mul.backward", {"grad_a": fd, "grad_b": u * a}, want, names=["a", "b"])
    assert "gradient for input a" in msg and "elements wrong" in msg


def test_wrong_reference_is_a_grader_error_not_a_student_failure(mul):
    a, b, u, want = mul
    bad_ref = {"grad_a": 2 * u * b, "grad_b": u * a}
    with pytest.raises(ReferenceDisagrees) as info:
        check_gradients(
            "Mul.backward",
            dict(bad_ref),
            bad_ref,
            names=["a", "b"],
            f=lambda x: x[0] * x[1],
            inputs=[a, b],
            upstream=u,
            rng=np.random.default_rng(0),
        )
    assert not isinstance(info.value, AssertionError) and "course staff" in str(info.value)


def test_only_inputs_that_matched_the_reference_are_checked_numerically(mul):
    a, b, u, want = mul
    calls = []

    def f(x):
        calls.append(1)
        return x[0] * x[1]

    msg = _message(
        check_gradients,
        "Mul.backward",
        {"grad_a": u * b, "grad_b": -u * a},
        want,
        names=["a", "b"],
        f=f,
        inputs=[a, b],
        upstream=u,
        rng=np.random.default_rng(0),
    )
    assert "gradient for input b" in msg and "gradient for input a" not in msg
    assert 0 < len(calls) <= 8  # preflight + the screen for a only


def test_long_what_is_shortened_in_element_lines(want):
    msg = _message(check_array, "backward on graph g: w.grad", want * 2, want)
    assert msg.startswith("backward on graph g: w.grad: 15 of 15 elements wrong")
    assert "\n  w.grad[0, 0]: expected" in msg


def test_a_single_column_is_not_called_a_column_bug():
    want = np.random.default_rng(1).standard_normal((3, 1))
    msg = _message(check_array, "b.grad", want * 2, want)
    assert msg.splitlines()[0] == "b.grad: 3 of 3 elements wrong" and "only column" not in msg
