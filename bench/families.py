"""scikit-learn's side of bench/families.sh: RandomForestClassifier(n_estimators=100) on the
attack families.

Fits the forest on the training file's families (the schema's family table: an attack name
it lacks is `unknown`; UNSW-NB15's label already is the family; benign rows are their own
class), with the numeric columns as they are and the categorical ones one-hot (as
bench/sklearn_protocol.py encodes them), n_jobs = --threads, --repeats times (the fastest
counts), then writes the macro-F1 on the test file's rows of the training part's families,
the fit time and the peak RSS as JSON.

    python families.py TRAIN.csv TEST.csv OUT.json [--threads 1] [--repeats 1]
"""

import argparse
import json
import resource
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import f1_score
from sklearn.preprocessing import OneHotEncoder

from schema import SCHEMA_DIR, clean_columns, load_schema


def read_frame(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, encoding="utf-8-sig", low_memory=False)
    frame.columns = clean_columns(frame.columns)
    return frame


def family_table(name: str) -> dict[str, str]:
    """Attack name to family, from the built-in schema's `[families]` (empty for UNSW-NB15)."""
    for path in SCHEMA_DIR.glob("*.toml"):
        raw = tomllib.loads(path.read_text())
        if raw["name"] == name:
            return {a: f for f, names in raw.get("families", {}).items() for a in names}
    return {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("train", type=Path)
    parser.add_argument("test", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    train, test = read_frame(args.train), read_frame(args.test)
    schema = load_schema(train.columns)
    table = family_table(schema.name)

    def family(attack: str) -> str:
        if attack == schema.normal or not table:
            return attack
        return table.get(attack, "unknown")

    y_train = train[schema.label].astype(str).map(family).to_numpy()
    y_test = test[schema.label].astype(str).map(family).to_numpy()
    known = np.isin(y_test, np.unique(y_train))
    encoder = ColumnTransformer(
        [
            ("numeric", "passthrough", schema.numeric),
            ("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
             schema.categorical),
        ],
        remainder="drop",
    )
    x_train = np.ascontiguousarray(encoder.fit_transform(train[schema.features]), dtype=np.float32)
    x_test = np.ascontiguousarray(encoder.transform(test[schema.features][known]),
                                  dtype=np.float32)
    runs = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        forest = RandomForestClassifier(n_estimators=100, n_jobs=args.threads,
                                        random_state=42).fit(x_train, y_train)
        runs.append(time.perf_counter() - start)
    predicted = forest.predict(x_test)
    macro_f1 = f1_score(y_test[known], predicted, average="macro")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"scikit-learn {sklearn.__version__} RandomForestClassifier(100), {args.threads} "
          f"thread(s): fit {min(runs):.3f} s (fastest of {args.repeats}), macro-F1 "
          f"{macro_f1:.4f}, peak RSS {rss:.0f} MiB, classes {sorted(set(y_train))}")
    args.out.write_text(json.dumps({"threads": args.threads, "fit_seconds": min(runs),
                                    "runs": runs, "macro_f1": macro_f1,
                                    "peak_rss_mib": rss}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
