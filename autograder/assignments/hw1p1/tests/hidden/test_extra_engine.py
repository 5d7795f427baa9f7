"""Task 1.2 (hidden, added from the bug catalog): backward() with no gradient seeds ones SHAPED LIKE the
output, which only shows when nothing downstream re-broadcasts a scalar seed (a leaf root, a transpose)."""

import pytest
from hw1p1_checks import check_graph_grads, normal

SEED_HINT = "backward() without a gradient on a one-element {what} (seed: np.ones_like(root.data), not the scalar 1)"


@pytest.mark.rubric(task="1.2", weight=1)
@pytest.mark.parametrize(
    "what, shape, nodes",
    [
        pytest.param("leaf", (1,), [], id="leaf(1,)"),
        pytest.param("transpose", (1, 1), [["t", "T", ["x"], {}]], id="transpose(1,1)"),
    ],
)
def test_backward_seed_has_the_output_shape(student, reference, rng, what, shape, nodes):
    graph = {"leaves": {"x": normal(rng, shape)}, "nodes": nodes, "root": nodes[-1][0] if nodes else "x"}
    got = student.run("graph_backward", graph=graph, upstream=None)
    want = reference.run("graph_backward", graph=graph, upstream=None)
    check_graph_grads(SEED_HINT.format(what=what), got["grads"], want["grads"], graph)
