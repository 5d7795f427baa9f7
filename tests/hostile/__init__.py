"""Hostile and broken submissions for the grader's robustness tests (see corpus.py)."""
