"""Make the shared helpers in public/ (lab0_checks.py, lab0_graphs.py) importable from public/ and hidden/.

(The student handout ships public/ as its tests folder, where the helpers sit beside the tests.) Their
names start with `lab0_` so they never shadow another assignment's helpers in one grader process.
"""

import sys
from pathlib import Path

_PUBLIC = str(Path(__file__).resolve().parent / "public")
if _PUBLIC not in sys.path:
    sys.path.insert(0, _PUBLIC)
