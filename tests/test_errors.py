"""Likely causes attached to the exceptions students' code raises most often."""

import numpy as np
import pytest

from autograder.framework.errors import likely_cause


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
