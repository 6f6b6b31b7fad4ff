"""scikit-learn on nadir's protocol: same train/test files, same features, same models.

Features: the 38 numeric columns plus a one-hot of protocoltype/service/flag fitted on the
training part (handle_unknown="ignore", so an unseen category is the all-zero row, as in
nadir). `attack` gives the label (attack != "normal"); `lastflag` (the difficulty) is dropped.
For logistic regression, the linear SVMs and the MLP, the count columns additionally pass
through log1p and every numeric column through a StandardScaler, one-hot columns left 0/1:
nadir's `Standardizer`. That scaling is part of the timed model (a Pipeline), as it is part
of nadir's model; the one-hot encoding is done once, outside the timings, as nadir's
`FeaturePipeline` is outside its own.

Per model: fit seconds, batch predict seconds (predict_proba, or decision_function for the
SVMs, over the whole test part; the fastest of --predict-repeats runs, default one),
accuracy at the default `predict`, ROC-AUC. Models with n_jobs (random forest, bagging,
voting) run at n_jobs=1 and n_jobs=2.

Run with OMP_NUM_THREADS=1 (the script refuses otherwise): on this 2-core machine, shared
with other work, OpenMP's spinning threads make HistGradientBoosting many times slower.

    python sklearn_protocol.py TRAIN.csv TEST.csv OUT.json [--models lr,rf,...] [--no-kernel]
        [--predict-repeats N]
"""

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

if os.environ.get("OMP_NUM_THREADS") != "1":
    sys.exit("sklearn_protocol.py: run with OMP_NUM_THREADS=1 (see the module docstring)")

import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    BaggingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    VotingClassifier,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_approximation import RBFSampler
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier

SEED = 42
CATEGORICAL = ["protocoltype", "service", "flag"]
INDICATORS = {"land", "loggedin", "rootshell", "suattempted", "ishostlogin", "isguestlogin"}
NOT_FEATURES = {"attack", "lastflag"}


def load(path: Path):
    frame = pd.read_csv(path)
    y = (frame["attack"] != "normal").to_numpy()
    features = frame.drop(columns=[c for c in NOT_FEATURES if c in frame.columns])
    return features, y


def numeric_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in CATEGORICAL]


def is_count(column: str) -> bool:
    return not column.endswith("rate") and column not in INDICATORS


def scaler(numeric: list[str]) -> ColumnTransformer:
    """nadir's Standardizer: log1p then z-score for counts, z-score for rates and indicators,
    one-hot columns (after the numeric ones) passed through. Works on the encoded matrix."""
    counts = [i for i, c in enumerate(numeric) if is_count(c)]
    others = [i for i, c in enumerate(numeric) if not is_count(c)]
    return ColumnTransformer(
        [
            ("counts", make_pipeline(FunctionTransformer(np.log1p), StandardScaler()), counts),
            ("others", StandardScaler(), others),
        ],
        remainder="passthrough",
    )


def scaled(numeric, model) -> Pipeline:
    return Pipeline([("scale", scaler(numeric)), ("model", model)])


def logistic(numeric):
    return scaled(numeric, LogisticRegression(C=1.0, max_iter=5000))


def forest(n_jobs):
    return RandomForestClassifier(n_estimators=100, n_jobs=n_jobs, random_state=SEED)


def gradient_boosting():
    return HistGradientBoostingClassifier(random_state=SEED)


