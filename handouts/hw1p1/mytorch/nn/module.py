"""Module, the base of every layer, and Sequential."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..tensor import Tensor


class Module:
    """A layer: holds parameters (Tensors with requires_grad) and sub-modules as attributes.

    Subclasses call `super().__init__()` first and define `forward`.
    """

    def __init__(self) -> None:
        self.training = True

    def forward(self, *args: Any) -> Tensor:
        """Compute the output; subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def __call__(self, *args: Any) -> Tensor:
        return self.forward(*args)

    def children(self) -> Iterator[Module]:
        """Direct sub-modules, in the order they were assigned (lists/tuples of modules included)."""
        for value in vars(self).values():
            if isinstance(value, Module):
                yield value
            elif isinstance(value, (list, tuple)):
                yield from (v for v in value if isinstance(v, Module))

    def parameters(self) -> list[Tensor]:
        """Every Tensor that requires grad held by this module or its sub-modules, each once, in order."""
        params: list[Tensor] = []
        seen: set[int] = set()
        for value in vars(self).values():
            for p in _parameters_in(value):
                if id(p) not in seen:  # a layer used twice has its parameters listed once
                    seen.add(id(p))
                    params.append(p)
        return params

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of all parameters: set `.grad` to None (the default, as PyTorch 2), or
        fill the existing arrays with zeros in place (set_to_none=False)."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0.0

    def train(self, mode: bool = True) -> Module:
        """Switch this module and its sub-modules to training mode (or eval mode when mode is False)."""
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """Switch to evaluation mode (BatchNorm uses its running statistics)."""
        return self.train(False)


class Sequential(Module):
    """Apply modules in order: Sequential(Linear(4, 8), ReLU(), Linear(8, 2))."""

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        self.layers = list(layers)

    def forward(self, x: Any) -> Tensor:
        """Feed x through every layer in turn."""
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)


def _parameters_in(value: Any) -> list[Tensor]:
    """The parameters inside one attribute value: a Module, a Tensor, or a list/tuple of those."""
    if isinstance(value, Module):
        return value.parameters()
    if isinstance(value, Tensor):
        return [value] if value.requires_grad else []
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in _parameters_in(v)]
    return []
