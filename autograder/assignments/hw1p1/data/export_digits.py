"""Export the UCI 8x8 handwritten digits to digits.npz (run once; the .npz is committed).

scikit-learn ships a copy of the UCI "Optical Recognition of Handwritten Digits" test set
(1,797 images). It is needed only here, in a throwaway virtualenv, never by the project:

    /usr/bin/python3 -m venv /tmp/skl && /tmp/skl/bin/pip install scikit-learn
    /tmp/skl/bin/python autograder/assignments/hw1p1/data/export_digits.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

OUT = Path(__file__).resolve().parent / "digits.npz"


def main() -> None:
    """Write X (1797, 64) float64 in [0, 1] (pixel counts 0..16 divided by 16) and y (1797,) int64."""
    digits = load_digits()
    X = np.asarray(digits.data, dtype=np.float64) / 16.0
    y = np.asarray(digits.target, dtype=np.int64)
    assert X.shape == (1797, 64) and y.shape == (1797,) and X.min() == 0.0 and X.max() == 1.0
    np.savez_compressed(OUT, X=X, y=y)
    print(f"wrote {OUT}: X {X.shape} {X.dtype}, y {y.shape} {y.dtype}, classes {np.bincount(y).tolist()}")


if __name__ == "__main__":
    main()
