"""lab0's data for the repository's developer tools (tools/): plain literals, read by path, never imported
by the grader.

The sample handin (`python -m tools.make_sample --assignment lab0`, what `make grade ASSIGNMENT=lab0`
grades by default): the reference with task 3.2 left as a stub and two classic student bugs planted.
Intended grade: 0 in 3.2, partial credit in 1.2 and 1.4, full marks elsewhere.
"""

SAMPLE_STUBBED = ("3.2",)

SAMPLE_BUGS = (
    {
        "task": "1.2",
        "file": "value.py",
        "old": "            other.grad -= out.grad * self.data / (other.data * other.data)\n",
        "new": "            other.grad += out.grad * self.data / (other.data * other.data)\n",
        "why": "the derivative of a/b with respect to b loses its minus sign (-a/b**2); * in the same task is right",
    },
    {
        "task": "1.4",
        "file": "value.py",
        "old": "            self.grad += (1.0 - out.data * out.data) * out.grad\n",
        "new": "            self.grad += (1.0 - self.data * self.data) * out.grad\n",
        "why": "tanh's derivative written with the input x instead of the output t = tanh(x): 1 - x**2, not 1 - t**2",
    },
)
