"""Broken (not hostile) handins: what students really upload. Each builder returns the handin path."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path

from .corpus import REFERENCE_PKG, append, copy_package, wrap_backward

# Applied to the results of Mul.backward and Div.backward (task 2.3 only): break exactly one task.
TRANSFORMS = {
    "exception_in_backward": "raise KeyError('grad_a not found')\n",
    "nan_gradients": "import numpy as np\nout = tuple(np.full_like(g, np.nan) for g in out)\n",
    "inf_gradients": "import numpy as np\nout = tuple(g + np.inf for g in out)\n",
    "wrong_shape": "import numpy as np\nout = tuple(np.ones((7, 2)) * g.mean() for g in out)\n",
    "float32_gradients": "import numpy as np\nout = tuple(np.asarray(g, dtype=np.float32) for g in out)\n",
    "int_gradients": "import numpy as np\nout = tuple(np.asarray(g).astype(np.int64) for g in out)\n",
    "list_instead_of_array": "import numpy as np\nout = tuple(np.asarray(g).tolist() for g in out)\n",
    "none_instead_of_array": "out = (None, None)\n",
    # Correct gradients, but the backward scribbles over the arrays it was given.
    "inplace_modifies_input": "grad_output *= 0.0\n",
}


def _root(tmp: Path) -> Path:
    root = tmp / "handin"
    root.mkdir()
    return root


def transformed(key: str) -> Callable[[Path], Path]:
    """The reference with Mul and Div backward broken by TRANSFORMS[key]."""

    def build(tmp: Path) -> Path:
        root = _root(tmp)
        wrap_backward(copy_package("reference", root), ("Mul", "Div"), TRANSFORMS[key])
        return root

    return build


def empty_archive(tmp: Path) -> Path:
    path = tmp / "handin.zip"
    zipfile.ZipFile(path, "w").close()
    return path


def wrong_folder_name(tmp: Path) -> Path:
    root = _root(tmp)
    copy_package("reference", root).rename(root / "hw1_mytorch")
    return root


def nested_one_level(tmp: Path) -> Path:
    root = _root(tmp)
    (root / "my_handin").mkdir()
    copy_package("reference", root / "my_handin")
    return root


def junk_files(tmp: Path) -> Path:
    path = tmp / "handin.zip"
    with zipfile.ZipFile(path, "w") as z:
        for f in sorted(REFERENCE_PKG.rglob("*.py")):
            rel = str(f.relative_to(REFERENCE_PKG))
            z.write(f, "mytorch/" + rel)
            z.writestr("__MACOSX/mytorch/._" + rel, b"\x00\x05\x16\x07junk")
        z.writestr("mytorch/.DS_Store", b"\x00\x00\x00\x01Bud1")
        z.writestr("mytorch/__pycache__/tensor.cpython-310.pyc", b"\x6f\x0d\x0d\x0abogus bytecode")
        z.writestr("mytorch/ops/stale.pyc", b"bogus")
    return path


def syntax_error_one_module(tmp: Path) -> Path:
    """optim/adam.py (task 7.2 only) does not parse; everything else must still be graded."""
    root = _root(tmp)
    append(copy_package("reference", root), "optim/adam.py", "def broken(:\n    pass\n")
    return root


def import_error_one_module(tmp: Path) -> Path:
    """nn/batchnorm.py (task 6.1 only) imports a module that does not exist."""
    root = _root(tmp)
    pkg = copy_package("reference", root)
    src = (pkg / "nn" / "batchnorm.py").read_text()
    future = "from __future__ import annotations\n"
    (pkg / "nn" / "batchnorm.py").write_text(src.replace(future, future + "import torch_helpers_v2\n", 1))
    return root


def slow_near_deadline(tmp: Path) -> Path:
    """Correct, but the first Mul.backward call waits 0.8 s: within the 1.5 s of wall clock a call whose
    deadline is the 0.5 s floor may take (budget.WALL_FACTOR x its CPU-time deadline)."""
    root = _root(tmp)
    pkg = copy_package("reference", root)
    append(pkg, "ops/elementwise.py", "_slow_calls = []\n")
    wrap_backward(pkg, ("Mul",), "if not _slow_calls:\n    _slow_calls.append(1)\n    time.sleep(0.8)\n")
    return root


def very_large_file(tmp: Path) -> Path:
    """A 25 MB data file beside the package (over the 20 MB per-file limit)."""
    root = _root(tmp)
    pkg = copy_package("reference", root)
    with open(pkg / "weights.npy", "wb") as f:
        f.write(os.urandom(25 * 1024 * 1024))
    return root


def large_file_under_limit(tmp: Path) -> Path:
    """A 12 MB data file beside the package (allowed)."""
    root = _root(tmp)
    pkg = copy_package("reference", root)
    with open(pkg / "weights.npy", "wb") as f:
        f.write(os.urandom(12 * 1024 * 1024))
    return root


def non_utf8_names(tmp: Path) -> Path:
    root = _root(tmp)
    pkg = copy_package("reference", root)
    with open(os.path.join(os.fsencode(pkg), b"notes_caf\xe9.txt"), "wb") as f:
        f.write(b"latin-1 name")
    os.mkdir(os.path.join(os.fsencode(root), b"d\xff\xfe"))
    return root


def windows_line_endings(tmp: Path) -> Path:
    root = _root(tmp)
    pkg = copy_package("reference", root)
    for f in pkg.rglob("*.py"):
        f.write_bytes(f.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    return root
