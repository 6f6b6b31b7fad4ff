#!/usr/bin/env bash
# nadir's unsupervised models (PCA, DBSCAN, Isolation Forest) side by side with scikit-learn.
# See bench/UNSUPERVISED.md. Usage:
#   bench/compare_unsupervised.sh [DATA.csv]     (or NADIR_DATA=DATA.csv bench/compare_unsupervised.sh)
# Environment knobs:
#   NADIR_DATA              data file (default: ../shared/data/Network_anomaly_data.csv beside the repo)
#   BENCH_EPS               DBSCAN eps (default 0.5)
#   BENCH_MIN_SAMPLES       DBSCAN min_samples (default 10)
#   BENCH_SIZES             DBSCAN row counts (default "20000 50000 all")
#   BENCH_SEEDS             Isolation Forest seeds (default: the 20 seeds 42..61)
#   BENCH_SKLEARN_TIMEOUT   seconds before a scikit-learn DBSCAN run is stopped (default 600)
#   BENCH_SKLEARN_VMEM_GB   `ulimit -v` of a scikit-learn DBSCAN run, GiB (default 16)
#   BENCH_WAIT_QUIET        before each timed phase, wait up to this many seconds for other
#                           processes to use < 25 % of the CPU (default 0: no wait)
#   BENCH_SKIP_BUILD        1 to use the existing target/release/nadir without building
# Everything goes to bench/out/unsupervised/; the table to bench/out/unsupervised.md.
# Exits 0 once the table is written, whatever the targets say; 1 if nadir does not build.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
OUT="$BENCH/out/unsupervised"
VENV="$BENCH/.venv"
COMMAND="bench/compare_unsupervised.sh${1:+ $1}"
[[ -z "${1:-}" && -n "${NADIR_DATA:-}" ]] && COMMAND="NADIR_DATA=$NADIR_DATA $COMMAND"

DATA="${1:-${NADIR_DATA:-$ROOT/../shared/data/Network_anomaly_data.csv}}"
if [[ ! -f "$DATA" ]]; then
  echo "error: data file not found: $DATA (pass it as the first argument or set NADIR_DATA)" >&2
  exit 2
fi
DATA="$(cd "$(dirname "$DATA")" && pwd)/$(basename "$DATA")"

EPS="${BENCH_EPS:-0.5}"
MIN_SAMPLES="${BENCH_MIN_SAMPLES:-10}"
read -r -a SIZES <<<"${BENCH_SIZES:-20000 50000 all}"
read -r -a SEEDS <<<"${BENCH_SEEDS:-$(seq -s " " 42 61)}"
SK_TIMEOUT="${BENCH_SKLEARN_TIMEOUT:-600}"
SK_VMEM_GB="${BENCH_SKLEARN_VMEM_GB:-16}"
# GNU nproc honours OMP_NUM_THREADS: count the cores before setting it.
NPROC="$(nproc)"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

rm -rf "$OUT"
mkdir -p "$OUT"
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"
: >"$OUT/busy.tsv"
LOAD_BEFORE="$(load)"

# --- 1. Python environment ---------------------------------------------------------------
python_env
UNSUP="$BENCH/unsupervised.py"

# --- 2. Build nadir; copy the binary so a concurrent rebuild cannot swap it -----------------
NADIR="$OUT/nadir-bin"
if [[ "${BENCH_SKIP_BUILD:-0}" == 1 ]]; then
  step "using the existing target/release/nadir (BENCH_SKIP_BUILD=1)"
else
  step "cargo build --release -p nadir-cli"
  if (cd "$ROOT" && cargo build --release -p nadir-cli) >"$OUT/cargo-build.log" 2>&1; then
    tail -n 1 "$OUT/cargo-build.log"
  else
    grep -E -A6 '^error' "$OUT/cargo-build.log" | head -n 40 >&2 || true
    echo "error: nadir does not build (see $OUT/cargo-build.log)" >&2
    exit 1
  fi
fi
cp "$ROOT/target/release/nadir" "$NADIR"

# --- 3. Data: the shared 70/30 split and the DBSCAN subsets ---------------------------------
step "data: stratified 70/30 split (split.py, seed 42) and random subsets (seed 42)"
"$PY" "$BENCH/split.py" "$DATA" "$OUT" --seed 42 --test-share 0.3
SUBSET_SIZES="$(printf '%s\n' "${SIZES[@]}" | grep -v '^all$' | paste -sd, -)"
[[ -n "$SUBSET_SIZES" ]] && "$PY" "$UNSUP" subsets "$DATA" "$OUT" --sizes "$SUBSET_SIZES" --seed 42
rows_file() { if [[ $1 == all ]]; then echo "$DATA"; else echo "$OUT/rows-$1.csv"; fi; }

