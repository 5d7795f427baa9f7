"""Tasks 1.1 to 1.4 (hidden): the whole range a student's operations meet: zeros, constants on both
sides, a node used twice, negative bases, small divisors, saturated tanh, relu's kink, accumulation."""

import pytest
from lab0_checks import nonzero, normal, op_case

# ----- 1.1 + and -


@pytest.mark.rubric(task="1.1")
@pytest.mark.parametrize("expr", ["a + b", "a - b", "k - a", "a - k", "k + a", "a - a", "a + a"])
def test_add_sub(student, reference, rng, expr):
    op_case(
        student, reference, rng, expr, normal(rng, 3.0), normal(rng, 3.0) if "b" in expr else None, k=normal(rng, 3.0)
    )


@pytest.mark.rubric(task="1.1")
@pytest.mark.parametrize("expr", ["a + b", "a - b"])
def test_add_sub_at_zero(student, reference, rng, expr):
    op_case(student, reference, rng, expr, 0.0, 0.0)


@pytest.mark.rubric(task="1.1")
@pytest.mark.parametrize("expr", ["a + b", "a - b", "a + a", "k - a"])
def test_add_sub_accumulate(student, reference, rng, expr):
    op_case(
        student, reference, rng, expr, normal(rng), normal(rng) if "b" in expr else None, k=normal(rng), accumulate=True
    )


# ----- 1.2 * and /


@pytest.mark.rubric(task="1.2")
@pytest.mark.parametrize("expr", ["a * b", "a * k", "k * a", "a * a", "-a", "a / b", "a / k", "k / a", "a / a"])
def test_mul_div(student, reference, rng, expr):
    op_case(
        student,
        reference,
        rng,
        expr,
        nonzero(rng, 0.2, 5.0),
        nonzero(rng, 0.2, 5.0) if "b" in expr else None,
        k=nonzero(rng, 0.2, 5.0),
    )


@pytest.mark.rubric(task="1.2")
def test_mul_with_zero(student, reference, rng):
    op_case(student, reference, rng, "a * b", 0.0, normal(rng))


@pytest.mark.rubric(task="1.2")
@pytest.mark.parametrize("expr", ["a / b", "k / a"])
def test_div_by_small_numbers(student, reference, rng, expr):
    # the derivatives grow like 1/b**2 (about 1e6 here), too curved for finite differences: the reference decides
    small, note = nonzero(rng, 1e-3, 2e-3), "a divisor near 0: compared with the reference only"
    if expr == "a / b":
        op_case(student, reference, rng, expr, nonzero(rng), small, numeric=False, note=note)
    else:
        op_case(student, reference, rng, expr, small, k=nonzero(rng), numeric=False, note=note)


@pytest.mark.rubric(task="1.2")
@pytest.mark.parametrize("expr", ["a * b", "a / b", "a * a", "-a"])
def test_mul_div_accumulate(student, reference, rng, expr):
    op_case(student, reference, rng, expr, nonzero(rng), nonzero(rng) if "b" in expr else None, accumulate=True)


# ----- 1.3 **


@pytest.mark.rubric(task="1.3")
@pytest.mark.parametrize("k", [2, 3, 4, -1, -2, 1, 0])
def test_pow_negative_base(student, reference, rng, k):
    op_case(student, reference, rng, "a ** k", -abs(nonzero(rng, 0.3, 2.0)), k=k)


@pytest.mark.rubric(task="1.3")
@pytest.mark.parametrize("k", [0.5, 1.5, -0.5, 2.5, 1.0])
def test_pow_fractional(student, reference, rng, k):
    op_case(student, reference, rng, "a ** k", float(rng.uniform(0.2, 3.0)), k=k)


@pytest.mark.rubric(task="1.3")
@pytest.mark.parametrize("k", [1, 2, 3])
def test_pow_at_zero(student, reference, rng, k):
    op_case(student, reference, rng, "a ** k", 0.0, k=k)


@pytest.mark.rubric(task="1.3")
def test_pow_accumulate(student, reference, rng):
    op_case(student, reference, rng, "a ** k", nonzero(rng), k=3, accumulate=True)


# ----- 1.4 exp, tanh, relu


@pytest.mark.rubric(task="1.4")
@pytest.mark.parametrize("expr", ["a.exp()", "a.tanh()", "a.relu()"])
def test_functions(student, reference, rng, expr):
    op_case(student, reference, rng, expr, nonzero(rng, 0.1, 3.0))


@pytest.mark.rubric(task="1.4")
@pytest.mark.parametrize("a", [-8.0, 0.0, 5.0], ids=["negative", "zero", "positive"])
def test_exp_range(student, reference, rng, a):
    op_case(student, reference, rng, "a.exp()", a + 0.1 * rng.random())


@pytest.mark.rubric(task="1.4")
@pytest.mark.parametrize("sign", [-1.0, 1.0], ids=["negative", "positive"])
def test_tanh_saturated(student, reference, rng, sign):
    # tanh(20) is 1.0 in floating point: the derivative 1 - t**2 is exactly 0 there
    op_case(
        student,
        reference,
        rng,
        "a.tanh()",
        sign * float(rng.uniform(15.0, 30.0)),
        numeric=False,
        note="saturated tanh: compared with the reference only",
    )


@pytest.mark.rubric(task="1.4")
def test_tanh_at_zero(student, reference, rng):
    op_case(student, reference, rng, "a.tanh()", 0.0)


@pytest.mark.rubric(task="1.4")
@pytest.mark.parametrize("a", [0.0, -0.0], ids=["zero", "negative_zero"])
def test_relu_at_zero(student, reference, rng, a):
    op_case(
        student,
        reference,
        rng,
        "a.relu()",
        a,
        numeric=False,
        note="a = 0 is relu's kink: this library takes the derivative there to be 0",
    )


@pytest.mark.rubric(task="1.4")
@pytest.mark.parametrize("expr", ["a.exp()", "a.tanh()", "a.relu()"])
def test_functions_accumulate(student, reference, rng, expr):
    op_case(student, reference, rng, expr, abs(nonzero(rng)), accumulate=True)
