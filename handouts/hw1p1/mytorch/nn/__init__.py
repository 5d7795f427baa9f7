"""Layers and losses. Each name is imported from its module on first use (PEP 562), so a mistake in
one file (say batchnorm.py) only breaks the names defined there."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Module": "module",
    "Sequential": "module",
    "Linear": "linear",
    "ReLU": "activation",
    "Sigmoid": "activation",
    "Tanh": "activation",
    "MSELoss": "loss",
    "CrossEntropyLoss": "loss",
    "BatchNorm1d": "batchnorm",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    """Import `name` from the module that defines it (called only for names not yet set)."""
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
