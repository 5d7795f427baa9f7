"""lab0's tasks and points (50 in all): scalar autograd (`scalargrad`) and a tiny MLP trained on two moons."""

from __future__ import annotations

from pathlib import Path

from autograder.framework.rubric import Assignment, Task

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]

TASKS = (
    Task("1.1", "+ and -: local derivatives", 5),
    Task("1.2", "* and /: local derivatives", 6),
    Task("1.3", "** with a number exponent", 5),
    Task("1.4", "exp, tanh and relu", 6),
    Task("2.1", "topological_order: depth-first search", 8),
    Task("2.2", "backward: seed, reverse order, reset intermediates", 8),
    Task("3.1", "Neuron forward and zero_grad", 6),
    Task("3.2", "train_step: an MLP learns two moons", 6),
)

ASSIGNMENT = Assignment(
    name="lab0",
    package="scalargrad",
    tasks=TASKS,
    reference_root=REPO_ROOT / "solutions" / "lab0",
    tests_dir=HERE / "tests",
    scenarios_file=HERE / "scenarios.py",
)
