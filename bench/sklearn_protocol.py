"""scikit-learn (and LightGBM) on nadir's protocol: same train/test files, same features, same
models.

The schema (bench/schema.py: nadir's own built-in schema files, chosen by the header or by
--schema) gives the features. Features: the schema's numeric columns plus a one-hot of its
categorical ones (NSL-KDD: 38 numeric + protocoltype/service/flag; UNSW-NB15: 39 numeric +
proto/service/state) fitted on the training part (handle_unknown="ignore", so an unseen category
is the all-zero row, as in nadir), minus any --drop. The label is binary: the schema's label
column != its normal value (attack != "normal", attack_cat != "Normal"); the label columns and
the schema's never-features (`lastflag`, `id`) are never features. For logistic regression,
the linear SVMs and the MLP, the `count` columns additionally pass through log1p and every
numeric column through a StandardScaler, one-hot columns left 0/1: nadir's `Standardizer`. That scaling is part of the timed model (a Pipeline), as it is part
of nadir's model; the one-hot encoding is done once, outside the timings, as nadir's
`FeaturePipeline` is outside its own.

Per model: fit seconds (the median of --fit-repeats fits, default one) (predict_proba, or decision_function for the
SVMs, over the whole test part; the fastest of --predict-repeats runs, default one),
accuracy and F1 at the default `predict`, ROC-AUC. Models with n_jobs (random forest, bagging,
voting) run at n_jobs=1 and n_jobs=2.

--peers lightgbm adds LightGBM's LGBMClassifier (defaults, verbose=-1) as a gradient_boosting
peer, at n_jobs=1 and 2, the categorical columns given as pandas `category` dtype (no one-hot);
--peers sklearn,lightgbm runs both; --hgb-threads 1,2 runs HistGradientBoosting at 1 and 2
OpenMP threads (threadpoolctl) instead of once at OMP_NUM_THREADS=1.

Run with OMP_NUM_THREADS=1 (the script refuses otherwise): on this 2-core machine, shared
with other work, OpenMP's spinning threads make HistGradientBoosting many times slower.

    python sklearn_protocol.py TRAIN.csv TEST.csv OUT.json [--models lr,rf,...] [--no-kernel]
        [--fit-repeats N] [--predict-repeats N] [--schema NAME] [--drop a,b,c] [--peers sklearn,lightgbm]
        [--hgb-threads 1,2]
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

if os.environ.get("OMP_NUM_THREADS") != "1":
    sys.exit("sklearn_protocol.py: run with OMP_NUM_THREADS=1 (see the module docstring)")

import numpy as np
import pandas as pd
import sklearn
from threadpoolctl import threadpool_limits
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
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier

from schema import Schema, clean_columns, load_schema

SEED = 42
SCHEMA: Schema  # set in main()


def read_frame(path: Path) -> pd.DataFrame:
    # utf-8-sig: the UNSW-NB15 file starts with a byte-order mark.
    frame = pd.read_csv(path, encoding="utf-8-sig", low_memory=False)
    frame.columns = clean_columns(frame.columns)
    return frame


def load(frame: pd.DataFrame):
    y = (frame[SCHEMA.label].astype(str) != SCHEMA.normal).to_numpy()
    return frame[SCHEMA.features], y


def is_count(column: str) -> bool:
    return SCHEMA.is_count(column)


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


def lightgbm(n_jobs):
    from lightgbm import LGBMClassifier
    return LGBMClassifier(n_jobs=n_jobs, verbose=-1, random_state=SEED)


def build(numeric: list[str], peers=("sklearn",), hgb_threads=None):
    """(nadir name, n_jobs or None, estimator, description) for every scikit-learn run, then
    (name, n_jobs, estimator, description, library) for the others (LightGBM)."""
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
    hgb = ("HistGradientBoostingClassifier() (defaults: 100 iterations, 31 leaves, "
           "early stopping auto = on above 10,000 rows)")
    if hgb_threads:
        for threads in hgb_threads:
            runs.append(("gradient_boosting", threads, gradient_boosting(),
                         hgb + f", {threads} OpenMP thread(s)"))
    else:
        runs.append(("gradient_boosting", None, gradient_boosting(), hgb))
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
    runs = [r + ("scikit-learn",) for r in runs] if "sklearn" in peers else []
    if "lightgbm" in peers:
        for n_jobs in (1, 2):
            runs.append(("gradient_boosting", n_jobs, lightgbm(n_jobs),
                         f"LGBMClassifier() (defaults: 100 trees, 31 leaves, learning rate 0.1, "
                         f"no early stopping; n_jobs={n_jobs}, verbose=-1; categoricals as "
                         f"pandas category)", "lightgbm"))
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
    parser.add_argument("--fit-repeats", type=int, default=1,
                        help="fit each model this many times on the same rows (the same "
                        "model every time: the seeds are fixed); fit_seconds and "
                        "fit_cpu_seconds are the medians, fit_runs and fit_cpu_runs all of them")
    parser.add_argument("--schema", help="built-in schema name (default: the one the header "
                        "matches)")
    parser.add_argument("--drop", default="", help="features to leave out, comma-separated "
                        "(as nadir train --drop)")
    parser.add_argument("--peers", default="sklearn",
                        help="sklearn, lightgbm or sklearn,lightgbm (default sklearn)")
    parser.add_argument("--hgb-threads", default="",
                        help="e.g. 1,2: HistGradientBoosting at these OpenMP thread counts "
                        "(threadpoolctl) instead of one run at OMP_NUM_THREADS=1")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    peers = tuple(p for p in args.peers.split(",") if p)
    hgb_threads = [int(t) for t in args.hgb_threads.split(",") if t]

    start = time.perf_counter()
    global SCHEMA
    train_frame, test_frame = read_frame(args.train), read_frame(args.test)
    SCHEMA = load_schema(train_frame.columns, args.schema, args.drop.split(","))
    train, y_train = load(train_frame)
    test, y_test = load(test_frame)
    del train_frame, test_frame
    numeric = SCHEMA.numeric
    CATEGORICAL = SCHEMA.categorical
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
    # LightGBM's input: numeric columns as float64, categoricals as pandas `category` with the
    # training part's categories (an unseen value becomes missing).
    lgb_train = lgb_test = None
    if "lightgbm" in peers:
        lgb_train, lgb_test = train.copy(), test.copy()
        for c in numeric:
            lgb_train[c] = lgb_train[c].astype(np.float64)
            lgb_test[c] = lgb_test[c].astype(np.float64)
        for c in CATEGORICAL:
            lgb_train[c] = lgb_train[c].astype(str).astype("category")
            known = lgb_train[c].cat.categories
            values = lgb_test[c].astype(str)
            lgb_test[c] = pd.Categorical(values.where(values.isin(known)), categories=known)
    prep_seconds = time.perf_counter() - start
    dropped = f", dropped {','.join(SCHEMA.dropped)}" if SCHEMA.dropped else ""
    print(f"{SCHEMA.name}{dropped}: {x_train.shape[0]} train / {x_test.shape[0]} test rows, "
          f"{x_train.shape[1]} encoded columns ({len(numeric)} numeric, "
          f"{sum(is_count(c) for c in numeric)} of them log1p counts), "
          f"loaded and encoded in {prep_seconds:.1f} s", flush=True)

    wanted = None if args.models == "all" else set(args.models.split(","))
    results = []
    for name, n_jobs, model, description, library in build(numeric, peers, hgb_threads):
        if wanted is not None and name not in wanted:
            continue
        if name == "kernel_svm" and args.no_kernel:
            continue
        if library == "lightgbm":
            xa, xb = lgb_train, lgb_test
        else:
            xa, xb = x_train, x_test
        # HistGradientBoosting's threads are OpenMP's: --hgb-threads sets them per run.
        openmp = n_jobs if (name == "gradient_boosting" and library == "scikit-learn"
                            and n_jobs) else None
        label = ("lightgbm " if library == "lightgbm" else "") + name + (
            f" threads={n_jobs}" if openmp else f" n_jobs={n_jobs}" if n_jobs else "")
        print(f"  {label:<38}", end="", flush=True)
        with threadpool_limits(limits=openmp, user_api="openmp"):
            fit_runs, fit_cpu_runs = [], []
            for _ in range(max(1, args.fit_repeats)):
                start, cpu_start = time.perf_counter(), time.process_time()
                model.fit(xa, y_train)
                fit_runs.append(time.perf_counter() - start)
                # CPU time of this process (all its threads; not of n_jobs worker processes).
                fit_cpu_runs.append(time.process_time() - cpu_start)
            fit_seconds = statistics.median(fit_runs)
            fit_cpu_seconds = statistics.median(fit_cpu_runs)
            predict_runs, predict_cpu_runs = [], []
            for _ in range(max(1, args.predict_repeats)):
                start, cpu_start = time.perf_counter(), time.process_time()
                if hasattr(model, "predict_proba") and name not in ("linear_svm", "kernel_svm"):
                    scores = model.predict_proba(xb)[:, 1]
                    score_kind = "predict_proba"
                else:
                    scores = model.decision_function(xb)
                    score_kind = "decision_function"
                predict_runs.append(time.perf_counter() - start)
                # All threads of this process: n_jobs predicts in threads, not processes.
                predict_cpu_runs.append(time.process_time() - cpu_start)
            predicted = model.predict(xb)
        predict_seconds = min(predict_runs)
        accuracy = accuracy_score(y_test, predicted)
        f1 = f1_score(y_test, predicted)
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
            "library": library,
            "n_jobs": n_jobs,
            "description": description,
            "fit_seconds": fit_seconds,
            "fit_cpu_seconds": fit_cpu_seconds,
            "fit_runs": fit_runs,
            "fit_cpu_runs": fit_cpu_runs,
            "predict_seconds": predict_seconds,
            "predict_runs": predict_runs,
            "predict_cpu_runs": predict_cpu_runs,
            "score": score_kind,
            "accuracy": accuracy,
            "f1": f1,
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
        "schema": SCHEMA.name,
        "dropped": SCHEMA.dropped,
        "versions": {
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
            **({"lightgbm": __import__("lightgbm").__version__} if "lightgbm" in peers else {}),
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
