"""Make the shared helpers in public/hw1p1_checks.py importable from public/ and hidden/ tests.

(The student handout ships public/ as its tests folder, where the helper sits beside the tests.)
"""

import sys
from pathlib import Path

_PUBLIC = str(Path(__file__).resolve().parent / "public")
if _PUBLIC not in sys.path:
    sys.path.insert(0, _PUBLIC)
