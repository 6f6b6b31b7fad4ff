#!/usr/bin/env bash
# Side-by-side benchmark of nadir against scikit-learn on one shared 70/30 split.
# See bench/README.md. Usage:
#   bench/compare_sklearn.sh [DATA.csv]        (or NADIR_DATA=DATA.csv bench/compare_sklearn.sh)
# Environment knobs:
#   NADIR_DATA            data file (default: ../shared/data/Network_anomaly_data.csv beside the repo)
#   BENCH_WAIT_QUIET      before each timed phase, wait up to this many seconds for the other
#                         processes on the machine to use < 25 % of the CPU (default 0: no wait)
#   BENCH_SKLEARN_KERNEL  0 to skip the RBFSampler+LinearSVC kernel-SVM reference (default 1)
#   BENCH_SKIP_BUILD      1 to use the existing target/release/nadir without building
#   BENCH_MODELS          comma-separated nadir model names to run on both sides (default: all);
#                         BENCH_MODELS=random_forest times the forest alone (25 s on a quiet machine)
# Exits 0 whenever the full table was produced, whatever the targets say; non-zero if a step
# broke (if nadir does not build, the scikit-learn half is still run and tabulated, then 1).
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
OUT="$BENCH/out"
VENV="$BENCH/.venv"
COMMAND="bench/compare_sklearn.sh${1:+ $1}"
[[ -z "${1:-}" && -n "${NADIR_DATA:-}" ]] && COMMAND="NADIR_DATA=$NADIR_DATA $COMMAND"

DATA="${1:-${NADIR_DATA:-$ROOT/../shared/data/Network_anomaly_data.csv}}"
if [[ ! -f "$DATA" ]]; then
  echo "error: data file not found: $DATA (pass it as the first argument or set NADIR_DATA)" >&2
  exit 2
fi
DATA="$(cd "$(dirname "$DATA")" && pwd)/$(basename "$DATA")"

mkdir -p "$OUT"
ALL_MODELS=logistic_regression,linear_svm,kernel_svm,decision_tree,random_forest,gradient_boosting,mlp,bagging,voting
# What both tools are asked to train: `all` unless BENCH_MODELS narrows it.
SELECTED="${BENCH_MODELS:-all}"
IFS=, read -r -a MODELS <<<"${BENCH_MODELS:-$ALL_MODELS}"
for m in "${MODELS[@]}"; do
  if [[ ",$ALL_MODELS," != *",$m,"* ]]; then
    echo "error: BENCH_MODELS: unknown model '$m' (one of $ALL_MODELS)" >&2
    exit 2
  fi
done
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"
: >"$OUT/busy.tsv"
LOAD_BEFORE="$(load)"

# --- 1. Python environment ---------------------------------------------------------------
python_env

# --- 2. Build nadir ------------------------------------------------------------------------
# The binary is copied to bench/out so that a concurrent rebuild of target/ cannot swap it
# between the two nadir runs.
NADIR="$OUT/nadir-bin"
NADIR_OK=1
rm -f "$NADIR"
if [[ "${BENCH_SKIP_BUILD:-0}" == 1 ]]; then
  step "using the existing target/release/nadir (BENCH_SKIP_BUILD=1)"
else
  step "cargo build --release -p nadir-cli"
  if (cd "$ROOT" && cargo build --release -p nadir-cli) >"$OUT/cargo-build.log" 2>&1; then
    tail -n 1 "$OUT/cargo-build.log"
  else
    NADIR_OK=0
    grep -E -A6 '^error' "$OUT/cargo-build.log" | head -n 40 >&2 || true
    tail -n 3 "$OUT/cargo-build.log" >&2
  fi
fi
if [[ $NADIR_OK == 1 ]] && ! cp "${CARGO_TARGET_DIR:-$ROOT/target}/release/nadir" "$NADIR" 2>/dev/null; then
  NADIR_OK=0
fi
if [[ $NADIR_OK == 0 ]]; then
  echo "warning: no nadir binary; running the scikit-learn side only" >&2
fi

# --- 3. One split for both tools -----------------------------------------------------------
step "stratified 70/30 split of $DATA (seed 42)"
"$PY" "$BENCH/split.py" "$DATA" "$OUT" --seed 42 --test-share 0.3

# --- 4. scikit-learn -----------------------------------------------------------------------
step "scikit-learn (OMP_NUM_THREADS=1)"
quiet sklearn
echo "kernel SVM: an exact SVC(kernel='rbf') is skipped (it does not train on 88k rows in"
KERNEL_FLAG=()
if [[ "${BENCH_SKLEARN_KERNEL:-1}" == 0 ]]; then
  KERNEL_FLAG=(--no-kernel)
  echo "reasonable time); no reference either (BENCH_SKLEARN_KERNEL=0)."
else
  echo "reasonable time); the reference is RBFSampler(gamma=0.02, n_components=1000)+LinearSVC."
fi
OMP_NUM_THREADS=1 "$PY" "$BENCH/sklearn_protocol.py" \
  "$OUT/train.csv" "$OUT/test.csv" "$OUT/sklearn.json" "${KERNEL_FLAG[@]}" --models "$SELECTED"

