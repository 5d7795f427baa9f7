"""Assignments graded by this framework, one subpackage each."""