# --- 4. nadir cluster (PCA + kd-tree + DBSCAN) at every size, 1 and 2 threads ---------------
step "nadir cluster --eps $EPS --min-samples $MIN_SAMPLES at ${SIZES[*]} rows"
quiet nadir-cluster
for size in "${SIZES[@]}"; do
  for threads in 1 2; do
    dir="$OUT/cluster-$size-t$threads"
    points=()
    [[ $threads == 1 ]] && points=(--points "$dir/points.csv")
    if /usr/bin/time -f '%e %M' -o "$OUT/cluster-$size-t$threads.time" \
        env RAYON_NUM_THREADS=$threads "$NADIR" cluster --data "$(rows_file "$size")" --variance 0.95 \
        --eps "$EPS" --min-samples "$MIN_SAMPLES" --out "$dir" "${points[@]}" \
        >"$dir.log" 2>&1; then
      read -r wall kb <"$OUT/cluster-$size-t$threads.time"
      echo "$wall" >"$OUT/cluster-$size-t$threads.wall"
      echo "$kb" >"$OUT/cluster-$size-t$threads.rss"
      printf '  %6s rows, %d thread(s): %s; %s s, peak %d MiB\n' "$size" "$threads" \
        "$(grep -m1 '^DBSCAN' "$dir.log")" "$wall" "$((kb / 1024))"
    else
      echo "  $size rows, $threads thread(s): nadir cluster failed; last lines of $dir.log:" >&2
      tail -n 5 "$dir.log" >&2
    fi
  done
done

# --- 5. scikit-learn PCA on the same scaled matrix (all rows) --------------------------------
step "scikit-learn PCA(n_components=0.95) on nadir's scaled matrix (best of 3)"
quiet sklearn-pca
"$PY" "$UNSUP" pca "$DATA" "$OUT/sklearn-pca.json" --nadir-summary "$OUT/cluster-all-t1/summary.json" \
  --nadir-points "$OUT/cluster-all-t1/points.csv" || echo "  scikit-learn PCA failed" >&2

# --- 6. scikit-learn DBSCAN on nadir's points, until it fails or times out -------------------
step "scikit-learn DBSCAN(eps=$EPS, min_samples=$MIN_SAMPLES), n_jobs=1, timeout ${SK_TIMEOUT} s, ulimit -v ${SK_VMEM_GB} GiB"
quiet sklearn-dbscan
failed=""
for size in "${SIZES[@]}"; do
  status_file="$OUT/sklearn-dbscan-$size.status"
  points="$OUT/cluster-$size-t1/points.csv"
  if [[ -n "$failed" ]]; then
    echo "not run ($failed at fewer rows)" >"$status_file"; continue
  fi
  if [[ ! -f "$points" ]]; then
    echo "not run (no nadir points)" >"$status_file"; continue
  fi
  set +e
  (
    ulimit -v $((SK_VMEM_GB * 1024 * 1024))
    /usr/bin/time -f '%e %M' -o "$OUT/sklearn-dbscan-$size.time" \
      timeout "$SK_TIMEOUT" "$PY" "$UNSUP" dbscan "$points" "$OUT/sklearn-dbscan-$size.json" \
      --eps "$EPS" --min-samples "$MIN_SAMPLES" --nadir-labels "$OUT/cluster-$size-t1/labels.csv"
  ) >"$OUT/sklearn-dbscan-$size.log" 2>&1
  rc=$?
  set -e
  tail -n 1 "$OUT/sklearn-dbscan-$size.time" 2>/dev/null | awk '{print $2}' >"$OUT/sklearn-dbscan-$size.rss" || true
  if ((rc == 0)); then
    echo ok >"$status_file"
  elif ((rc == 124)); then
    failed="timed out > ${SK_TIMEOUT} s"
  elif ((rc == 3 || rc == 137)) || grep -q 'MemoryError\|Cannot allocate\|std::bad_alloc' "$OUT/sklearn-dbscan-$size.log"; then
    failed="failed: out of memory"
  else
    failed="failed (exit $rc, see $(basename "$OUT")/sklearn-dbscan-$size.log)"
  fi
  [[ -n "$failed" ]] && echo "$failed" >"$status_file"
  printf '  %6s rows: ' "$size"
  if [[ -z "$failed" ]]; then grep -h 'sklearn DBSCAN' "$OUT/sklearn-dbscan-$size.log" | sed 's/^ *//' | tr -d '\n'
  else printf '%s' "$failed"; fi
  printf '; peak %s KB\n' "$(cat "$OUT/sklearn-dbscan-$size.rss" 2>/dev/null)"
done

