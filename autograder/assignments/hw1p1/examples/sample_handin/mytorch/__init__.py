"""mytorch: a small numpy autograd library.

`nn`, `optim`, `train` and `ops` are imported on first use (PEP 562), so a mistake in one of them
(a syntax error in optim/adam.py, say) only fails what depends on it.
"""

from __future__ import annotations

import importlib
from typing import Any

from .autograd_engine import Function, backward, is_grad_enabled, no_grad, topological_sort
from .tensor import Tensor, log_softmax

__all__ = ["Function", "Tensor", "backward", "is_grad_enabled", "log_softmax", "nn", "no_grad", "ops",
           "optim", "topological_sort", "train"]

_LAZY = ("nn", "optim", "train", "ops")


def __getattr__(name: str) -> Any:
    """Import a lazy submodule the first time it is used."""
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
