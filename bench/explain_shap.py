"""Per-record cost of Python shap's TreeExplainer on scikit-learn's 100-tree random forest and
its HistGradientBoosting.

Fits RandomForestClassifier(n_estimators=100, random_state=42) and
HistGradientBoostingClassifier(random_state=42) (its defaults, which nadir's gradient boosting
shares: 100 iterations at most, 31 leaves, early stopping above 10,000 rows) on the training
file (numeric columns, then the categorical ones one-hot, as bench/sklearn_protocol.py encodes
them), then explains the first --rows rows of the test file with shap.TreeExplainer's
path-dependent TreeSHAP (the algorithm nadir's explainer implements), --repeats times each, and
writes the fastest run per record, per model, as JSON. Run by bench/explain.sh.

    python explain_shap.py TRAIN.csv TEST.csv OUT.json [--rows 1000] [--repeats 3]
        [--models random_forest,gradient_boosting]
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shap
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.preprocessing import OneHotEncoder

from schema import clean_columns, load_schema


def read_frame(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, encoding="utf-8-sig", low_memory=False)
    frame.columns = clean_columns(frame.columns)
    return frame


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("train", type=Path)
    parser.add_argument("test", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default="random_forest,gradient_boosting")
    args = parser.parse_args()
    train, test = read_frame(args.train), read_frame(args.test)
    schema = load_schema(train.columns)
    y = (train[schema.label].astype(str) != schema.normal).to_numpy()
    encoder = ColumnTransformer(
        [
            ("numeric", "passthrough", schema.numeric),
            ("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
             schema.categorical),
        ],
        remainder="drop",
    )
    x_train = np.ascontiguousarray(encoder.fit_transform(train[schema.features]), dtype=np.float64)
    rows = test[schema.features].iloc[: args.rows]
    x_test = np.ascontiguousarray(encoder.transform(rows), dtype=np.float64)
    models = {
        "random_forest": RandomForestClassifier(n_estimators=100, n_jobs=-1, random_state=42),
        "gradient_boosting": HistGradientBoostingClassifier(random_state=42),
    }
    report = {}
    for name in args.models.split(","):
        model = models[name]
        model.fit(x_train, y)
        trees = getattr(model, "n_iter_", None) or len(model.estimators_)
        runs = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            explainer = shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")
            values = explainer.shap_values(x_test, check_additivity=False)
            runs.append(time.perf_counter() - start)
        assert np.asarray(values).shape[0] == len(x_test)
        per_record = min(runs) / len(x_test)
        print(f"shap {shap.__version__} TreeExplainer, {name} ({trees} trees): {len(x_test)} "
              f"records in {min(runs):.3f} s (fastest of {args.repeats}), "
              f"{per_record * 1e3:.3f} ms per record")
        report[name] = {"trees": int(trees), "rows": len(x_test), "runs": runs,
                        "seconds_per_record": per_record}
    args.out.write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
