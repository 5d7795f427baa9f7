"""Optimizers. Each is imported from its module on first use (PEP 562), so a mistake in adam.py does
not stop SGD from working."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {"Optimizer": "optimizer", "SGD": "sgd", "Adam": "adam"}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    """Import `name` from the module that defines it (called only for names not yet set)."""
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
