"""scalargrad: automatic differentiation on single numbers, and a tiny neural network built on it.

from scalargrad import Value
a, b, c = Value(3.0), Value(-2.0), Value(5.0)
y = a * b + c          # y.data == -1.0
y.backward()           # a.grad == -2.0, b.grad == 3.0, c.grad == 1.0
"""

from .nn import MLP, Layer, Module, Neuron
from .train import fit, mse_loss, train_step
from .value import Value

__all__ = ["Value", "Module", "Neuron", "Layer", "MLP", "mse_loss", "train_step", "fit"]
