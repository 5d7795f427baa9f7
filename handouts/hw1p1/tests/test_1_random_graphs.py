"""Tasks 1.1 and 1.2 on random graphs: any valid order is accepted, but it must be valid on every graph.

On failure the message shows the smallest failing graph found, as lines of code you can rebuild.
"""

import pytest
from graph_checks import check_random_graphs


@pytest.mark.rubric(task="1.1", weight=1)
def test_topological_sort_random_graphs(student, reference, rng):
    check_random_graphs(student, reference, rng, "sort", count=40)


@pytest.mark.rubric(task="1.2", weight=1)
def test_backward_random_graphs(student, reference, rng):
    check_random_graphs(student, reference, rng, "backward", count=40)
