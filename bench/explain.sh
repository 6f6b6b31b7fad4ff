#!/usr/bin/env bash
# Explanation cost per record: nadir's TreeSHAP on its 100-tree random forest against Python
# shap's TreeExplainer on scikit-learn's 100-tree forest, fitted on the same training split
# and explaining the same test rows, one thread each side. Usage:
#   bench/explain.sh [DATA.csv]        (or NADIR_DATA=DATA.csv bench/explain.sh)
# Environment knobs: BENCH_ROWS (test rows explained, default 1000), BENCH_REPEATS (runs per
# side, the fastest counts; default 3).
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
OUT="$BENCH/out"
VENV="$BENCH/.venv"
ROWS="${BENCH_ROWS:-1000}"
REPEATS="${BENCH_REPEATS:-3}"
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

step "shap TreeExplainer on scikit-learn's forest, $ROWS rows, $REPEATS runs"
OMP_NUM_THREADS=1 "$PY" "$BENCH/explain_shap.py" "$OUT/train.csv" "$OUT/test.csv" \
  "$OUT/explain-shap.json" --rows "$ROWS" --repeats "$REPEATS"

step "nadir TreeSHAP on its forest, $ROWS rows, $REPEATS runs"
(cd "$ROOT" && cargo bench -q -p nadir-ml --bench explain -- "$OUT/train.csv" "$OUT/test.csv" \
  --rows "$ROWS" --repeats "$REPEATS" --json "$OUT/explain-nadir.json")

step "ratio (shap seconds per record ÷ nadir seconds per record)"
"$PY" - "$OUT" <<'PYEOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
shap_s = json.loads((out / "explain-shap.json").read_text())["seconds_per_record"]
nadir_s = json.loads((out / "explain-nadir.json").read_text())["seconds_per_record"]
print("| per record, 1 thread | shap TreeExplainer (scikit-learn forest) | nadir TreeSHAP | ratio |")
print("| --- | --- | --- | --- |")
print(f"| 100-tree random forest | {shap_s * 1e3:.3f} ms | {nadir_s * 1e3:.3f} ms "
      f"| {shap_s / nadir_s:.1f}× |")
PYEOF
