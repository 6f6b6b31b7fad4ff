"""Reference values for `logistic_regression_matches_scikit_learn_on_far_outliers` in
src/linear.rs, computed with scikit-learn.

Run: bench/.venv/bin/python crates/nadir-ml/tests/logistic_reference.py (or any venv with
     scikit-learn) and paste what it prints into the test's constants (the rows below must
     match the Rust test's rows).

The model is nadir's definition of logistic regression: log1p of the count columns, every
numeric column standardised (population standard deviation, scikit-learn's StandardScaler),
nothing clipped, then LogisticRegression(C=1), i.e. ½‖w‖² + C·Σ log(1 + e^(−yᵢ(w·xᵢ+b))) with
the intercept unpenalised. Solved with newton-cholesky at tol 1e-12 (L-BFGS agrees to 1e-8).
The rows put one value of each column about 11 deviations out, where the ±8 clip of the SVMs'
scaling would change the optimum (srcbytes' weight 0.234 instead of 0.0327).
"""

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

ROWS = 120
# Two attacks in three; srcbytes (a count) twice as large for attacks; row 0 a normal flow
# of 10^12 bytes; serrorrate (a rate) zero except on row 1, an attack.
attack = np.array([i % 3 != 0 for i in range(ROWS)])
srcbytes = np.array([(50 + (i * 37) % 101) * (2.0 if attack[i] else 1.0) for i in range(ROWS)])
srcbytes[0] = 1e12
serrorrate = np.zeros(ROWS)
serrorrate[1] = 1.0

x = StandardScaler().fit_transform(np.column_stack([np.log1p(srcbytes), serrorrate]))
model = LogisticRegression(C=1.0, tol=1e-12, max_iter=1000, solver="newton-cholesky").fit(x, attack)
w, b = model.coef_[0], model.intercept_[0]
margins = np.where(attack, 1.0, -1.0) * (x @ w + b)
objective = 0.5 * w @ w + np.logaddexp(0.0, -margins).sum()

print(f"// scikit-learn {sklearn.__version__}, numpy {np.__version__}; largest |z| "
      f"{np.abs(x).max(axis=0).round(2).tolist()}")
print(f"const SRCBYTES_WEIGHT: f64 = {float(w[0])!r};")
print(f"const SERRORRATE_WEIGHT: f64 = {float(w[1])!r};")
print(f"const INTERCEPT: f64 = {float(b)!r};")
print(f"const OBJECTIVE: f64 = {float(objective)!r};")
