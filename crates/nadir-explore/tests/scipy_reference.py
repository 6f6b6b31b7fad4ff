"""Reference values for tests/scipy_reference.rs, computed with scipy.

Run: python3 -m venv /tmp/scipy-venv && /tmp/scipy-venv/bin/pip install scipy
     /tmp/scipy-venv/bin/python crates/nadir-explore/tests/scipy_reference.py
and paste what it prints into the constants of scipy_reference.rs (the inputs below must
match the Rust test's inputs).
"""

import numpy as np
import scipy
from scipy import stats

# Inputs shared with the Rust test.
X = [1, 2, 2, 3, 5, 5, 5, 8, 9, 12, 0.5, 7]
Y = [2, 3, 3, 4, 5, 6, 7, 7, 10, 11, 11, 13, 14, 2.5, 6]
# Mostly zeros, like most count features of the data: heavy ties.
SPARSE_X = [0] * 20 + [1] * 5 + [3]
SPARSE_Y = [0] * 30 + [1] * 2 + [2]
TABLE = [[20, 5, 13, 2], [7, 17, 3, 9], [11, 11, 4, 30]]
TABLE_2X2 = [[34, 12], [51, 88]]
P_VALUES = [0.01, 0.04, 0.03, 0.2, 0.001, 0.5, 0.04, 0.9, 0.0001, 0.049]


def show(name, value):
    print(f"{name} = {float(value)!r}")


print(f"# scipy {scipy.__version__}, numpy {np.__version__}")
for label, (x, y) in {"MWU": (X, Y), "MWU_SPARSE": (SPARSE_X, SPARSE_Y)}.items():
    for alternative in ["two-sided", "greater", "less"]:
        r = stats.mannwhitneyu(x, y, alternative=alternative, method="asymptotic")
        key = alternative.replace("-", "_").upper()
        show(f"{label}_U_{key}", r.statistic)
        show(f"{label}_P_{key}", r.pvalue)

for alternative in ["two-sided", "greater", "less"]:
    r = stats.ttest_ind(X, Y, equal_var=False, alternative=alternative)
    key = alternative.replace("-", "_").upper()
    show(f"WELCH_T_{key}", r.statistic)
    show(f"WELCH_P_{key}", r.pvalue)
    show(f"WELCH_DF_{key}", r.df)

# Hedges' g by its textbook formula, for the record (scipy has no function for it).
nx, ny = len(X), len(Y)
pooled = np.sqrt(((nx - 1) * np.var(X, ddof=1) + (ny - 1) * np.var(Y, ddof=1)) / (nx + ny - 2))
show("HEDGES_G", (np.mean(X) - np.mean(Y)) / pooled * (1 - 3 / (4 * (nx + ny) - 9)))

for label, table in {"CHI": TABLE, "CHI_2X2": TABLE_2X2}.items():
    r = stats.chi2_contingency(table, correction=False)
    show(f"{label}_STAT", r.statistic)
    show(f"{label}_P", r.pvalue)
    show(f"{label}_DOF", r.dof)
    show(f"{label}_V", stats.contingency.association(table, method="cramer"))

# The two-proportion z-test of the 2x2 table (share of the first column per row): z is the
# signed square root of the uncorrected chi-square; one-sided p from the normal tail.
(a, b), (c, d) = TABLE_2X2
z = np.sign(a / (a + b) - c / (c + d)) * np.sqrt(stats.chi2_contingency(TABLE_2X2, correction=False).statistic)
show("PROP_Z", z)
show("PROP_P_GREATER", stats.norm.sf(z))
show("PROP_P_LESS", stats.norm.cdf(z))

show("PEARSON", stats.pearsonr(X, Y[: len(X)]).statistic)
show("SPEARMAN", stats.spearmanr(X, Y[: len(X)]).statistic)
print("RANKS =", [float(v) for v in stats.rankdata(X)])
print("BH =", [float(v) for v in stats.false_discovery_control(P_VALUES, method="bh")])
print("QUARTILES_Y =", [float(v) for v in np.quantile(Y, [0.25, 0.5, 0.75])])
# Tails far out: what the normal approximation gives at this data's sample sizes.
show("NORMAL_SF_30", stats.norm.sf(30))
show("T_SF_8_DF_50", stats.t.sf(8, 50))
show("CHI2_SF_400_DF_10", stats.chi2.sf(400, 10))
