"""mytorch: a small numpy autograd library.

`nn`, `optim`, `train`, `ops` and `testing` are imported on first use (PEP 562), so a mistake in one
of them (a syntax error in optim/adam.py, say) only fails what depends on it. Given helpers for you:
`mytorch.draw(root)` pictures a graph, `mytorch.testing.gradcheck(fn, *inputs)` checks gradients.
"""

from __future__ import annotations

import importlib
from typing import Any

from .autograd_engine import Function, backward, is_grad_enabled, no_grad, topological_sort
from .draw import draw  # after this import `mytorch.draw` is the function, not its module
from .tensor import Tensor, log_softmax

__all__ = [
    "Function",
    "Tensor",
    "backward",
    "draw",
    "is_grad_enabled",
    "log_softmax",
    "nn",
    "no_grad",
    "ops",
    "optim",
    "testing",
    "topological_sort",
    "train",
]

_LAZY = ("nn", "optim", "train", "ops", "testing")


def __getattr__(name: str) -> Any:
    """Import a lazy submodule the first time it is used."""
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
