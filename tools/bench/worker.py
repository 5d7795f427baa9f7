"""Cost of the sandbox: worker start (exec + numpy + import) and per-call overhead of a persistent worker."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from autograder.framework.client import WorkerClient

_SCENARIOS = '''
def echo(lib, x):
    """A trivial scenario: the round trip is all that is measured."""
    return {"x": x, "n": lib.VALUE}
'''


def worker_overhead(calls: int = 200, starts: int = 5) -> list[dict]:
    """Median per-call time of a trivial scenario (a 3x5 array each way) and median worker start time."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "sub" / "benchpkg").mkdir(parents=True)
        (root / "sub" / "benchpkg" / "__init__.py").write_text("VALUE = 1\n")
        (root / "scenarios.py").write_text(_SCENARIOS)
        x = np.random.default_rng(0).standard_normal((3, 5))
        start_times = []
        with WorkerClient(root / "sub", "benchpkg", root / "scenarios.py", slot=90) as client:
            for _ in range(starts):
                client.restart()
                t = time.perf_counter()
                client.run("echo", x=x)  # includes exec, numpy import, package import, one call
                start_times.append(time.perf_counter() - t)
            call_times = []
            for _ in range(calls):
                t = time.perf_counter()
                client.run("echo", x=x)
                call_times.append(time.perf_counter() - t)
    return [
        {
            "name": "worker_call_overhead",
            "value": round(statistics.median(call_times) * 1e3, 3),
            "unit": "ms",
            "target": "<= 5",
        },
        {
            "name": "worker_start",
            "value": round(statistics.median(start_times) * 1e3, 1),
            "unit": "ms",
            "target": "<= 120 (approx.)",
        },
    ]


if __name__ == "__main__":
    for figure in worker_overhead():
        print(figure)
