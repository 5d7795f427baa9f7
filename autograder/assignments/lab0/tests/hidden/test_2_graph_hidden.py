"""Tasks 2.1 and 2.2 (hidden): more and larger random graphs, several roots, repeated backward, and
backward on a chain deeper than Python's recursion limit (with topological_order given)."""

import pytest
from lab0_graphs import chain_order_problem, check_random_graphs

from autograder.framework.compare import CheckFailed, check_close, run_with_hint


@pytest.mark.rubric(task="2.1", weight=4)
def test_topological_order_random_graphs(student, reference, rng):
    check_random_graphs(student, reference, rng, "sort", count=60, sizes=(1, 60))


@pytest.mark.rubric(task="2.1", weight=1)
@pytest.mark.deadline(10)
def test_topological_order_deep_chain(student, reference, rng):
    # small weight: only a recursive search fails here (Python's recursion limit is about 1,000 frames)
    n = 4_000
    got = run_with_hint(
        student, "chain", f"a chain {n} nodes deep", n=n, x=float(rng.uniform(0.5, 1.5)), c=1.0, mode="sort"
    )
    problem = chain_order_problem(got["order"], n)
    if problem:
        raise CheckFailed(f"on a chain y_k = y_(k-1) * c of {n} nodes: {problem}")


@pytest.mark.rubric(task="2.2", weight=4)
def test_backward_random_graphs(student, reference, rng):
    check_random_graphs(student, reference, rng, "backward", count=60, sizes=(1, 60))


@pytest.mark.rubric(task="2.2", weight=2)
def test_backward_three_times(student, reference, rng):
    check_random_graphs(student, reference, rng, "backward", count=15, sizes=(1, 20), repeat=3)


@pytest.mark.rubric(task="2.2", weight=1)
@pytest.mark.deadline(10)
def test_backward_deep_chain(student, reference, rng):
    # small weight: topological_order is given here, so only a backward that recurses itself fails
    n = 4_000
    call = dict(n=n, x=float(rng.uniform(0.5, 1.5)), c=float(1.0 + rng.uniform(-1e-4, 1e-4)), mode="backward")
    got = run_with_hint(student, "chain", f"a chain {n} nodes deep", **call)
    want = reference.run("chain", **call)
    for name in ("grad_x", "grad_c"):
        check_close(
            f"backward() on a chain y_k = y_(k-1) * c of {n} nodes: {name[5:]}.grad", got[name], want[name], rtol=1e-9
        )
