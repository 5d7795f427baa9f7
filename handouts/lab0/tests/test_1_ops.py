"""Tasks 1.1 to 1.4: each operation's local derivatives, one node at a time.

Each case builds out = <expression> on fresh Values, sets out.grad to a random number and calls
out._backward() once (not backward(): these tests need no traversal). a.grad (and b.grad) must equal
the reference's and the central differences of the forward pass, times out.grad.
"""

import pytest
from lab0_checks import nonzero, normal, op_case


@pytest.mark.rubric(task="1.1")
@pytest.mark.parametrize("expr", ["a + b", "a + k", "k + a", "a - b", "a - k", "k - a", "a + a"])
def test_add_sub(student, reference, rng, expr):
    op_case(student, reference, rng, expr, normal(rng), normal(rng) if "b" in expr else None, k=normal(rng))


@pytest.mark.rubric(task="1.1")
@pytest.mark.parametrize("expr", ["a + b", "a - b"])
def test_add_sub_accumulate(student, reference, rng, expr):
    op_case(student, reference, rng, expr, normal(rng), normal(rng), accumulate=True)


@pytest.mark.rubric(task="1.2")
@pytest.mark.parametrize("expr", ["a * b", "k * a", "a * a", "-a", "a / b", "k / a", "a / k"])
def test_mul_div(student, reference, rng, expr):
    op_case(student, reference, rng, expr, nonzero(rng), nonzero(rng) if "b" in expr else None, k=nonzero(rng))


@pytest.mark.rubric(task="1.2")
@pytest.mark.parametrize("expr", ["a * b", "a / b"])
def test_mul_div_accumulate(student, reference, rng, expr):
    op_case(student, reference, rng, expr, nonzero(rng), nonzero(rng), accumulate=True)


@pytest.mark.rubric(task="1.3")
@pytest.mark.parametrize("k", [2, 3, -1, 0.5, 1.5])
def test_pow(student, reference, rng, k):
    a = abs(nonzero(rng)) if k != int(k) else nonzero(rng)  # a negative base needs an integer exponent
    op_case(student, reference, rng, "a ** k", a, k=k)


@pytest.mark.rubric(task="1.4")
@pytest.mark.parametrize("expr", ["a.exp()", "a.tanh()", "a.relu()"])
def test_exp_tanh_relu(student, reference, rng, expr):
    op_case(student, reference, rng, expr, nonzero(rng))


@pytest.mark.rubric(task="1.4")
def test_relu_at_zero(student, reference, rng):
    op_case(
        student,
        reference,
        rng,
        "a.relu()",
        0.0,
        numeric=False,
        note="a = 0 is relu's kink: this library takes the derivative there to be 0",
    )
