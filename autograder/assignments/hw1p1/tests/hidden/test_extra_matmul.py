"""Task 4.1 (hidden, added from `make mutants`): MatMul with one constant operand.

Backward may skip the product for an input that needs no gradient (self.needs_input_grad), but it
must still return the gradient of the operand that does need one: checking the wrong flag returns
None (or garbage) for it.
"""

import numpy as np
import pytest
from hw1p1_checks import normal

from autograder.framework.compare import CheckFailed, check_array


@pytest.mark.rubric(task="4.1", weight=1)
@pytest.mark.parametrize(
    "shape_a, shape_b", [((3, 5), (5, 7)), ((5,), (2, 5, 3)), ((2, 3, 5), (5,))], ids=["3x5@5x7", "5@2x5x3", "2x3x5@5"]
)
@pytest.mark.parametrize("needs", [(True, False), (False, True)], ids=["b_constant", "a_constant"])
def test_matmul_with_a_constant_operand(student, reference, rng, shape_a, shape_b, needs):
    a, b = normal(rng, shape_a), normal(rng, shape_b)
    upstream = normal(rng, np.matmul(a, b).shape)
    call = dict(op="matmul", inputs=[a, b], upstream=upstream, requires_grad=list(needs))
    got = student.run("op_grad", **call)
    want = reference.run("op_grad", **call)
    if got.get("no_graph") or "backward_returned" in got:
        raise CheckFailed(
            f"MatMul with requires_grad={list(needs)}: backward returned {got.get('backward_returned', 'no graph')}"
        )
    for name, needed in zip("ab", needs):
        if needed:
            what = (
                f"MatMul.backward with only {name} requiring grad (needs_input_grad={list(needs)}): gradient for {name}"
            )
            if got[f"grad_{name}"] is None:
                raise CheckFailed(
                    f"{what} is None; only an input whose needs_input_grad is False may get None "
                    f"(check the flag of the right input)"
                )
            check_array(what, got[f"grad_{name}"], want[f"grad_{name}"])
