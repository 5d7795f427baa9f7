"""Tensor: a float64 numpy array that remembers how it was computed.

Every operator method imports its op module inside the method body rather than at the top of this
file: a mistake in one ops file (even a syntax error) then breaks only the operators defined there,
and the rest of the library can still be used and graded.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .autograd_engine import Function


class Tensor:
    """An n-dimensional float64 array with optional gradient tracking.

    Attributes:
        data: the values, a float64 ndarray.
        requires_grad: whether backward computes a gradient for this tensor.
        grad: None until a backward reaches this leaf; then an ndarray shaped like `data`.
        grad_fn: the Function that produced this tensor, or None for a leaf.
    """

    # numpy defers to our reflected operators: ndarray + Tensor calls Tensor.__radd__
    __array_ufunc__ = None

    def __init__(self, data: Any, requires_grad: bool = False) -> None:
        if isinstance(data, Tensor):
            data = data.data
        self.data: np.ndarray = np.array(data, dtype=np.float64)  # a copy, as torch.tensor makes
        self.requires_grad: bool = bool(requires_grad)
        self.grad: np.ndarray | None = None
        self.grad_fn: Function | None = None

    @classmethod
    def _from_op(cls, data: Any, grad_fn: Function | None) -> Tensor:
        """Wrap an op's output without copying it (ops already return fresh float64 arrays)."""
        out = cls.__new__(cls)
        out.data = np.asarray(data, dtype=np.float64)  # numpy reductions return scalars: make them 0-d arrays
        out.requires_grad = grad_fn is not None
        out.grad = None
        out.grad_fn = grad_fn
        return out

    # ----- properties -----
    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of `data`."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """The number of dimensions of `data`."""
        return self.data.ndim

    @property
    def size(self) -> int:
        """The number of elements."""
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op (grad is only kept on leaves)."""
        return self.grad_fn is None

    @property
    def T(self) -> Tensor:
        """All axes reversed (the transpose for 2-D)."""
        return self.transpose()

    # ----- conversion -----
    def numpy(self) -> np.ndarray:
        """The data array (shares memory with the tensor)."""
        return self.data

    def item(self) -> float:
        """The value of a one-element tensor as a Python float."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return float(self.data.reshape(()))

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut off from the graph."""
        return Tensor._from_op(self.data, None)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        suffix = (
            f", grad_fn=<{type(self.grad_fn).__name__}>"
            if self.grad_fn is not None
            else (", requires_grad=True" if self.requires_grad else "")
        )
        return f"tensor({body}{suffix})"

    def __len__(self) -> int:
        return len(self.data)

    # ----- autograd -----
    def backward(self, grad: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad.

        Args:
            grad: dL/d(self), shaped like self. May be omitted only when self has one element.
        """
        from . import autograd_engine

        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require grad "
                "(no input had requires_grad=True, or it was computed under no_grad())"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient is only allowed for a one-element output; "
                    f"this output has shape {self.shape}: pass grad= of that shape"
                )
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=np.float64)
            if grad.shape != self.shape:
                raise ValueError(f"backward(grad): grad has shape {grad.shape} but the tensor has shape {self.shape}")
        autograd_engine.backward(self, grad)

    # ----- elementwise arithmetic (ops/elementwise.py) -----
    def __add__(self, other: Any) -> Tensor:
        from .ops.elementwise import Add

        return Add.apply(self, other)

    def __radd__(self, other: Any) -> Tensor:
        from .ops.elementwise import Add

        return Add.apply(other, self)

    def __sub__(self, other: Any) -> Tensor:
        from .ops.elementwise import Sub

        return Sub.apply(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        from .ops.elementwise import Sub

        return Sub.apply(other, self)

    def __neg__(self) -> Tensor:
        from .ops.elementwise import Neg

        return Neg.apply(self)

    def __mul__(self, other: Any) -> Tensor:
        from .ops.elementwise import Mul

        return Mul.apply(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        from .ops.elementwise import Mul

        return Mul.apply(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        from .ops.elementwise import Div

        return Div.apply(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        from .ops.elementwise import Div

        return Div.apply(other, self)

    def __pow__(self, exponent: Any) -> Tensor:
        from .ops.elementwise import Pow

        if isinstance(exponent, Tensor) or np.ndim(exponent) != 0:
            raise TypeError("only a scalar exponent is supported: x ** 2, x ** 0.5")
        return Pow.apply(self, exponent=float(exponent))

    def exp(self) -> Tensor:
        """e ** self, elementwise."""
        from .ops.elementwise import Exp

        return Exp.apply(self)

    def log(self) -> Tensor:
        """Natural logarithm, elementwise."""
        from .ops.elementwise import Log

        return Log.apply(self)

    # ----- matrix product (ops/matmul.py) -----
    def __matmul__(self, other: Any) -> Tensor:
        from .ops.matmul import MatMul

        return MatMul.apply(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        from .ops.matmul import MatMul

        return MatMul.apply(other, self)

    # ----- reductions (ops/reduce.py) -----
    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Sum over `axis` (all axes when None)."""
        from .ops.reduce import Sum

        return Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Mean over `axis` (all axes when None)."""
        from .ops.reduce import Mean

        return Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Maximum over `axis` (all axes when None); ties share the gradient equally."""
        from .ops.reduce import Max

        return Max.apply(self, axis=axis, keepdims=keepdims)

    # ----- shape (ops/shape.py) -----
    def reshape(self, *shape: Any) -> Tensor:
        """Same data, new shape: x.reshape(3, 5) or x.reshape((3, 5)); one -1 allowed."""
        from .ops.shape import Reshape

        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return Reshape.apply(self, shape=tuple(int(s) for s in shape))

    def transpose(self, *axes: Any) -> Tensor:
        """Permute axes: x.transpose(1, 0, 2) or x.transpose((1, 0, 2)); no argument reverses them."""
        from .ops.shape import Transpose

        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return Transpose.apply(self, axes=tuple(int(a) for a in axes) if axes else None)

    def __getitem__(self, index: Any) -> Tensor:
        from .ops.shape import GetItem

        return GetItem.apply(self, index=index)

    # ----- activations (ops/activation.py) -----
    def relu(self) -> Tensor:
        """max(x, 0), elementwise."""
        from .ops.activation import ReLU

        return ReLU.apply(self)

    def sigmoid(self) -> Tensor:
        """1 / (1 + e^-x), elementwise."""
        from .ops.activation import Sigmoid

        return Sigmoid.apply(self)

    def tanh(self) -> Tensor:
        """Hyperbolic tangent, elementwise."""
        from .ops.activation import Tanh

        return Tanh.apply(self)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """log(softmax(x)) along `axis`, computed stably (shifted by the maximum)."""
    from .ops.softmax import LogSoftmax

    return LogSoftmax.apply(x, axis=axis)
