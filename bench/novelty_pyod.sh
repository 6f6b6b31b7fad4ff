#!/usr/bin/env bash
# nadir's normal-only detectors beside PyOD's on the leave-attacks-out folds of
# `nadir validate --novel`, on NSL-KDD or UNSW-NB15 (or any labelled file of a built-in schema;
# UNSW-NB15's folds leave attack categories out). See bench/NOVELTY.md. Usage:
#   bench/novelty_pyod.sh [DATA.csv]     (or NADIR_DATA=DATA.csv bench/novelty_pyod.sh)
#   bench/novelty_pyod.sh ../shared/data/UNSW_NB15_82332.csv
# Environment knobs:
#   NADIR_DATA        data file (default: ../shared/data/Network_anomaly_data.csv beside the repo)
#   NADIR_BENCH_VENV  the Python environment (default bench/.venv), with requirements-novelty.txt
#   BENCH_EPOCHS      autoencoder epochs on both sides, no early stopping (default 10)
#   BENCH_SEEDS       fit seeds of the seeded detectors (autoencoders, isolation forests) on
#                     both sides, comma-separated (default 42,1,2); the table averages them
# Writes bench/out/novelty/NAME/{folds,nadir,pyod}.json and the table
# bench/out/novelty-NAME.md, NAME the data file's name without `.csv`. The hybrid's numbers on
# the same folds come from `nadir validate --novel` (bench/NOVELTY.md).
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
VENV="${NADIR_BENCH_VENV:-$BENCH/.venv}"
DATA="${1:-${NADIR_DATA:-$ROOT/../shared/data/Network_anomaly_data.csv}}"
NAME="$(basename "$DATA" .csv)"
OUT="$BENCH/out/novelty/$NAME"
EPOCHS="${BENCH_EPOCHS:-10}"
SEEDS="${BENCH_SEEDS:-42,1,2}"
if [[ ! -f "$DATA" ]]; then
  echo "error: data file not found: $DATA (pass it as the first argument or set NADIR_DATA)" >&2
  exit 2
fi
mkdir -p "$OUT"
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

if [[ ! -x "$VENV/bin/python" ]]; then
  step "python environment ($VENV)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r "$BENCH/requirements-novelty.txt"
fi

step "nadir: the folds, and the autoencoder and isolation forest on them ($EPOCHS epochs, seeds $SEEDS, 1 thread)"
quiet nadir
(cd "$ROOT" && cargo run --release --locked -q -p nadir-ml --example novelty_folds -- \
  "$DATA" "$OUT" "$EPOCHS" "$SEEDS")

step "PyOD on the same folds ($EPOCHS epochs, seeds $SEEDS, 1 thread)"
quiet pyod
"$VENV/bin/python" "$BENCH/novelty_pyod.py" "$DATA" "$OUT" "$EPOCHS" "$SEEDS"

step "table"
"$VENV/bin/python" - "$OUT" <<'PY' | tee "$BENCH/out/novelty-$NAME.md"
import json, sys
from collections import defaultdict
out = sys.argv[1]
rows = json.load(open(f"{out}/nadir.json")) + json.load(open(f"{out}/pyod.json"))
by_model = defaultdict(lambda: defaultdict(list))
for r in rows:
    by_model[r["model"]][r["seed"]].append(r)
folds = list(dict.fromkeys(r["fold"] for r in rows))
at = lambda r, fpr: next(d["detection_rate"] for d in r["detection_at_fpr"] if d["target_fpr"] == fpr)
mean = lambda xs: sum(xs) / len(xs)
print("| detector | seeds | " + " | ".join(f"{f} @1%" for f in folds)
      + " | mean @0.5% | mean @1% | mean @2% | mean @1%, lowest–highest seed | fit s (sum) |")
print("|---" * (len(folds) + 7) + "|")
for model, by_seed in by_model.items():
    runs = list(by_seed.values())
    per_fold = {f: mean([at(r, 0.01) for rs in runs for r in rs if r["fold"] == f]) for f in folds}
    seed_means = {f: [mean([at(r, f) for r in rs]) for rs in runs] for f in (0.005, 0.01, 0.02)}
    fit = mean([sum(r["fit_seconds"] for r in rs) for rs in runs])
    spread = f"{100 * min(seed_means[0.01]):.1f}–{100 * max(seed_means[0.01]):.1f}" if len(runs) > 1 else "–"
    print(f"| {model} | {len(runs)} | " + " | ".join(f"{100 * per_fold[f]:.1f}" for f in folds)
          + " | " + " | ".join(f"{100 * mean(seed_means[f]):.1f}" for f in (0.005, 0.01, 0.02))
          + f" | {spread} | {fit:.1f} |")
PY
rm -rf "$ROOT/target/release"
