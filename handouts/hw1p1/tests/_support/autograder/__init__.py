"""The grading framework modules the public tests import."""
