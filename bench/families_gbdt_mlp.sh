#!/usr/bin/env bash
# Attack families (multi-class) on NSL-KDD: nadir's multi-class gradient boosting against
# scikit-learn's HistGradientBoostingClassifier and LightGBM (multiclass), and nadir's
# multi-class MLP against scikit-learn's MLPClassifier, on one stratified 70/30 split by family
# (seed 42), at 1 and 2 threads: fit time, macro-F1 on the test rows, peak RSS; the boosting
# peers also with an L2 penalty of 1 on leaf values, as nadir's multi_class preset. Every fit runs
# in a process of its own (its peak RSS is its own, data reading included). Usage:
#   bench/families_gbdt_mlp.sh [DATA.csv]        (or NADIR_DATA=DATA.csv ...)
# Environment knobs: BENCH_THREADS (default "1 2"); NADIR_BENCH_VENV (the Python environment,
# default bench/.venv).
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
OUT="$BENCH/out/families_gbdt_mlp"
VENV="${NADIR_BENCH_VENV:-$BENCH/.venv}"
THREADS="${BENCH_THREADS:-1 2}"
DATA="${1:-${NADIR_DATA:-$ROOT/../shared/data/Network_anomaly_data.csv}}"
if [[ ! -f "$DATA" ]]; then
  echo "error: data file not found: $DATA (pass it as the first argument or set NADIR_DATA)" >&2
  exit 2
fi
mkdir -p "$OUT"
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"

python_env

step "stratified 70/30 split of $DATA by attack family (seed 42)"
"$PY" "$BENCH/families_gbdt_mlp.py" split "$DATA" "$OUT/split.json"

step "cargo bench --no-run (the nadir driver, release)"
(cd "$ROOT" && cargo bench -q -p nadir-ml --bench families_gbdt_mlp --no-run) \
  >"$OUT/cargo-build.log" 2>&1 || { tail -n 20 "$OUT/cargo-build.log" >&2; exit 2; }

: >"$OUT/runs.jsonl"
for threads in $THREADS; do
  for model in gbdt gbdt_l0 mlp; do
    step "nadir $model, $threads thread(s)"
    quiet "nadir $model $threads"
    (cd "$ROOT" && cargo bench -q -p nadir-ml --bench families_gbdt_mlp -- "$DATA" \
      "$OUT/split.json" --model "$model" --threads "$threads") | tee -a "$OUT/runs.jsonl"
  done
  for model in hgb hgb_l2 lightgbm lightgbm_l2 mlp; do
    step "$model, $threads thread(s)"
    quiet "$model $threads"
    OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" \
      "$PY" "$BENCH/families_gbdt_mlp.py" fit "$DATA" "$OUT/split.json" --model "$model" \
      --threads "$threads" | tee -a "$OUT/runs.jsonl"
  done
done

step "table"
"$PY" - "$OUT/runs.jsonl" <<'PYEOF' | tee "$OUT/table.md"
import json, sys
runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
names = {"nadir gbdt": "nadir gradient boosting (multi_class: λ = 1)",
         "nadir gbdt_l0": "nadir gradient boosting (binary defaults: λ = 0)",
         "hgb": "scikit-learn HistGradientBoosting (λ = 0)",
         "hgb_l2": "scikit-learn HistGradientBoosting, l2_regularization=1",
         "lightgbm": "LightGBM multiclass (λ = 0)", "lightgbm_l2": "LightGBM multiclass, reg_lambda=1",
         "nadir mlp": "nadir MLP", "mlp": "scikit-learn MLPClassifier"}
peer = {"hgb": "nadir gbdt", "hgb_l2": "nadir gbdt", "lightgbm": "nadir gbdt",
        "lightgbm_l2": "nadir gbdt", "mlp": "nadir mlp"}
by = {(r["side"], r["threads"]): r for r in runs}
classes = list(runs[0]["f1"])
print("| model | threads | fit s | fit ÷ nadir's | macro-F1 | " + " | ".join(f"F1 {c}" for c in classes) + " | peak RSS MiB |")
print("|---" * (6 + len(classes)) + "|")
for r in runs:
    mine = by.get((peer.get(r["side"]), r["threads"]))
    ratio = f"{r['fit_seconds'] / mine['fit_seconds']:.2f}×" if mine else ""
    f1s = " | ".join(f"{r['f1'][c]:.3f}" for c in classes)
    print(f"| {names[r['side']]} | {r['threads']} | {r['fit_seconds']:.2f} | {ratio} | "
          f"{r['macro_f1']:.4f} | {f1s} | {r['peak_rss_mb']:.0f} |")
PYEOF
