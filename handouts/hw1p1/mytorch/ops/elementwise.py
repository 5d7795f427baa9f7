"""Elementwise ops with numpy broadcasting: Add, Sub, Neg, Mul, Div, Pow, Exp, Log."""

from __future__ import annotations

import numpy as np

from ..autograd_engine import Function
from .broadcast import unbroadcast


class Add(Function):
    """a + b, broadcasting."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(*a_shape), (*b_shape) -> (*out_shape), the broadcast shape."""
        self.shapes = (a.shape, b.shape)  # backward needs only the shapes
        return a + b

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradients of a + b for both inputs.

        Hint: table 6.1 of the writeup; un-broadcast each gradient (task 2.1).

        Args:
            grad_output: (*out_shape) gradient of the loss w.r.t. the output.
        Returns:
            (grad_a, grad_b) shaped like a and b. self.shapes = (a.shape, b.shape).
        """
        raise NotImplementedError("Task 2.2: Add.backward")


class Sub(Function):
    """a - b, broadcasting."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(*a_shape), (*b_shape) -> (*out_shape), the broadcast shape."""
        self.shapes = (a.shape, b.shape)
        return a - b

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradients of a - b for both inputs.

        Hint: table 6.1 of the writeup; un-broadcast each gradient (task 2.1).

        Args:
            grad_output: (*out_shape) gradient of the loss w.r.t. the output.
        Returns:
            (grad_a, grad_b) shaped like a and b. self.shapes = (a.shape, b.shape).
        """
        raise NotImplementedError("Task 2.2: Sub.backward")


class Neg(Function):
    """-a."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        """(*shape) -> (*shape)."""
        return -a

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray]:
        """Gradient of -a.

        Hint: table 6.1 of the writeup.

        Args:
            grad_output: (*shape) gradient of the loss w.r.t. the output.
        Returns:
            (grad_a,) shaped like a (a one-element tuple: one entry per input).
        """
        raise NotImplementedError("Task 2.2: Neg.backward")


class Mul(Function):
    """a * b, broadcasting."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(*a_shape), (*b_shape) -> (*out_shape), the broadcast shape."""
        self.save_for_backward(a, b)
        return a * b

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradients of a * b for both inputs.

        Hint: table 6.1 of the writeup; un-broadcast each gradient (task 2.1).

        Args:
            grad_output: (*out_shape) gradient of the loss w.r.t. the output.
        Returns:
            (grad_a, grad_b) shaped like a and b. self.saved = (a, b).
        """
        raise NotImplementedError("Task 2.3: Mul.backward")


class Div(Function):
    """a / b, broadcasting."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(*a_shape), (*b_shape) -> (*out_shape), the broadcast shape."""
        self.save_for_backward(a, b)
        return a / b

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradients of a / b for both inputs.

        Hint: table 6.1 of the writeup (mind the sign); un-broadcast each gradient (task 2.1).

        Args:
            grad_output: (*out_shape) gradient of the loss w.r.t. the output.
        Returns:
            (grad_a, grad_b) shaped like a and b. self.saved = (a, b).
        """
        raise NotImplementedError("Task 2.3: Div.backward")


class Pow(Function):
    """a ** p for a scalar exponent p (keyword `exponent`)."""

    def forward(self, a: np.ndarray, *, exponent: float) -> np.ndarray:
        """(*shape) -> (*shape)."""
        self.save_for_backward(a)
        self.exponent = exponent
        return a**exponent

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray]:
        """Gradient of a ** p for a number p; for p == 0 it is 0 everywhere, also at a == 0 (as PyTorch).

        Hint: table 6.1 of the writeup.

        Args:
            grad_output: (*shape) gradient of the loss w.r.t. the output.
        Returns:
            (grad_a,) shaped like a (a one-element tuple: one entry per input).
            self.saved = (a,); the exponent p is self.exponent.
        """
        raise NotImplementedError("Task 2.4: Pow.backward")


class Exp(Function):
    """e ** a."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        """(*shape) -> (*shape)."""
        out = np.exp(a)
        self.save_for_backward(out)  # the derivative is the output itself
        return out

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray]:
        """Gradient of e ** a.

        Hint: table 6.1 of the writeup; the forward saved its output.

        Args:
            grad_output: (*shape) gradient of the loss w.r.t. the output.
        Returns:
            (grad_a,) shaped like a (a one-element tuple: one entry per input).
            self.saved = (out,), the forward's output.
        """
        raise NotImplementedError("Task 2.4: Exp.backward")


class Log(Function):
    """Natural logarithm of a."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        """(*shape) -> (*shape)."""
        self.save_for_backward(a)
        return np.log(a)

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray]:
        """Gradient of the natural logarithm of a.

        Hint: table 6.1 of the writeup.

        Args:
            grad_output: (*shape) gradient of the loss w.r.t. the output.
        Returns:
            (grad_a,) shaped like a (a one-element tuple: one entry per input).
            self.saved = (a,).
        """
        raise NotImplementedError("Task 2.4: Log.backward")
