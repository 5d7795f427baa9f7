"""Likely causes attached to the exceptions students' code raises most often: hw1p1's catalogue
(Assignment.likely_causes) first, then the framework's generic Python causes."""

import numpy as np
import pytest

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.framework import errors


def likely_cause(kind: str, message: str) -> str | None:
    """The cause hw1p1's students are shown."""
    return errors.likely_cause(kind, message, ASSIGNMENT.likely_causes)


def numpy_message(fn) -> tuple[str, str]:
    """(type name, message) of what numpy really raises for `fn`, so the patterns track numpy's wording."""
    with pytest.raises(Exception) as info:
        fn()
    return type(info.value).__name__, str(info.value)


def test_broadcast_error_points_at_unbroadcast_or_keepdims():
    kind, msg = numpy_message(lambda: np.broadcast_to(np.ones(3), (2, 3, 5)))
    assert "un-broadcast" in likely_cause(kind, msg)


def test_in_place_update_with_a_wrongly_shaped_gradient_points_at_unbroadcast():
    def update():
        p = np.ones(3)
        p -= 0.1 * np.ones((4, 3))  # an optimizer step with a bias gradient of shape (N, out)

    kind, msg = numpy_message(update)
    assert "un-broadcast" in likely_cause(kind, msg)


def test_matmul_shape_error_points_at_a_transpose():
    kind, msg = numpy_message(lambda: np.ones((3, 5)) @ np.ones((3, 5)))
    assert "transpose" in likely_cause(kind, msg)


def test_none_gradient_points_at_a_missing_return():
    kind, msg = numpy_message(lambda: np.ones(3) * None + 1)  # ndarray * None -> object array; None + 1 fails
    assert kind == "TypeError" and "forgot to `return`" in likely_cause(kind, msg)


def test_recursion_error_points_at_an_explicit_stack():
    assert "explicit stack" in likely_cause("RecursionError", "maximum recursion depth exceeded")


def test_ndarray_used_as_tensor():
    kind, msg = numpy_message(lambda: np.ones(2).grad_fn)
    assert "plain ndarray" in likely_cause(kind, msg)


def test_unknown_errors_get_no_guess():
    assert likely_cause("KeyError", "'w'") is None
    assert likely_cause("ValueError", "something else entirely") is None


def test_the_framework_alone_knows_only_generic_python_causes():
    """Without an assignment's catalogue nothing autograd-specific is guessed; recursion still is."""
    kind, msg = numpy_message(lambda: np.broadcast_to(np.ones(3), (2, 3, 5)))
    assert errors.likely_cause(kind, msg) is None
    generic = errors.likely_cause("RecursionError", "maximum recursion depth exceeded")
    assert "explicit stack" in generic and "graph" not in generic
    assert errors.with_likely_cause("boom", "KeyError", "'w'") == "boom"
