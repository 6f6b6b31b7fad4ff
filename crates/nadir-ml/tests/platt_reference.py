"""Reference values for the Platt tests in src/linear.rs, computed with scikit-learn.

Run: python3 -m venv /tmp/sklearn-venv && /tmp/sklearn-venv/bin/pip install scikit-learn
     /tmp/sklearn-venv/bin/python crates/nadir-ml/tests/platt_reference.py
and paste what it prints into the constants of
`platt_fit_matches_scikit_learn_sigmoid_calibration` (the inputs below must match the Rust
test's inputs). `_sigmoid_calibration` is scikit-learn's Platt fit behind
CalibratedClassifierCV(method="sigmoid"): same smoothed targets, same sign convention
P(attack | f) = 1/(1 + exp(a·f + b)), solved with L-BFGS-B instead of Newton.
"""

import numpy as np
import sklearn
from sklearn.calibration import _sigmoid_calibration

CASES = {
    # Overlapping classes, balanced.
    "OVERLAP": (
        [-2.1, -1.3, -0.8, -0.2, 0.4, -0.5, 0.3, 0.9, 1.7, 2.6],
        [0, 0, 0, 0, 0, 1, 1, 1, 1, 1],
    ),
    # Separable and 2 attacks to 8 normals: the fit is set by the smoothed targets
    # 3/4 and 1/10, which differ from the balanced case's.
    "IMBALANCED_SEPARABLE": (
        [-1.9, -1.5, -1.2, -1.0, -0.7, -0.4, -0.3, 0.1, 0.8, 1.4],
        [0, 0, 0, 0, 0, 0, 0, 0, 1, 1],
    ),
    # Overlapping, off-centre, tied values, attacks the majority.
    "IMBALANCED_TIES": (
        [0.5, 1.0, 1.0, 1.5, 2.0, 1.0, 1.5, 2.0, 2.0, 2.5, 3.0, 3.5, 4.0],
        [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1],
    ),
    # One row of a class: the counts at their smallest (target 1/3, or 2/3 for the attack).
    "ONE_NORMAL": (
        [-0.6, -0.9, 0.2, 0.7, 1.1, 1.8],
        [0, 1, 1, 1, 1, 1],
    ),
    "ONE_ATTACK": (
        [-1.6, -1.1, -0.8, -0.2, 0.3, 0.5],
        [0, 0, 0, 0, 0, 1],
    ),
    # Every decision value zero: no slope to fit, the intercept alone gives the base rate
    # of the smoothed targets.
    "ALL_ZERO": (
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0, 0, 0, 0, 1, 1, 1],
    ),
}


def show(name, value):
    print(f"{name} = {float(value)!r}")


print(f"# scikit-learn {sklearn.__version__}, numpy {np.__version__}")
for label, (decisions, labels) in CASES.items():
    a, b = _sigmoid_calibration(np.array(decisions), np.array(labels))
    show(f"{label}_A", a)
    show(f"{label}_B", b)