# --- 5. nadir at 1 and 2 threads -----------------------------------------------------------
rm -rf "$OUT/nadir-t1" "$OUT/nadir-t2" "$OUT/nadir-eval" "$OUT"/nadir-t?.time
if [[ $NADIR_OK == 1 ]]; then
  for threads in 1 2; do
    step "nadir, RAYON_NUM_THREADS=$threads"
    quiet "nadir-t$threads"
    echo "RAYON_NUM_THREADS=$threads target/release/nadir train --data bench/out/train.csv" \
      "--test bench/out/test.csv --models $SELECTED --folds 2 --out bench/out/nadir-t$threads"
    TIMEFORMAT='%R %U %S'
    if ! { time RAYON_NUM_THREADS=$threads "$NADIR" train --data "$OUT/train.csv" \
             --test "$OUT/test.csv" --models "$SELECTED" --folds 2 --out "$OUT/nadir-t$threads" \
             >"$OUT/nadir-t$threads.log" 2>&1; } 2>"$OUT/nadir-t$threads.time"; then
      echo "error: nadir train failed at $threads thread(s); last lines of $OUT/nadir-t$threads.log:" >&2
      tail -n 20 "$OUT/nadir-t$threads.log" >&2
      NADIR_OK=0
      break
    fi
    # nadir's own summary table (its accuracy is at its CV-chosen threshold).
    sed -n '/^model /,/^$/p' "$OUT/nadir-t$threads.log"
    read -r real user sys <"$OUT/nadir-t$threads.time"
    awk -v r="$real" -v u="$user" -v s="$sys" -v t="$threads" 'BEGIN {
      printf "whole run (2-fold CV + final fits): %.0f s wall, %.0f s CPU: %.0f %% of %d core(s)\n",
        r, u + s, 100 * (u + s) / (r * t), t }'
  done
fi
if [[ $NADIR_OK == 1 ]]; then
  # The like-for-like accuracy: nadir's saved models re-scored at threshold 0.5.
  step "nadir evaluate --threshold 0.5 (accuracy at scikit-learn's default threshold)"
  mkdir -p "$OUT/nadir-eval"
  for m in "${MODELS[@]}"; do
    model_file="$(ls "$OUT/nadir-t1/$m".* 2>/dev/null | head -n 1 || true)"
    [[ -n "$model_file" ]] || { echo "  $m: no saved model"; continue; }
    if ! RAYON_NUM_THREADS=1 "$NADIR" evaluate --model "$model_file" --data "$OUT/test.csv" \
         --threshold 0.5 --format json >"$OUT/nadir-eval/$m.json" 2>"$OUT/nadir-eval/$m.err"; then
      echo "  $m: nadir evaluate failed (see $OUT/nadir-eval/$m.err)"
      rm -f "$OUT/nadir-eval/$m.json"
    fi
  done
  echo "done"
fi

# --- 6. The table --------------------------------------------------------------------------
step "comparison"
LOAD_AFTER="$(load)"
GIT="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || true)"
if [[ -n "$GIT" ]] && [[ -n "$(cd "$ROOT" && git status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ]]; then
  GIT="$GIT + uncommitted changes"
fi
CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)"
MEM="$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
RUSTC="$(rustc --version 2>/dev/null || true)"
CPU="$CPU" MEM="$MEM" RUSTC="$RUSTC" GIT="$GIT" COMMAND="$COMMAND" NPROC="$NPROC" \
LOAD_BEFORE="$LOAD_BEFORE" LOAD_AFTER="$LOAD_AFTER" DATE="$(date -u '+%Y-%m-%d %H:%M UTC')" \
ELAPSED="$((SECONDS - START))" "$PY" - "$OUT" <<'EOF'
import json, os, sys
from pathlib import Path
e, out = os.environ, Path(sys.argv[1])
busy = {}
for line in (out / "busy.tsv").read_text().splitlines():
    phase, pct, load = line.split("\t")
    busy[phase] = {"other_cpu_percent": int(pct), "load": load}
nadir_cpu = {}
for t in (1, 2):
    f = out / f"nadir-t{t}.time"
    if f.is_file() and f.read_text().split():
        real, user, sys_ = map(float, f.read_text().split()[-3:])
        nadir_cpu[f"t{t}"] = {"wall": real, "cpu": user + sys_, "share": (user + sys_) / (real * t)}
meta = {
    "machine": {"nproc": int(e["NPROC"]), "cpu": e["CPU"] or "unknown", "memory": e["MEM"],
                "load_before": e["LOAD_BEFORE"], "load_after": e["LOAD_AFTER"]},
    "busy_at_phase_start": busy,
    "nadir_cpu": nadir_cpu,
    "git": e["GIT"], "rustc": e["RUSTC"], "command": e["COMMAND"], "date": e["DATE"],
    "seconds_before_table": int(e["ELAPSED"]),
    "split": json.load(open(out / "split.json")),
}
json.dump(meta, open(out / "meta.json", "w"), indent=2)
EOF
NADIR_ARGS=()
if [[ $NADIR_OK == 1 ]]; then
  NADIR_ARGS=(--nadir1 "$OUT/nadir-t1/metrics.json" --nadir2 "$OUT/nadir-t2/metrics.json"
              --eval-dir "$OUT/nadir-eval")
fi
"$PY" "$BENCH/compare.py" --sklearn "$OUT/sklearn.json" "${NADIR_ARGS[@]}" \
  --meta "$OUT/meta.json" --models "${BENCH_MODELS:-$ALL_MODELS}" --out "$OUT/comparison.md"
echo "total $((SECONDS - START)) s"
if [[ $NADIR_OK == 0 ]]; then
  echo "nadir did not build or run: the table holds scikit-learn only" >&2
  exit 1
fi
