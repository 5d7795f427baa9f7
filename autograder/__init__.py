"""Sandboxed autograder for autograd homework; see docs/ARCHITECTURE.md."""

__version__ = "0.1.0"
