"""The Python side of bench/families_gbdt_mlp.sh: attack families (multi-class) on NSL-KDD.

    python families_gbdt_mlp.py split DATA.csv SPLIT.json [--seed 42] [--test-share 0.3]
    python families_gbdt_mlp.py fit DATA.csv SPLIT.json --model hgb|lightgbm|mlp --threads N
        (and hgb_l2, lightgbm_l2: with an L2 penalty of 1 on leaf values, as nadir's preset)

`split` draws one stratified 70/30 split by attack family (scikit-learn's train_test_split,
seed 42) and writes the row indices (0-based, among the data rows, in file order) with the
class names (the benign class first, then the families sorted); nadir's driver
(`cargo bench -p nadir-ml --bench families_gbdt_mlp`) reads the same file, so both sides fit
and score the very same rows. The family of an attack name is the schema's family table
(crates/nadir-data/schemas/nsl-kdd.toml), `unknown` for names it lacks.

`fit` fits one model on the training rows in this process and prints one JSON line: fit wall
and CPU seconds, macro-F1 and per-class F1 on the test rows, and the process's peak RSS
(which includes reading the data). Models, with nadir's settings where they have one:
HistGradientBoostingClassifier() (defaults: 100 iterations, 31 leaves, lr 0.1, early stopping
above 10,000 rows) on the one-hot matrix; LGBMClassifier(objective="multiclass") with
categoricals as pandas `category`; MLPClassifier((100, 50), adam lr 1e-3, alpha 1e-4, batch
256, 20 epochs) on log1p + StandardScaler, the one-hot block passed through.
"""

import argparse
import json
import resource
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from schema import SCHEMA_DIR, clean_columns, load_schema

SEED = 42


def families(frame: pd.DataFrame, schema) -> np.ndarray:
    raw = tomllib.loads((SCHEMA_DIR / f"{schema.name}.toml").read_text())
    table = {attack: family for family, attacks in raw.get("families", {}).items()
             for attack in attacks}
    names = frame[schema.label].astype(str).str.strip()
    if not table:
        return names.to_numpy()
    return np.array([n if n == schema.normal else table.get(n, "unknown") for n in names])


def read(path: Path):
    frame = pd.read_csv(path, encoding="utf-8-sig", low_memory=False)
    frame.columns = clean_columns(frame.columns)
    schema = load_schema(frame.columns)
    return frame, schema, families(frame, schema)


def split(args) -> int:
    from sklearn.model_selection import train_test_split

    frame, schema, fam = read(args.data)
    names = [schema.normal] + sorted(str(f) for f in set(fam) - {schema.normal})
    train, test = train_test_split(np.arange(len(frame)), test_size=args.test_share,
                                   stratify=fam, random_state=args.seed)
    counts = {n: int((fam == n).sum()) for n in names}
    args.out.write_text(json.dumps({
        "source": str(args.data.resolve()), "schema": schema.name, "seed": args.seed,
        "test_share": args.test_share, "classes": names, "rows_per_class": counts,
        "train": sorted(int(i) for i in train), "test": sorted(int(i) for i in test),
    }))
    print(f"{len(train)} train / {len(test)} test rows; classes {counts}", file=sys.stderr)
    return 0


def fit(args) -> int:
    from sklearn.compose import ColumnTransformer
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    frame, schema, fam = read(args.data)
    chosen = json.loads(args.split.read_text())
    classes = {n: i for i, n in enumerate(chosen["classes"])}
    y = np.array([classes[f] for f in fam])
    train, test = np.array(chosen["train"]), np.array(chosen["test"])
    x = frame[schema.features]
    numeric, categorical = schema.numeric, schema.categorical
    # The `_l2` variants add nadir's multi_class preset's L2 penalty on leaf values (λ = 1).
    l2 = 1.0 if args.model.endswith("_l2") else 0.0
    if args.model.startswith("lightgbm"):
        from lightgbm import LGBMClassifier
        x_train, x_test = x.iloc[train].copy(), x.iloc[test].copy()
        for c in numeric:
            x_train[c] = x_train[c].astype(np.float64)
            x_test[c] = x_test[c].astype(np.float64)
        for c in categorical:
            x_train[c] = x_train[c].astype(str).astype("category")
            known = x_train[c].cat.categories
            values = x_test[c].astype(str)
            x_test[c] = pd.Categorical(values.where(values.isin(known)), categories=known)
        model = LGBMClassifier(objective="multiclass", reg_lambda=l2, n_jobs=args.threads,
                               verbose=-1, random_state=SEED)
    else:
        encoder = ColumnTransformer(
            [("numeric", "passthrough", numeric),
             ("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
              categorical)], remainder="drop")
        x_train = np.ascontiguousarray(encoder.fit_transform(x.iloc[train]), dtype=np.float64)
        x_test = np.ascontiguousarray(encoder.transform(x.iloc[test]), dtype=np.float64)
        if args.model.startswith("hgb"):
            from sklearn.ensemble import HistGradientBoostingClassifier
            model = HistGradientBoostingClassifier(l2_regularization=l2, random_state=SEED)
        else:
            from sklearn.neural_network import MLPClassifier
            counts = [i for i, c in enumerate(numeric) if schema.is_count(c)]
            others = [i for i, c in enumerate(numeric) if not schema.is_count(c)]
            scale = ColumnTransformer(
                [("counts", make_pipeline(FunctionTransformer(np.log1p), StandardScaler()),
                  counts), ("others", StandardScaler(), others)], remainder="passthrough")
            model = make_pipeline(scale, MLPClassifier(
                hidden_layer_sizes=(100, 50), learning_rate_init=1e-3, alpha=1e-4,
                batch_size=256, max_iter=20, early_stopping=False, random_state=SEED))
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    warnings.simplefilter("ignore", ConvergenceWarning)
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(x_train, y[train])
    fit_seconds, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    predicted = model.predict(x_test)
    per_class = f1_score(y[test], predicted, average=None, labels=range(len(classes)))
    print(json.dumps({
        "side": args.model, "threads": args.threads, "fit_seconds": fit_seconds,
        "fit_cpu_seconds": fit_cpu,
        "macro_f1": f1_score(y[test], predicted, average="macro"),
        "f1": dict(zip(chosen["classes"], map(float, per_class))),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("split")
    s.add_argument("data", type=Path)
    s.add_argument("out", type=Path)
    s.add_argument("--seed", type=int, default=SEED)
    s.add_argument("--test-share", type=float, default=0.3)
    f = sub.add_parser("fit")
    f.add_argument("data", type=Path)
    f.add_argument("split", type=Path)
    f.add_argument("--model", choices=["hgb", "hgb_l2", "lightgbm", "lightgbm_l2", "mlp"], required=True)
    f.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    return split(args) if args.command == "split" else fit(args)


if __name__ == "__main__":
    sys.exit(main())
