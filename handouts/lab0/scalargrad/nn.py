"""A tiny neural-network library on Values: a Neuron, a Layer of neurons, an MLP of layers.

Parameters are listed in a fixed order, which the tests rely on to load and read them:
a Neuron's weights w[0], ..., w[n_in - 1], then its bias; a Layer's neurons in order; an MLP's layers
in order.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from .value import Number, Value

ACTIVATIONS = ("tanh", "relu", "linear")


class Module:
    """Anything with parameters."""

    def parameters(self) -> list[Value]:
        """The Values training adjusts, in the fixed order above (none here)."""
        return []

    def zero_grad(self) -> None:
        """Set the grad of every parameter to 0.0, before the next backward() adds to it."""
        raise NotImplementedError("Task 3.1: zero_grad")


class Neuron(Module):
    """One unit: activation(w . x + b).

    Args:
        n_in: number of inputs.
        activation: "tanh", "relu" or "linear" (no activation: the output layer of a regressor).
        rng: random.Random for the initial weights, uniform in [-1, 1]; the bias starts at 0.
    """

    def __init__(self, n_in: int, activation: str = "tanh", rng: random.Random | None = None) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, not {activation!r}")
        rng = rng or random.Random(0)
        self.w = [Value(rng.uniform(-1.0, 1.0)) for _ in range(n_in)]
        self.b = Value(0.0)
        self.activation = activation

    def __call__(self, x: Sequence[Value | Number]) -> Value:
        """activation(w[0]*x[0] + ... + w[n-1]*x[n-1] + b) for n_in inputs (Values or numbers).

        Build it from Value operations only (+, *, .tanh(), .relu()), so that backward() reaches
        every weight and the bias.
        """
        raise NotImplementedError("Task 3.1: Neuron.__call__ (weighted sum, bias, activation)")

    def parameters(self) -> list[Value]:
        """w[0], ..., w[n_in - 1], b."""
        return [*self.w, self.b]

    def __repr__(self) -> str:
        return f"Neuron({len(self.w)}, {self.activation!r})"


class Layer(Module):
    """n_out neurons reading the same n_in inputs."""

    def __init__(self, n_in: int, n_out: int, activation: str = "tanh", rng: random.Random | None = None) -> None:
        rng = rng or random.Random(0)
        self.neurons = [Neuron(n_in, activation, rng) for _ in range(n_out)]

    def __call__(self, x: Sequence[Value | Number]) -> list[Value]:
        """The n_out neurons' outputs, in order."""
        return [n(x) for n in self.neurons]

    def parameters(self) -> list[Value]:
        """The neurons' parameters, neuron after neuron."""
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer([{', '.join(map(repr, self.neurons))}])"


class MLP(Module):
    """Layers of sizes[0] -> sizes[1] -> ... -> sizes[-1]; tanh between layers, the last one linear.

    Args:
        sizes: [n_in, hidden..., n_out], e.g. [2, 8, 1].
        seed: seeds the initial weights (the same seed gives the same network).
    """

    def __init__(self, sizes: Sequence[int], seed: int = 0, activation: str = "tanh") -> None:
        rng = random.Random(seed)
        last = len(sizes) - 2
        self.layers = [
            Layer(sizes[i], sizes[i + 1], "linear" if i == last else activation, rng) for i in range(len(sizes) - 1)
        ]

    def __call__(self, x: Sequence[Value | Number]) -> Value | list[Value]:
        """The network's output for one input point x (n_in numbers): a Value when n_out == 1, else a list."""
        out: list = list(x)
        for layer in self.layers:
            out = layer(out)
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        """The layers' parameters, layer after layer."""
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP([{', '.join(map(repr, self.layers))}])"
