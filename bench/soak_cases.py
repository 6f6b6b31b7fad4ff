"""Request cases for bench/soak.sh: valid, invalid and batch requests to the scoring routes,
each with the status the server must answer, cut from a labelled NSL-KDD-layout CSV (rows in
file order; the label columns left out).

    python soak_cases.py DATA.csv OUT_DIR

Writes OUT_DIR/cases.tsv (weight, method, path, content type or -, expected status, body file per
line; soak.lua picks cases in proportion to their weights) and the body files beside it.
"""

import csv
import json
import sys
from pathlib import Path

from loadtest_bodies import NOT_FEATURES, value


def main() -> int:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    with open(sys.argv[1], newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        keep = [i for i, name in enumerate(header) if name not in NOT_FEATURES]
        rows = [[row[i] for i in keep] for _, row in zip(range(200), reader)]
    if len(keep) != 41 or len(rows) < 200:
        sys.exit(f"{sys.argv[1]}: expected NSL-KDD's 41 feature columns and 200 rows")
    names = [header[i] for i in keep]
    records = [dict(zip(names, (value(v) for v in row))) for row in rows]

    missing = dict(records[1])
    del missing["srcbytes"]
    bad_rate = dict(records[2], serrorrate=7)
    csv_rows = [",".join(row) for row in rows[:100]]
    for i in range(0, 100, 20):
        csv_rows[i] = ",".join([""] * len(names))  # an empty-field row: skipped, counted
    ndjson_bad = [json.dumps(r) for r in records[:50]] + ["{}"] * 50

    cases = [
        # weight, method, path, content type, expected status, file name, body
        (40, "POST", "/v1/predict", "application/json", 200, "single.json", json.dumps(records[0])),
        (10, "POST", "/predict", "application/json", 200, "legacy.json",
         json.dumps({"features": [value(v) for v in rows[3]]})),
        (15, "POST", "/v1/predict", "application/json", 422, "missing.json", json.dumps(missing)),
        (10, "POST", "/v1/predict", "application/json", 422, "bad-rate.json", json.dumps(bad_rate)),
        (5, "POST", "/v1/predict", "application/json", 400, "malformed.json",
         json.dumps(records[0])[:-7]),
        (8, "POST", "/v1/predict", "application/json", 200, "batch.json", json.dumps(records)),
        (6, "POST", "/v1/predict?on_error=skip", "text/csv", 200, "batch-skip.csv",
         ",".join(names) + "\n" + "\n".join(csv_rows) + "\n"),
        (6, "POST", "/v1/predict", "application/x-ndjson", 422, "batch-bad.ndjson",
         "\n".join(ndjson_bad) + "\n"),
        (5, "GET", "/v1/models", "-", 200, "empty", ""),
        (5, "GET", "/healthz", "-", 200, "empty", ""),
    ]
    with open(out / "cases.tsv", "w") as manifest:
        for weight, method, path, content_type, status, name, body in cases:
            (out / name).write_text(body)
            manifest.write(f"{weight}\t{method}\t{path}\t{content_type}\t{status}\t{out / name}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