def build(numeric: list[str]) -> list[tuple[str, int | None, object, str]]:
    """(nadir name, n_jobs or None, estimator, description) for every run."""
    runs = [
        ("logistic_regression", None, logistic(numeric),
         "LogisticRegression(C=1, lbfgs, max_iter=5000) on log1p+StandardScaler"),
        ("linear_svm", None, scaled(numeric, LinearSVC(C=1.0, random_state=SEED)),
         "LinearSVC(C=1) on log1p+StandardScaler; AUC from decision_function"),
        ("kernel_svm", None, scaled(numeric, make_pipeline(
            RBFSampler(gamma=0.02, n_components=1000, random_state=SEED),
            LinearSVC(C=1.0, random_state=SEED))),
         "RBFSampler(gamma=0.02, n_components=1000)+LinearSVC(C=1) on log1p+StandardScaler "
         "(random Fourier features, as nadir's kernel_svm; an exact SVC is skipped)"),
        ("decision_tree", None, DecisionTreeClassifier(random_state=SEED),
         "DecisionTreeClassifier() (defaults)"),
    ]
    for n_jobs in (1, 2):
        runs.append(("random_forest", n_jobs, forest(n_jobs),
                     f"RandomForestClassifier(n_estimators=100, n_jobs={n_jobs})"))
    runs.append(("gradient_boosting", None, gradient_boosting(),
                 "HistGradientBoostingClassifier() (defaults: 100 iterations, 31 leaves, "
                 "early stopping auto = on above 10,000 rows)"))
    runs.append(("mlp", None, scaled(numeric, MLPClassifier(
        hidden_layer_sizes=(100, 50), batch_size=256, max_iter=20, early_stopping=False,
        random_state=SEED)),
        "MLPClassifier((100, 50), adam lr 1e-3, alpha 1e-4, batch 256, 20 epochs, "
        "early_stopping=False: nadir's defaults) on log1p+StandardScaler"))
    for n_jobs in (1, 2):
        runs.append(("bagging", n_jobs, BaggingClassifier(
            DecisionTreeClassifier(), n_estimators=50, n_jobs=n_jobs, random_state=SEED),
            f"BaggingClassifier(DecisionTreeClassifier(), n_estimators=50, n_jobs={n_jobs})"))
    for n_jobs in (1, 2):
        runs.append(("voting", n_jobs, VotingClassifier(
            [("lr", logistic(numeric)), ("rf", forest(n_jobs)), ("gb", gradient_boosting())],
            voting="soft", n_jobs=n_jobs),
            f"VotingClassifier(soft: LR, RF(100, n_jobs={n_jobs}), HGB; n_jobs={n_jobs})"))
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("train", type=Path)
    parser.add_argument("test", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--models", default="all",
                        help="comma-separated nadir model names, or all")
    parser.add_argument("--no-kernel", action="store_true",
                        help="skip the RBFSampler+LinearSVC kernel-SVM reference")
    parser.add_argument("--predict-repeats", type=int, default=1,
                        help="score the test part this many times; predict_seconds is the "
                        "fastest, predict_runs (wall) and predict_cpu_runs (CPU) all of them "
                        "(bench/forest_predict.sh)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)

    start = time.perf_counter()
    train, y_train = load(args.train)
    test, y_test = load(args.test)
    numeric = numeric_columns(train)
    # Numeric columns first, then the one-hot block, as nadir's one-hot row.
    encoder = ColumnTransformer(
        [
            ("numeric", "passthrough", numeric),
            ("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL),
        ],
        remainder="drop",
    )
    x_train = np.ascontiguousarray(encoder.fit_transform(train), dtype=np.float64)
    x_test = np.ascontiguousarray(encoder.transform(test), dtype=np.float64)
    prep_seconds = time.perf_counter() - start
    print(f"sklearn: {x_train.shape[0]} train / {x_test.shape[0]} test rows, "
          f"{x_train.shape[1]} encoded columns ({len(numeric)} numeric, "
          f"{sum(is_count(c) for c in numeric)} of them log1p counts), "
          f"loaded and encoded in {prep_seconds:.1f} s", flush=True)

    wanted = None if args.models == "all" else set(args.models.split(","))
    results = []
    for name, n_jobs, model, description in build(numeric):
        if wanted is not None and name not in wanted:
            continue
        if name == "kernel_svm" and args.no_kernel:
            continue
        label = name + (f" n_jobs={n_jobs}" if n_jobs else "")
        print(f"  {label:<26}", end="", flush=True)
        start, cpu_start = time.perf_counter(), time.process_time()
        model.fit(x_train, y_train)
        fit_seconds = time.perf_counter() - start
        # CPU time of this process (all its threads; not of n_jobs worker processes).
        fit_cpu_seconds = time.process_time() - cpu_start
        predict_runs, predict_cpu_runs = [], []
        for _ in range(max(1, args.predict_repeats)):
            start, cpu_start = time.perf_counter(), time.process_time()
            if hasattr(model, "predict_proba") and name not in ("linear_svm", "kernel_svm"):
                scores = model.predict_proba(x_test)[:, 1]
                score_kind = "predict_proba"
            else:
                scores = model.decision_function(x_test)
                score_kind = "decision_function"
            predict_runs.append(time.perf_counter() - start)
            # All threads of this process: n_jobs predicts in threads, not processes.
            predict_cpu_runs.append(time.process_time() - cpu_start)
        predict_seconds = min(predict_runs)
        accuracy = accuracy_score(y_test, model.predict(x_test))
        auc = roc_auc_score(y_test, scores)
        extra = {}
        final = model[-1] if isinstance(model, Pipeline) else model
        if isinstance(final, Pipeline):
            final = final[-1]
        if hasattr(final, "n_iter_"):
            extra["n_iter"] = np.asarray(final.n_iter_).ravel().tolist()
        print(f"fit {fit_seconds:8.2f} s   predict {predict_seconds:7.3f} s   "
              f"accuracy {accuracy:.4f}   AUC {auc:.5f}", flush=True)
        results.append({
            "name": name,
            "n_jobs": n_jobs,
            "description": description,
            "fit_seconds": fit_seconds,
            "fit_cpu_seconds": fit_cpu_seconds,
            "predict_seconds": predict_seconds,
            "predict_runs": predict_runs,
            "predict_cpu_runs": predict_cpu_runs,
            "score": score_kind,
            "accuracy": accuracy,
            "roc_auc": auc,
            "test_rows": int(len(y_test)),
            **extra,
        })

    # How much of one core the single-threaded fits actually got: about 1.0 on an idle
    # machine, lower when other work competed for the cores (the times are then inflated).
    single = [r for r in results if r["n_jobs"] in (None, 1)]
    wall = sum(r["fit_seconds"] for r in single)
    cpu_share = sum(r["fit_cpu_seconds"] for r in single) / wall if wall > 0 else None
    if cpu_share is not None:
        print(f"single-threaded fits got {100 * cpu_share:.0f} % of a core on average", flush=True)
    report = {
        "single_thread_cpu_share": cpu_share,
        "versions": {
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
        "train_rows": int(len(y_train)),
        "test_rows": int(len(y_test)),
        "encoded_columns": int(x_train.shape[1]),
        "load_and_encode_seconds": prep_seconds,
        "models": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
