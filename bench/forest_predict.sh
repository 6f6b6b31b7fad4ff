#!/usr/bin/env bash
# Random forest batch prediction, nadir against scikit-learn, with repeated runs on both sides.
# See bench/README.md ("Random forest prediction, repeated"). Usage:
#   bench/forest_predict.sh [DATA.csv]        (or NADIR_DATA=DATA.csv bench/forest_predict.sh)
# Environment knobs:
#   BENCH_REPEATS     scoring runs per side and thread count (default 10)
#   BENCH_WAIT_QUIET  before each timed phase, wait up to this many seconds for the other
#                     processes on the machine to use < 25 % of the CPU (default 0: no wait)
# compare_sklearn.sh times each prediction once, inside a whole training run; on a shared
# machine one run of a few tens of milliseconds is at the mercy of the scheduler. Here both
# tools fit the same forest on the same split files, then score the 37,792 test rows
# BENCH_REPEATS times per thread count. The target uses the fastest wall time of each side;
# the medians, and the median CPU time per run (all threads; it does not grow while other
# processes hold the cores), are printed beside it.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
OUT="$BENCH/out"
VENV="$BENCH/.venv"
REPEATS="${BENCH_REPEATS:-10}"
DATA="${1:-${NADIR_DATA:-$ROOT/../shared/data/Network_anomaly_data.csv}}"
if [[ ! -f "$DATA" ]]; then
  echo "error: data file not found: $DATA (pass it as the first argument or set NADIR_DATA)" >&2
  exit 2
fi
mkdir -p "$OUT"
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"
: >"$OUT/busy.tsv"

python_env

step "stratified 70/30 split of $DATA (seed 42)"
"$PY" "$BENCH/split.py" "$DATA" "$OUT" --seed 42 --test-share 0.3

step "cargo bench -p nadir-ml --bench forest_predict (build)"
(cd "$ROOT" && cargo bench -p nadir-ml --bench forest_predict --no-run) >"$OUT/forest-build.log" 2>&1 ||
  { tail -n 20 "$OUT/forest-build.log" >&2; exit 1; }

step "scikit-learn RandomForestClassifier, $REPEATS predict_proba runs per n_jobs"
quiet sklearn
OMP_NUM_THREADS=1 "$PY" "$BENCH/sklearn_protocol.py" "$OUT/train.csv" "$OUT/test.csv" \
  "$OUT/forest-sklearn.json" --models random_forest --predict-repeats "$REPEATS"

step "nadir random forest, $REPEATS scoring runs per thread count"
quiet nadir
(cd "$ROOT" && cargo bench -q -p nadir-ml --bench forest_predict -- "$OUT/train.csv" \
  "$OUT/test.csv" --repeats "$REPEATS" --json "$OUT/forest-nadir.json")

step "ratios (scikit-learn seconds ÷ nadir seconds)"
"$PY" - "$OUT" <<'PYEOF'
import json, statistics, sys
from pathlib import Path
out = Path(sys.argv[1])
sk = {r["n_jobs"]: r for r in json.loads((out / "forest-sklearn.json").read_text())["models"]}
nd = json.loads((out / "forest-nadir.json").read_text())["models"]["random_forest"]["threads"]
print("| threads (sklearn n_jobs) | sklearn wall, fastest / median | nadir wall, fastest / median "
      "| ratio, fastest wall | ratio, median wall | sklearn CPU / run | nadir CPU / run "
      "| ratio, CPU |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
ratios = {}
for t in (1, 2):
    runs, cpu = sk[t]["predict_runs"], sk[t]["predict_cpu_runs"]
    s_fast, s_med, s_cpu = min(runs), statistics.median(runs), statistics.median(cpu)
    n = nd[str(t)]
    n_fast, n_med = n["fastest"], statistics.median(n["runs"])
    n_cpu = statistics.median(n["cpu_runs"])
    ratios[t] = s_fast / n_fast
    print(f"| {t} | {s_fast * 1e3:.0f} / {s_med * 1e3:.0f} ms | {n_fast * 1e3:.1f} / "
          f"{n_med * 1e3:.1f} ms | {s_fast / n_fast:.1f}× | {s_med / n_med:.1f}× | "
          f"{s_cpu * 1e3:.0f} ms | {n_cpu * 1e3:.1f} ms | {s_cpu / n_cpu:.1f}× |")
print()
verdict = "PASS" if ratios[2] >= 5 else "FAIL"
print(f"Target: batch predict ≥ 5× faster than RandomForestClassifier(n_jobs=2), nadir at "
      f"2 threads: {ratios[2]:.1f}× {verdict}; per thread (1 vs n_jobs=1): {ratios[1]:.1f}×")
busy = [line.split("\t") for line in (out / "busy.tsv").read_text().splitlines()]
print("Other processes at the start of each phase: " +
      ", ".join(f"{phase} {pct} % of the cores (load {load})" for phase, pct, load in busy))
PYEOF
echo "total $((SECONDS - START)) s"
