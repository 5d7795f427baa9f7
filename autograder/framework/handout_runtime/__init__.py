"""The student-side runtime every generated handout ships; it names no assignment.

Its files go into the handout at the places LAYOUT gives (the handout generator copies them verbatim):

    conftest.py, pytest.ini, Makefile           the handout's root: `make test`, `make test TASK=2.3`, `make handin`
    tests/_support/handout_backend.py           in-process student runner and recorded reference answers
    tests/_support/handout_config.py            reads tests/_support/assignment.json (the assignment, as data)
    tests/_support/handin.py                    `make handin`: checks the package imports, writes handin.zip

Everything about the assignment reaches it as data, in tests/_support/assignment.json, which the generator
writes (handout_config.py documents every key). These files, and the framework modules they and the
public tests import, use only the standard library, numpy and pytest (tests/test_handout_runtime.py).
"""

from __future__ import annotations

from pathlib import Path

RUNTIME_DIR = Path(__file__).resolve().parent
SUPPORT = "tests/_support"  # in the handout: the runtime's modules, the config and the vendored framework
# runtime file -> its path in the handout
LAYOUT = {
    "conftest.py": "conftest.py",
    "pytest.ini": "pytest.ini",
    "Makefile": "Makefile",
    "handout_backend.py": f"{SUPPORT}/handout_backend.py",
    "handout_config.py": f"{SUPPORT}/handout_config.py",
    "handin.py": f"{SUPPORT}/handin.py",
}
