"""Request bodies for bench/compare_flask.sh, cut from the held-out test part (rows in file
order, numbers as JSON numbers, categories as text, attack/lastflag left out):

    legacy.lines       100 bodies {"features": [41 values in file order]}, one per line
    records.lines      the same 100 records as named-field JSON objects, one per line
    batch.json         1,000 records as one JSON array of named-field objects
    batch.csv          the same 1,000 records as CSV with the header
    batch-legacy.json  the same 1,000 records as {"features": [[41 values], ...]}

    python loadtest_bodies.py TEST.csv OUT_DIR
"""

import csv
import json
import sys
from pathlib import Path

NOT_FEATURES = {"attack", "lastflag"}


def value(text: str):
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def main() -> int:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    out = Path(sys.argv[2])
    with open(sys.argv[1], newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        keep = [i for i, name in enumerate(header) if name not in NOT_FEATURES]
        rows = [[row[i] for i in keep] for _, row in zip(range(1000), reader)]
    if len(keep) != 41 or len(rows) < 1000:
        sys.exit(f"{sys.argv[1]}: expected 41 feature columns and 1,000 rows")
    names = [header[i] for i in keep]
    typed = [[value(v) for v in row] for row in rows]
    records = [dict(zip(names, row)) for row in typed]
    (out / "legacy.lines").write_text(
        "".join(json.dumps({"features": row}) + "\n" for row in typed[:100]))
    (out / "records.lines").write_text("".join(json.dumps(r) + "\n" for r in records[:100]))
    (out / "batch.json").write_text(json.dumps(records))
    (out / "batch.csv").write_text(
        ",".join(names) + "\n" + "".join(",".join(row) + "\n" for row in rows))
    (out / "batch-legacy.json").write_text(json.dumps({"features": typed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
