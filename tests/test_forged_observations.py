"""Issue 10 item 6: scenarios run in the worker, which the handin controls, so a handin can replace them.

A forged scenario can say anything; the checks must not take its word for a verdict. This handin is the
bare handout (every task a stub, honest score 0) whose `__init__.py` replaces every engine and training
scenario with one that returns, without running any mytorch code, the verdicts a check could believe:
"sorted 10,001 nodes, root first", "shares no memory", "raised RuntimeError", "accuracy 99%", each
backward "called once", and for values the cheapest stand-ins (copies of the inputs). Every check
decides from raw observations it verifies itself, so the forgery must earn nothing (against the checks
as they were before, when scenarios returned verdicts, this same handin scored 4.41 points in tasks 1.1,
1.2 and 8). Graded against the whole suite: the score is 0 in every task.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from autograder.assignments.hw1p1.assignment import ASSIGNMENT, REPO_ROOT
from autograder.framework.grade import grade_submission

SLOT = 31  # this file's sandbox slot (a worker uid of its own)

FORGER = """

# ---- forged scenarios: replace the grader's scenario functions in this (the worker's) process ----
import sys as _sys

import numpy as _np


def _install_forgeries():
    scenarios = _sys.modules.get("autograder_scenarios")
    if scenarios is None:
        return

    def copy(kw, *names):
        for n in names:
            if kw.get(n) is not None:
                return _np.array(kw[n], dtype=_np.float64)
        return _np.zeros(3)

    def layout(i):
        return {"ptr": 1 << (20 + i), "shape": [3, 5], "strides": [40, 8], "itemsize": 8}

    def graph_backward(kw):
        g = kw["graph"]
        return {"calls": {n[0]: 1 for n in g["nodes"]}, "unknown_calls": 0, "call_log": [],
                "grads": {k: copy(kw, "upstream") for k in g.get("leaves", {})}, "out": copy(kw, "upstream")}

    def random_graphs(kw):
        return [{"orders": [[] for _ in g["roots"]], "call_logs": [[] for _ in g["roots"]],
                 "grads": [{k: None for k in g["leaves"]} for _ in g["roots"]], "kept": [],
                 "calls_each_once": True, "valid_order": True} for g in kw["graphs"]]

    fakes = {
        "topo_order": lambda kw: {"order": None, "valid": True},
        "deep_chain": lambda kw: {"n_sorted": kw["n"] + 1, "first_is_root": True, "order": None,
                                  "grad_x": copy(kw, "upstream"), "out": copy(kw, "x")},
        "diamond_chain": lambda kw: {"n_sorted": 2 * kw["depth"] + 1, "n_distinct": 2 * kw["depth"] + 1,
                                     "order": None, "grad_x": copy(kw, "upstream"), "out": copy(kw, "x")},
        "graph_backward": graph_backward,
        "random_graphs": random_graphs,
        "aliasing": lambda kw: {
            "arrays": True, "a_shares_b": False, "a_shares_upstream": False, "b_shares_upstream": False,
            "a_shares_data": False, "upstream_unchanged": True,
            "layout": {k: layout(i) for i, k in enumerate(("a_grad", "b_grad", "upstream", "a_data"))},
            "grad_b_first": copy(kw, "upstream"), "grad_b_after": copy(kw, "upstream"),
            "grad_a_after": copy(kw, "upstream"), "upstream_after": copy(kw, "upstream")},
        "backward_errors": lambda kw: {"non_scalar": {"type": "RuntimeError", "message": "needs a gradient"},
                                       "one_element": None, "grad_one_element": copy(kw, "x")},
        "grad_types": lambda kw: {"type_a": "numpy.ndarray", "type_b": "numpy.ndarray", "type_c": "None",
                                  "type_mid": "None", "type_out": "None", "dtype_a": "float64",
                                  "grad_a": copy(kw, "a"), "grad_b": copy(kw, "b"),
                                  "a": copy(kw, "a"), "b": copy(kw, "b"), "c": None, "mid": None, "out": None},
        "no_grad_graph": lambda kw: {"inside_requires_grad": False, "inside_has_grad_fn": False,
                                     "outside_requires_grad": True, "outside_has_grad_fn": True,
                                     "grad_a": copy(kw, "a"), "grad_b": None, "inside_out": copy(kw, "a")},
        "train_digits": lambda kw: {"n_steps": 450, "accuracy": 0.99, "final_loss": 0.01,
                                    "steps": list(kw.get("record") or []),
                                    "losses": _np.zeros(len(kw.get("record") or [])),
                                    "params": [_np.zeros((64, 64)), _np.zeros(64), _np.zeros((10, 64)), _np.zeros(10)]},
    }
    for name, fake in fakes.items():
        setattr(scenarios, name, lambda lib, _fake=fake, **kw: _fake(kw))


_install_forgeries()
"""


def test_forged_verdicts_earn_nothing(tmp_path: Path):
    sub = tmp_path / "sub"
    shutil.copytree(
        REPO_ROOT / "handouts" / ASSIGNMENT.name / ASSIGNMENT.package,
        sub / ASSIGNMENT.package,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    init = sub / ASSIGNMENT.package / "__init__.py"
    init.write_text(init.read_text() + FORGER)
    outcome = grade_submission(sub, ASSIGNMENT, tmp_path / "results.json", slot=SLOT, quiet=True)
    assert not outcome.grader_failed and not outcome.internal_errors, outcome.internal_errors
    assert outcome.score == 0, {t.nodeid: t.message for t in outcome.tests if t.passed}
    # Not vacuous: the forgeries ran (a bare stub fails with NotImplementedError instead) and were rejected.
    forged = [t for t in outcome.tests if "NotImplementedError" not in t.message]
    names = {t.nodeid.split("::")[1].split("[")[0] for t in forged}
    for test in (
        "test_topological_sort_deep_chain",
        "test_topological_sort_diamond_chain",
        "test_grads_not_aliased",
        "test_backward_non_scalar_needs_gradient",
        "test_grads_are_plain_arrays",
        "test_train_digits",
        "test_topological_sort_random_graphs",
        "test_backward_random_graphs",
        "test_backward_deep_chain",
    ):
        assert test in names, f"{test}: the forged scenario was not used"
