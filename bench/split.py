"""One stratified 70/30 split of the data file, shared by scikit-learn and nadir.

Rows are copied byte for byte (header first, original order kept within each part), so both
tools parse exactly the same text. The split is stratified on the binary label (the schema's
label column != its normal value: attack != "normal" on NSL-KDD, attack_cat != "Normal" on
UNSW-NB15) with scikit-learn's train_test_split, seed 42 by default. The schema is the built-in
one the header matches (bench/schema.py), or --schema NAME.

    python split.py DATA.csv OUT_DIR [--seed 42] [--test-share 0.3] [--schema NAME]
"""

import argparse
import csv
import io
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from schema import clean_columns, load_schema


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--test-share", type=float, default=0.3)
    parser.add_argument("--schema", help="built-in schema name (default: from the header)")
    args = parser.parse_args()

    with open(args.data, newline="") as f:
        lines = f.read().splitlines(keepends=True)
    header, rows = lines[0], [line for line in lines[1:] if line.strip()]
    columns = clean_columns(next(csv.reader(io.StringIO(header))))
    schema = load_schema(columns, args.schema)
    if schema.label not in columns:
        sys.exit(f"{args.data}: no `{schema.label}` column in the header")
    attack = columns.index(schema.label)
    labels = np.array([next(csv.reader(io.StringIO(r)))[attack] != schema.normal for r in rows])

    train_idx, test_idx = train_test_split(
        np.arange(len(rows)),
        test_size=args.test_share,
        stratify=labels,
        random_state=args.seed,
    )
    args.out_dir.mkdir(parents=True, exist_ok=True)
    summary = {"source": str(args.data.resolve()), "schema": schema.name, "seed": args.seed,
               "test_share": args.test_share}
    for name, idx in (("train", np.sort(train_idx)), ("test", np.sort(test_idx))):
        path = args.out_dir / f"{name}.csv"
        with open(path, "w", newline="") as f:
            f.write(header if header.endswith("\n") else header + "\n")
            for i in idx:
                row = rows[i]
                f.write(row if row.endswith("\n") else row + "\n")
        summary[name] = {
            "path": str(path),
            "rows": int(len(idx)),
            "attacks": int(labels[idx].sum()),
        }
    with open(args.out_dir / "split.json", "w") as f:
        json.dump(summary, f, indent=2)
    print(
        f"split {len(rows)} {schema.name} rows (seed {args.seed}): "
        f"train {summary['train']['rows']} ({summary['train']['attacks']} attacks), "
        f"test {summary['test']['rows']} ({summary['test']['attacks']} attacks)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