# --- 7. Isolation Forest: nadir ---------------------------------------------------------------
step "nadir train --models iforest (all rows and --normal-only; 1 and 2 threads; ${#SEEDS[@]} seeds ${SEEDS[0]}..${SEEDS[-1]})"
quiet nadir-iforest
for mode in all normal_only; do
  flag=()
  [[ $mode == normal_only ]] && flag=(--normal-only)
  for threads in 1 2; do
    for seed in "${SEEDS[@]}"; do
      dir="$OUT/iforest-$mode-t$threads-s$seed"
      if ! RAYON_NUM_THREADS=$threads "$NADIR" train --data "$OUT/train.csv" --test "$OUT/test.csv" \
          --models iforest --folds 2 --seed "$seed" --out "$dir" "${flag[@]}" >"$dir.log" 2>&1; then
        echo "  nadir iforest $mode t$threads seed $seed failed; see $dir.log" >&2
        continue
      fi
      "$PY" -c 'import json, sys; m = json.load(open(sys.argv[1]))["models"][0]
f, p, a = m["fit_seconds"], m["predict_seconds"], m["holdout"]["roc_auc"]
print(f"  nadir iforest {sys.argv[2]:<11} {sys.argv[3]} thread(s) seed {sys.argv[4]}: fit {f:.3f} s, score {p:.3f} s, AUC {a:.4f}")' \
        "$dir/metrics.json" "$mode" "$threads" "$seed" >>"$OUT/iforest-nadir-runs.log"
    done
    echo "  $mode rows, $threads thread(s): $(grep -c "^  nadir iforest $mode *$threads thread" "$OUT/iforest-nadir-runs.log" || true) runs"
  done
done
echo "  (per-seed results: $(basename "$OUT")/iforest-nadir-runs.log)"

# --- 8. Isolation Forest: scikit-learn --------------------------------------------------------
step "scikit-learn IsolationForest (n_jobs 1 and 2; ${#SEEDS[@]} seeds ${SEEDS[0]}..${SEEDS[-1]})"
quiet sklearn-iforest
"$PY" "$UNSUP" iforest "$OUT/train.csv" "$OUT/test.csv" "$OUT/sklearn-iforest.json" \
  --seeds "$(IFS=,; echo "${SEEDS[*]}")" --n-jobs 1,2 >"$OUT/iforest-sklearn-runs.log" 2>&1 \
  && echo "  $(grep -c 'sklearn IsolationForest' "$OUT/iforest-sklearn-runs.log") runs (per-seed results: $(basename "$OUT")/iforest-sklearn-runs.log)" \
  || { echo "  scikit-learn IsolationForest failed:" >&2; tail -n 5 "$OUT/iforest-sklearn-runs.log" >&2; }

# --- 9. The tables ---------------------------------------------------------------------------
step "tables"
GIT="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || true)"
if [[ -n "$GIT" ]] && [[ -n "$(cd "$ROOT" && git status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ]]; then
  GIT="$GIT + uncommitted changes"
fi
CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)" \
MEM="$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)" \
RUSTC="$(rustc --version 2>/dev/null || true)" GIT="$GIT" COMMAND="$COMMAND" NPROC="$NPROC" \
LOAD_BEFORE="$LOAD_BEFORE" LOAD_AFTER="$(load)" DATE="$(date -u '+%Y-%m-%d %H:%M UTC')" \
ELAPSED="$((SECONDS - START))" EPS="$EPS" MIN_SAMPLES="$MIN_SAMPLES" SIZES="${SIZES[*]}" \
SEEDS="${SEEDS[*]}" SK_TIMEOUT="$SK_TIMEOUT" SK_VMEM_GB="$SK_VMEM_GB" PY_VERSIONS="$PY_VERSIONS" \
"$PY" - "$OUT" <<'EOF'
import json, os, sys
from pathlib import Path
e, out = os.environ, Path(sys.argv[1])
busy = [dict(zip(("phase", "pct", "load"), line.split("\t")))
        for line in (out / "busy.tsv").read_text().splitlines()]
meta = {k.lower(): e[k] for k in ("CPU", "MEM", "RUSTC", "GIT", "COMMAND", "LOAD_BEFORE",
                                   "LOAD_AFTER", "DATE", "ELAPSED", "PY_VERSIONS")}
meta.update(nproc=int(e["NPROC"]), memory=e["MEM"], eps=float(e["EPS"]),
            min_samples=int(e["MIN_SAMPLES"]), sizes=e["SIZES"].split(), seeds=e["SEEDS"].split(),
            sklearn_timeout=int(e["SK_TIMEOUT"]), sklearn_vmem_gb=int(e["SK_VMEM_GB"]), busy=busy)
json.dump(meta, open(out / "meta.json", "w"), indent=2)
EOF
"$PY" "$UNSUP" report "$OUT" "$BENCH/out/unsupervised.md"
echo
echo "wrote bench/out/unsupervised.md; total $((SECONDS - START)) s"
