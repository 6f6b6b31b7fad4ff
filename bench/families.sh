#!/usr/bin/env bash
# Attack families: nadir's multi-class random forest against scikit-learn's
# RandomForestClassifier(n_estimators=100) on the same stratified 70/30 split, 1 and 2
# threads each: fit time (the fastest of BENCH_REPEATS fits), macro-F1 on the test part and
# peak RSS, each side in a process of its own per thread count. Usage:
#   bench/families.sh [DATA.csv]        (or NADIR_DATA=DATA.csv bench/families.sh)
# Environment knobs: BENCH_REPEATS (fits per side and thread count, default 1),
# NADIR_BENCH_VENV (the Python environment, default bench/.venv).
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
OUT="$BENCH/out"
VENV="${NADIR_BENCH_VENV:-$BENCH/.venv}"
REPEATS="${BENCH_REPEATS:-1}"
DATA="${1:-${NADIR_DATA:-$ROOT/../shared/data/Network_anomaly_data.csv}}"
if [[ ! -f "$DATA" ]]; then
  echo "error: data file not found: $DATA (pass it as the first argument or set NADIR_DATA)" >&2
  exit 2
fi
mkdir -p "$OUT"
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"

python_env

step "stratified 70/30 split of $DATA (seed 42)"
"$PY" "$BENCH/split.py" "$DATA" "$OUT" --seed 42 --test-share 0.3

step "cargo build of the families bench (release profile)"
(cd "$ROOT" && cargo bench -q -p nadir-ml --bench families --no-run) >"$OUT/families-build.log" 2>&1

for threads in 1 2; do
  step "scikit-learn RandomForestClassifier(100), $threads thread(s)"
  quiet "sklearn-$threads"
  OMP_NUM_THREADS=1 "$PY" "$BENCH/families.py" "$OUT/train.csv" "$OUT/test.csv" \
    "$OUT/families-sklearn-$threads.json" --threads "$threads" --repeats "$REPEATS"
  step "nadir multi-class forest, $threads thread(s)"
  quiet "nadir-$threads"
  (cd "$ROOT" && cargo bench -q -p nadir-ml --bench families -- "$OUT/train.csv" "$OUT/test.csv" \
    --threads "$threads" --repeats "$REPEATS" --json "$OUT/families-nadir-$threads.json")
done

step "table"
"$PY" - "$OUT" <<'PYEOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
print("| threads | scikit-learn fit | nadir fit | fit ratio | macro-F1 scikit-learn | macro-F1 nadir "
      "| peak RSS scikit-learn | peak RSS nadir |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for threads in (1, 2):
    s = json.loads((out / f"families-sklearn-{threads}.json").read_text())
    n = json.loads((out / f"families-nadir-{threads}.json").read_text())
    print(f"| {threads} | {s['fit_seconds']:.2f} s | {n['fit_seconds']:.2f} s "
          f"| {s['fit_seconds'] / n['fit_seconds']:.1f}× | {s['macro_f1']:.4f} | {n['macro_f1']:.4f} "
          f"| {s['peak_rss_mib']:.0f} MiB | {n['peak_rss_mib']:.0f} MiB |")
PYEOF
