#!/usr/bin/env bash
# Explanation cost per record: nadir's TreeSHAP on its 100-tree random forest and its gradient
# boosting against Python shap's TreeExplainer on scikit-learn's 100-tree forest and its
# HistGradientBoosting, fitted on the same training split and explaining the same test rows,
# one thread each side; then the latency of single-record requests to `nadir serve` with and
# without ?explain=5 (loopback, one request at a time). Usage:
#   bench/explain.sh [DATA.csv]        (or NADIR_DATA=DATA.csv bench/explain.sh)
# Environment knobs: BENCH_ROWS (test rows explained, default 1000), BENCH_REPEATS (runs per
# side, the fastest counts; default 3), BENCH_REQUESTS (requests per HTTP case, default 2000),
# NADIR_BENCH_VENV (the Python environment, default bench/.venv), BENCH_SKIP_BUILD=1 (use the
# release binary as it is).
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
OUT="$BENCH/out"
VENV="${NADIR_BENCH_VENV:-$BENCH/.venv}"
ROWS="${BENCH_ROWS:-1000}"
REPEATS="${BENCH_REPEATS:-3}"
REQUESTS="${BENCH_REQUESTS:-2000}"
DATA="${1:-${NADIR_DATA:-$ROOT/../shared/data/Network_anomaly_data.csv}}"
if [[ ! -f "$DATA" ]]; then
  echo "error: data file not found: $DATA (pass it as the first argument or set NADIR_DATA)" >&2
  exit 2
fi
mkdir -p "$OUT"
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"

python_env
"$PY" -c "import shap" 2>/dev/null || "$PY" -m pip install --disable-pip-version-check -q "shap==0.51.0"

step "stratified 70/30 split of $DATA (seed 42)"
"$PY" "$BENCH/split.py" "$DATA" "$OUT" --seed 42 --test-share 0.3

step "shap TreeExplainer on scikit-learn's forest and HistGradientBoosting, $ROWS rows, $REPEATS runs"
quiet shap
OMP_NUM_THREADS=1 "$PY" "$BENCH/explain_shap.py" "$OUT/train.csv" "$OUT/test.csv" \
  "$OUT/explain-shap.json" --rows "$ROWS" --repeats "$REPEATS"

step "nadir TreeSHAP on its forest and gradient boosting, $ROWS rows, $REPEATS runs"
quiet nadir
(cd "$ROOT" && cargo bench -q -p nadir-ml --bench explain -- "$OUT/train.csv" "$OUT/test.csv" \
  --rows "$ROWS" --repeats "$REPEATS" --json "$OUT/explain-nadir.json")

step "ratio (shap seconds per record ÷ nadir seconds per record)"
"$PY" - "$OUT" <<'PYEOF' | tee "$OUT/explain-table.md"
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
shap_r = json.loads((out / "explain-shap.json").read_text())
nadir_r = json.loads((out / "explain-nadir.json").read_text())
print("| per record, 1 thread | shap TreeExplainer (scikit-learn) | nadir TreeSHAP | ratio |")
print("| --- | --- | --- | --- |")
for name, title in [("random_forest", "100-tree random forest"),
                    ("gradient_boosting", "gradient boosting")]:
    s, n = shap_r[name]["seconds_per_record"], nadir_r[name]["seconds_per_record"]
    trees = f" (scikit-learn: {shap_r[name]['trees']} trees; nadir: {nadir_r[name]['model']})"
    print(f"| {title}{trees} | {s * 1e3:.3f} ms | {n * 1e3:.3f} ms | {s / n:.1f}× |")
PYEOF

release_nadir
step "nadir train random_forest and gradient_boosting on the training split (2 folds)"
rm -rf "$OUT/explain-models"
timeout 900 "$NADIR" train --data "$OUT/train.csv" --test "$OUT/test.csv" --models rf,gb --folds 2 \
  --out "$OUT/explain-models" >"$OUT/explain-train.log" 2>&1 || { tail -n 20 "$OUT/explain-train.log" >&2; exit 1; }
rm -f "$OUT/explain-models/metrics.json"

step "single-record requests to nadir serve, without and with ?explain=5, $REQUESTS each"
"$NADIR" serve --models "$OUT/explain-models" --addr 127.0.0.1:0 >"$OUT/explain-serve.out" 2>"$OUT/explain-serve.log" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
URL=""
for _ in $(seq 1 600); do
  URL="$(sed -n 's/^listening on //p' "$OUT/explain-serve.out")"
  [[ -n "$URL" ]] && break
  kill -0 "$SERVER" 2>/dev/null || { tail -n 5 "$OUT/explain-serve.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$URL" ]] || { echo "error: nadir serve did not say where it listens" >&2; exit 1; }
quiet http
"$PY" "$BENCH/explain_http.py" "$URL" "$OUT/test.csv" "$OUT/explain-http.json" \
  --requests "$REQUESTS" | tee -a "$OUT/explain-table.md"
