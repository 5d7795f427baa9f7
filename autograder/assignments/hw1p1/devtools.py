"""hw1p1's data for the repository's developer tools (tools/): plain literals, read by path, never imported
by the grader.

The sample handin (`python -m tools.make_sample`, what `make grade` grades by default): the reference with
tasks 6.1 and 7.2 left as stubs and two student bugs planted. Each bug is one exact replacement in a file
of the package (it must occur exactly once). Intended grade: 0 in 6.1 and 7.2, partial credit in 2.3
and 3.1, full marks elsewhere.
"""

SAMPLE_STUBBED = ("6.1", "7.2")

SAMPLE_BUGS = (
    {
        "task": "2.3",
        "file": "ops/elementwise.py",
        "old": "unbroadcast(-grad_output * a / (b * b), b.shape)",
        "new": "unbroadcast(grad_output * a / (b * b), b.shape)",
        "why": "Div.backward forgets the minus sign of d(a/b)/db = -a/b**2 (Mul and Div share task 2.3)",
    },
    {
        "task": "3.1",
        "file": "ops/reduce.py",
        # The `g = ...` line alone occurs in Sum, Mean and Max; with the return it is Sum's only.
        "old": (
            "        g = grad_output if self.keepdims else np.expand_dims(grad_output, self.axes)\n"
            "        return (np.broadcast_to(g, self.in_shape),)\n"
        ),
        "new": "        return (np.broadcast_to(grad_output, self.in_shape),)\n",
        "why": (
            "Sum.backward broadcasts without re-inserting the reduced axes: right for axis=None, keepdims "
            "or a leading axis, wrong (or a broadcast error) otherwise; Mean, in the same task, is correct"
        ),
    },
)

# The benchmark's yardstick for "a correct handin 20 times slower" (tools/bench/budget.py): the scenario and
# arguments whose CPU time is compared between the slowed handin and the reference.
BENCH_YARDSTICK = ("train_digits", {"seed": 0, "sizes": [64, 64, 10], "epochs": 10, "batch_size": 32, "lr": 0.05})
