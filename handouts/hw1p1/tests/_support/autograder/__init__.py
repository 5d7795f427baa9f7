"""The grading framework modules the handout needs."""
