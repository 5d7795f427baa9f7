"""Copied verbatim from the grader."""
