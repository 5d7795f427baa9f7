"""hw1p1's tasks and points (100 in all); the rubric tables in the READMEs are generated from here."""

from __future__ import annotations

from pathlib import Path

from autograder.framework.rubric import Assignment, Task

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]

TASKS = (
    Task("1.1", "topological_sort: depth-first search of the graph", 8),
    Task("1.2", "backward: each node once, accumulate into leaves", 8),
    Task("2.1", "unbroadcast: reduce a gradient to an input's shape", 4),
    Task("2.2", "Add, Sub and Neg backward", 4),
    Task("2.3", "Mul and Div backward", 5),
    Task("2.4", "Pow (scalar exponent), Exp and Log backward", 5),
    Task("3.1", "Sum and Mean backward (axis, keepdims)", 5),
    Task("3.2", "Max backward", 4),
    Task("3.3", "Reshape and Transpose backward", 4),
    Task("3.4", "Indexing backward (repeated indices accumulate)", 4),
    Task("4.1", "MatMul backward (1-D, batched) and Linear", 8),
    Task("5.1", "ReLU, Sigmoid and Tanh backward", 6),
    Task("5.2", "log_softmax backward", 5),
    Task("5.3", "MSELoss and the fused CrossEntropyLoss backward", 5),
    Task("6.1", "BatchNorm1d: the fused backward", 8),
    Task("7.1", "SGD step (momentum, weight decay)", 5),
    Task("7.2", "Adam step", 6),
    Task("8", "Train an MLP on handwritten digits", 6),
)

ASSIGNMENT = Assignment(
    name="hw1p1",
    package="mytorch",
    tasks=TASKS,
    reference_root=REPO_ROOT / "solutions",
    tests_dir=HERE / "tests",
    scenarios_file=HERE / "scenarios.py",
    data_files=(HERE / "data" / "digits.npz",),
)
