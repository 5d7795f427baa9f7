"""The `Value` class: one number, the gradient of a final result with respect to it, and how it was made.

Every arithmetic operation on Values builds a new Value (a node of the computation graph) that
remembers its operands (`children`) and a `_backward` closure. After the forward pass, `backward()`
on the final node visits every node once, in reverse topological order, and each node's `_backward`
passes its own gradient on to its children through the chain rule (writeup sections 2 and 3).
"""

from __future__ import annotations

import math
from collections.abc import Callable

Number = int | float


def _nothing() -> None:
    """The `_backward` of a leaf: a leaf has no children to pass a gradient to."""


class Value:
    """A scalar node of a computation graph.

    Attributes:
        data: float, the number this node holds (computed by the forward pass).
        grad: float, d(root)/d(self) after `root.backward()`; starts at 0.0. Leaves accumulate it
            over calls of backward (reset them with zero_grad); intermediate nodes start from 0.0
            at every call.
        children: tuple of the Values this node was computed from, in operand order (empty for a
            leaf). A Value used twice, as in `a * a`, appears twice.
        op: str, a label of the operation that made this node ("+", "*", "tanh", ...; "" for a leaf).
        _backward: a function of no arguments that adds this node's contribution to the `grad` of
            each child: child.grad += (d self / d child) * self.grad. Given for leaves (does nothing);
            each operation below sets its own.
    """

    def __init__(self, data: Number, children: tuple[Value, ...] = (), op: str = "") -> None:
        self.data = float(data)
        self.grad = 0.0
        self.children = tuple(children)
        self.op = op
        self._backward: Callable[[], None] = _nothing

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g}{', op=' + repr(self.op) if self.op else ''})"

    # ------------------------------------------------------------------ arithmetic (tasks 1.1 to 1.3)

    def __add__(self, other: Value | Number) -> Value:
        """self + other; a plain number is wrapped in a leaf Value first."""
        other = _as_value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward() -> None:
            """d(out)/d(self) = 1 and d(out)/d(other) = 1: each child receives out.grad."""
            raise NotImplementedError("Task 1.1: the local derivatives of +")

        out._backward = _backward
        return out

    def __sub__(self, other: Value | Number) -> Value:
        """self - other."""
        other = _as_value(other)
        out = Value(self.data - other.data, (self, other), "-")

        def _backward() -> None:
            """d(out)/d(self) = 1 and d(out)/d(other) = -1."""
            raise NotImplementedError("Task 1.1: the local derivatives of -")

        out._backward = _backward
        return out

    def __mul__(self, other: Value | Number) -> Value:
        """self * other."""
        other = _as_value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            """Each factor's derivative is the other factor (read both from .data, not from out)."""
            raise NotImplementedError("Task 1.2: the local derivatives of *")

        out._backward = _backward
        return out

    def __truediv__(self, other: Value | Number) -> Value:
        """self / other (other must not be 0)."""
        other = _as_value(other)
        out = Value(self.data / other.data, (self, other), "/")

        def _backward() -> None:
            """d(a/b)/da = 1/b and d(a/b)/db = -a/b**2."""
            raise NotImplementedError("Task 1.2: the local derivatives of /")

        out._backward = _backward
        return out

    def __pow__(self, exponent: Number) -> Value:
        """self ** exponent, for a plain number `exponent` (not a Value: it gets no gradient).

        A negative base needs an integer exponent, as with Python floats.
        """
        if isinstance(exponent, Value) or not isinstance(exponent, (int, float)):
            raise TypeError(f"the exponent must be an int or a float, not {type(exponent).__name__}")
        out = Value(self.data**exponent, (self,), f"**{exponent:g}")

        def _backward() -> None:
            """d(x**n)/dx = n * x**(n - 1)."""
            raise NotImplementedError("Task 1.3: the local derivative of ** (a number exponent)")

        out._backward = _backward
        return out

    # Reflected and unary forms: each builds one node with the operations above, so they need no
    # `_backward` of their own. `2 - a` is Value(2) - a: its node's children are (Value(2), a).
    def __radd__(self, other: Number) -> Value:
        """other + self, when `other` is a plain number (e.g. sum() starts from 0)."""
        return _as_value(other) + self

    def __rsub__(self, other: Number) -> Value:
        """other - self."""
        return _as_value(other) - self

    def __rmul__(self, other: Number) -> Value:
        """other * self."""
        return _as_value(other) * self

    def __rtruediv__(self, other: Number) -> Value:
        """other / self."""
        return _as_value(other) / self

    def __neg__(self) -> Value:
        """-self, as self * -1 (one * node: its derivative is task 1.2's)."""
        return self * -1.0

    # ------------------------------------------------------------------ functions (task 1.4)

    def exp(self) -> Value:
        """e ** self."""
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward() -> None:
            """exp is its own derivative, and out.data already holds it."""
            raise NotImplementedError("Task 1.4: the local derivative of exp")

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        """The hyperbolic tangent of self, in (-1, 1)."""
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward() -> None:
            """d tanh(x)/dx = 1 - tanh(x)**2: from the output t = out.data, not from the input x."""
            raise NotImplementedError("Task 1.4: the local derivative of tanh")

        out._backward = _backward
        return out

    def relu(self) -> Value:
        """max(0, self)."""
        out = Value(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward() -> None:
            """1 where the input is positive, 0 where it is negative; at exactly 0 this library uses 0."""
            raise NotImplementedError("Task 1.4: the local derivative of relu")

        out._backward = _backward
        return out

    # ------------------------------------------------------------------ the graph (tasks 2.1, 2.2)

    def topological_order(self) -> list[Value]:
        """Every node this one was computed from, itself included, each exactly once, every node
        after all of its children (so `self` comes last).

        Depth-first search: a node is appended when all of its children are finished. Identity,
        not value, makes a node "seen" (two nodes may hold equal numbers; Value has no __eq__).
        Recursion is a fine first version (writeup section 4.2). Graphs can be thousands of nodes
        deep, though (a training loop's loss; one small-weight test uses a 3,000-node chain), deeper
        than Python's recursion limit (section 4.3): an explicit stack (section 4.4) handles any depth.

        Returns:
            list of Values, children before parents, `self` last.
        """
        raise NotImplementedError("Task 2.1: topological_order (depth-first search)")

    def backward(self) -> None:
        """Fill `grad` of every node this one was computed from with d(self)/d(node).

        1. Take `self.topological_order()` (call it: the tests of task 2.2 give you a correct one).
        2. Every intermediate node (one with children) starts from grad 0.0; leaves keep theirs,
           so that a second backward() adds to them.
        3. Seed: d(self)/d(self) = 1, added to self.grad.
        4. Call each node's `_backward()` once, in reverse order (`self` first), so that a node
           passes its gradient on only after every node computed from it has contributed.
        """
        raise NotImplementedError("Task 2.2: backward (reset intermediates, seed 1.0, reverse order)")


def _as_value(x: Value | Number) -> Value:
    """x itself if it is a Value, else a new leaf holding the number."""
    if isinstance(x, Value):
        return x
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return Value(x)
    raise TypeError(f"cannot combine a Value with {type(x).__name__}")
