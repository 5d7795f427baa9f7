"""Issue 9 section 1: wrong traversal orders that pass hand-made graphs lose points on random ones.

Each bug of tests/bugs/traversal.py replaces the reference's topological_sort (task 1.1; the
reference's backward walks that order, so 1.2 suffers too). Graded against the random-graph tests only;
the random-graph tests must fail in both tasks with a message that shows a small failing graph as
code (`x = leaf`, one line per node, the call that went wrong) and names the offending pair of nodes.
That the reference passes the same files is checked by test_bug_catalog.py (it keeps every test_1 file).
"""

from __future__ import annotations

import re

import pytest

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from bugs.catalog import Patch, fence_body, grade_patched
from bugs.traversal import TRAVERSAL_BUGS

SLOT = 33  # this file's sandbox slot (a worker uid of its own)
KEEP = ("test_1_random",)  # the random-graph test files, public and hidden
TOPO_BODY = fence_body(ASSIGNMENT, "autograd_engine.py", "# BEGIN SOLUTION Task 1.1")
MAX_SHOWN_NODES = 6  # the shrunk graph must be small enough to rebuild by hand


@pytest.mark.parametrize("name", sorted(TRAVERSAL_BUGS))
def test_traversal_bug_loses_points_with_a_small_graph(tmp_path, name: str):
    patch = Patch("autograd_engine.py", TOPO_BODY, TRAVERSAL_BUGS[name])
    outcome = grade_patched(ASSIGNMENT, (patch,), KEEP, tmp_path, SLOT)
    assert not outcome.grader_failed and not outcome.internal_errors, outcome.internal_errors
    assert outcome.tasks["1.1"] < ASSIGNMENT.task("1.1").points
    assert outcome.tasks["1.2"] < ASSIGNMENT.task("1.2").points
    failing = {t.nodeid: t.message for t in outcome.tests if not t.passed and "random_graphs" in t.nodeid}
    for test in ("test_topological_sort_random_graphs", "test_backward_random_graphs"):
        messages = [m for nodeid, m in failing.items() if test in nodeid]
        assert messages, f"{name}: {test} passed"
        for message in messages:
            match = re.search(r"smallest failing graph found \((\d+) op node", message)
            assert match and int(match.group(1)) <= MAX_SHOWN_NODES, message
            assert " = leaf (requires_grad=True)" in message, message  # rebuildable: leaves, then nodes
            assert re.search(r"\n    y = ", message), message  # the root, named y
            assert re.search(r"topological_sort\(y\)|y\.backward\(", message), message
