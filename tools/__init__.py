"""Developer tools of this repository, not part of the installed grader nor of any bundle.

- `python -m tools.bench`: performance figures with their targets (`make bench`);
- `python -m tools.mutants`: mutation testing of an assignment's tests (`make mutants`);
- `python -m tools.make_sample`: the sample handin `make grade` grades (`build/sample/<assignment>/`);
- `tools.planted`: a planted student bug (`Bug`, `Patch`), shared by the sample and the tests' bug catalogue.

Run them from the repository root (`python -m tools.X`); pytest puts the root on `sys.path` too.
Every tool reads the assignment through its `Assignment` object (reference root, package, tests), so
each works for any assignment; what a tool needs beyond that is data in the assignment's folder
(`devtools.py`, `equivalent_mutants.txt`).
"""
