#!/usr/bin/env bash
# Side-by-side benchmark of nadir against scikit-learn on one shared 70/30 split.
# See bench/README.md. Usage:
#   bench/compare_sklearn.sh [DATA.csv]        (or NADIR_DATA=DATA.csv bench/compare_sklearn.sh)
# Environment knobs:
#   NADIR_DATA            data file (default: ../shared/data/Network_anomaly_data.csv beside the repo)
#   BENCH_SKLEARN_KERNEL  0 to skip the RBFSampler+LinearSVC kernel-SVM reference (default 1)
#   BENCH_SKIP_BUILD      1 to use the existing target/release/nadir without building
# Exits 0 whenever the table was produced, whatever the targets say; non-zero if a step broke.
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
START=$SECONDS
step() { printf '\n== %s  (%ds elapsed)\n' "$1" "$((SECONDS - START))"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
LOAD_BEFORE="$(load)"

# --- 1. Python environment ---------------------------------------------------------------
step "python environment ($VENV)"
PYTHON_BOOT="$(command -v python3.11 || command -v python3)"
if [[ ! -x "$VENV/bin/python" ]]; then
  "$PYTHON_BOOT" -m venv "$VENV"
fi
if ! cmp -s "$BENCH/requirements.txt" "$VENV/.bench-requirements.txt"; then
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$BENCH/requirements.txt"
  cp "$BENCH/requirements.txt" "$VENV/.bench-requirements.txt"
fi
PY="$VENV/bin/python"
"$PY" -c 'import sklearn, numpy, pandas; print("python", __import__("platform").python_version(), "scikit-learn", sklearn.__version__, "numpy", numpy.__version__, "pandas", pandas.__version__)'

# --- 2. Build nadir ------------------------------------------------------------------------
NADIR="$ROOT/target/release/nadir"
NADIR_OK=1
if [[ "${BENCH_SKIP_BUILD:-0}" == 1 ]]; then
  step "using the existing $NADIR (BENCH_SKIP_BUILD=1)"
  [[ -x "$NADIR" ]] || NADIR_OK=0
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
if [[ $NADIR_OK == 0 ]]; then
  echo "warning: nadir did not build; running the scikit-learn side only" >&2
fi

# --- 3. One split for both tools -----------------------------------------------------------
step "stratified 70/30 split of $DATA (seed 42)"
"$PY" "$BENCH/split.py" "$DATA" "$OUT" --seed 42 --test-share 0.3

# --- 4. scikit-learn -----------------------------------------------------------------------
step "scikit-learn (OMP_NUM_THREADS=1)"
echo "kernel SVM: an exact SVC(kernel='rbf') is skipped (it does not train on 88k rows in"
echo "reasonable time); the reference is RBFSampler(gamma=0.02, n_components=1000)+LinearSVC."
KERNEL_FLAG=()
[[ "${BENCH_SKLEARN_KERNEL:-1}" == 0 ]] && KERNEL_FLAG=(--no-kernel)
OMP_NUM_THREADS=1 "$PY" "$BENCH/sklearn_protocol.py" \
  "$OUT/train.csv" "$OUT/test.csv" "$OUT/sklearn.json" "${KERNEL_FLAG[@]}"

# --- 5. nadir at 1 and 2 threads -----------------------------------------------------------
MODELS=(logistic_regression linear_svm kernel_svm decision_tree random_forest gradient_boosting mlp bagging voting)
rm -rf "$OUT/nadir-t1" "$OUT/nadir-t2" "$OUT/nadir-eval"
if [[ $NADIR_OK == 1 ]]; then
  for threads in 1 2; do
    step "nadir, RAYON_NUM_THREADS=$threads"
    cmd=("$NADIR" train --data "$OUT/train.csv" --test "$OUT/test.csv" --models all --folds 2
         --out "$OUT/nadir-t$threads")
    echo "RAYON_NUM_THREADS=$threads ${cmd[*]#"$ROOT/"}"
    if ! RAYON_NUM_THREADS=$threads "${cmd[@]}" >"$OUT/nadir-t$threads.log" 2>&1; then
      echo "error: nadir train failed at $threads thread(s); last lines of $OUT/nadir-t$threads.log:" >&2
      tail -n 20 "$OUT/nadir-t$threads.log" >&2
      NADIR_OK=0
      break
    fi
    grep -v '^\s*$' "$OUT/nadir-t$threads.log" | tail -n 14
  done
fi
if [[ $NADIR_OK == 1 ]]; then
  # The like-for-like accuracy: nadir's saved models re-scored at threshold 0.5.
  step "nadir evaluate --threshold 0.5 (accuracy at sklearn's default threshold)"
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
fi

# --- 6. The table --------------------------------------------------------------------------
step "comparison"
LOAD_AFTER="$(load)"
GIT="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || true)"
if [[ -n "$GIT" ]] && [[ -n "$(cd "$ROOT" && git status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ]]; then
  GIT="$GIT, uncommitted changes"
fi
CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)"
MEM="$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
RUSTC="$(rustc --version 2>/dev/null || true)"
CPU="$CPU" MEM="$MEM" RUSTC="$RUSTC" GIT="$GIT" COMMAND="$COMMAND" NPROC="$(nproc)" \
LOAD_BEFORE="$LOAD_BEFORE" LOAD_AFTER="$LOAD_AFTER" DATE="$(date -u '+%Y-%m-%d %H:%M UTC')" \
ELAPSED="$((SECONDS - START))" "$PY" - "$OUT/meta.json" "$OUT/split.json" <<'EOF'
import json, os, sys
e = os.environ
meta = {
    "machine": {"nproc": int(e["NPROC"]), "cpu": e["CPU"] or "unknown", "memory": e["MEM"],
                "load_before": e["LOAD_BEFORE"], "load_after": e["LOAD_AFTER"]},
    "git": e["GIT"], "rustc": e["RUSTC"], "command": e["COMMAND"], "date": e["DATE"],
    "seconds_before_table": int(e["ELAPSED"]),
    "split": json.load(open(sys.argv[2])),
}
json.dump(meta, open(sys.argv[1], "w"), indent=2)
EOF
NADIR_ARGS=()
if [[ $NADIR_OK == 1 ]]; then
  NADIR_ARGS=(--nadir1 "$OUT/nadir-t1/metrics.json" --nadir2 "$OUT/nadir-t2/metrics.json"
              --eval-dir "$OUT/nadir-eval")
fi
"$PY" "$BENCH/compare.py" --sklearn "$OUT/sklearn.json" "${NADIR_ARGS[@]}" \
  --meta "$OUT/meta.json" --out "$OUT/comparison.md"
echo "total $((SECONDS - START)) s"
if [[ $NADIR_OK == 0 ]]; then
  echo "nadir did not build or run: the table holds scikit-learn only" >&2
  exit 1
fi
