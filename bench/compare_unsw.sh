#!/usr/bin/env bash
# nadir against its best peers (scikit-learn, and LightGBM for gradient boosting) on UNSW-NB15
# (or any file whose header matches a built-in schema), on one shared stratified 70/30 split,
# with all features and again without the TTL columns. See bench/README.md. Usage:
#   bench/compare_unsw.sh [DATA.csv]       (default ../shared/data/UNSW_NB15_82332.csv)
# Environment knobs:
#   BENCH_MODELS      comma-separated nadir model names, or `all` (default: the tree models and
#                     logistic regression: decision_tree,random_forest,gradient_boosting,
#                     logistic_regression; `all` adds the SVMs, the MLP, bagging and voting)
#   BENCH_DROP        the features of the second pass (default sttl,dttl,ct_state_ttl;
#                     empty: one pass with every feature)
#   BENCH_SKIP_BUILD  1 to use the existing target/release/nadir without building
#   BENCH_WAIT_QUIET  before each timed phase, wait up to this many seconds for a quieter machine
#   BENCH_SKLEARN_KERNEL  0 to skip the RBFSampler+LinearSVC kernel-SVM reference (with `all`)
#   BENCH_PREDICT_REPEATS  batch predictions timed per model, side and thread count (default 5)
#   BENCH_FIT_REPEATS  rounds of gradient-boosting fits timed per side and thread count (default 5)
# Every model runs in its own process on each side, under /usr/bin/time -v, for its peak
# memory: nadir `train --models M --folds 2` at RAYON_NUM_THREADS=1 and 2; the peers at
# OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1, with n_jobs=1 and 2 (random forest, LightGBM,
# bagging, voting) or 1 and 2 OpenMP threads (HistGradientBoosting, via threadpoolctl).
# Prediction is timed apart, BENCH_PREDICT_REPEATS times per side and thread count, and the
# medians compared: the peers' predict_proba on the test part (sklearn_protocol.py
# --predict-repeats), nadir's saved model scoring the same rows (benches/score_saved.rs).
# Gradient boosting's fit, the one target close to its goal, is timed apart too, in
# BENCH_FIT_REPEATS rounds: each round fits nadir's model (benches/gbdt_fit.rs: `Fit::fit` on
# the encoded training part, as `nadir train` times its final fit) and LightGBM's
# (sklearn_protocol.py: `LGBMClassifier.fit`) once per thread count, each side in a fresh
# process, the side that goes first alternating; the table compares the medians, and shows
# the fastest runs and the CPU times beside them. Each round then scores the test part once
# on each side with the model just fitted, and gradient boosting's predict target is judged
# on those side-by-side runs (the prediction phases above run minutes apart).
# Exits 0 once the table is written, whatever the targets say.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
OUT="$BENCH/out/unsw"
VENV="${NADIR_BENCH_VENV:-$BENCH/.venv}"
DATA="${1:-$ROOT/../shared/data/UNSW_NB15_82332.csv}"
if [[ ! -f "$DATA" ]]; then
  echo "error: data file not found: $DATA" >&2
  exit 2
fi
DATA="$(cd "$(dirname "$DATA")" && pwd)/$(basename "$DATA")"
ALL_MODELS=logistic_regression,linear_svm,kernel_svm,decision_tree,random_forest,gradient_boosting,mlp,bagging,voting
DEFAULT_MODELS=decision_tree,random_forest,gradient_boosting,logistic_regression
MODELS_ARG="${BENCH_MODELS:-$DEFAULT_MODELS}"
[[ "$MODELS_ARG" == all ]] && MODELS_ARG="$ALL_MODELS"
IFS=, read -r -a MODELS <<<"$MODELS_ARG"
for m in "${MODELS[@]}"; do
  if [[ ",$ALL_MODELS," != *",$m,"* ]]; then
    echo "error: BENCH_MODELS: unknown model '$m' (one of $ALL_MODELS, or all)" >&2
    exit 2
  fi
done
DROP="${BENCH_DROP-sttl,dttl,ct_state_ttl}"
PREDICT_REPEATS="${BENCH_PREDICT_REPEATS:-5}"
FIT_REPEATS="${BENCH_FIT_REPEATS:-5}"
[[ "$FIT_REPEATS" =~ ^[1-9][0-9]*$ ]] ||
  { echo "error: BENCH_FIT_REPEATS must be a positive number" >&2; exit 2; }
VARIANTS=(all)
[[ -n "$DROP" ]] && VARIANTS+=(drop)
COMMAND="${BENCH_MODELS:+BENCH_MODELS=$BENCH_MODELS }${BENCH_DROP+BENCH_DROP=$BENCH_DROP }${BENCH_FIT_REPEATS:+BENCH_FIT_REPEATS=$BENCH_FIT_REPEATS }bench/compare_unsw.sh${1:+ $1}"
[[ -x /usr/bin/time ]] || { echo "error: /usr/bin/time (GNU time) is needed for peak memory" >&2; exit 2; }

mkdir -p "$OUT"
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"
: >"$OUT/busy.tsv"
LOAD_BEFORE="$(load)"

python_env

NADIR="$OUT/nadir-bin"
rm -f "$NADIR"
if [[ "${BENCH_SKIP_BUILD:-0}" == 1 ]]; then
  step "using the existing target/release/nadir (BENCH_SKIP_BUILD=1)"
else
  step "cargo build --release -p nadir-cli"
  if ! (cd "$ROOT" && cargo build --release -p nadir-cli) >"$OUT/cargo-build.log" 2>&1; then
    grep -E -A6 '^error' "$OUT/cargo-build.log" | head -n 40 >&2 || true
    exit 1
  fi
  tail -n 1 "$OUT/cargo-build.log"
fi
cp "${CARGO_TARGET_DIR:-$ROOT/target}/release/nadir" "$NADIR"
step "cargo bench -p nadir-ml --bench score_saved --bench gbdt_fit (build)"
(cd "$ROOT" && cargo bench -p nadir-ml --bench score_saved --bench gbdt_fit --no-run) \
  >"$OUT/score-build.log" 2>&1 || { tail -n 20 "$OUT/score-build.log" >&2; exit 1; }

step "stratified 70/30 split of $DATA (seed 42)"
"$PY" "$BENCH/split.py" "$DATA" "$OUT" --seed 42 --test-share 0.3

KERNEL_FLAG=()
[[ "${BENCH_SKLEARN_KERNEL:-1}" == 0 ]] && KERNEL_FLAG=(--no-kernel)
for variant in "${VARIANTS[@]}"; do
  dir="$OUT/$variant"
  rm -rf "$dir"
  mkdir -p "$dir"
  DROP_ARGS=()
  [[ $variant == drop ]] && DROP_ARGS=(--drop "$DROP")
  step "peers, $variant features${DROP_ARGS[*]:+ (${DROP_ARGS[*]})}"
  quiet "peers-$variant"
  for m in "${MODELS[@]}"; do
    libs=(sklearn)
    [[ $m == gradient_boosting ]] && libs+=(lightgbm)
    for lib in "${libs[@]}"; do
      if ! OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/time -v -o "$dir/peer-$m-$lib.time" \
           "$PY" "$BENCH/sklearn_protocol.py" "$OUT/train.csv" "$OUT/test.csv" \
           "$dir/peer-$m-$lib.json" --models "$m" --peers "$lib" --hgb-threads 1,2 \
           --predict-repeats "$PREDICT_REPEATS" \
           "${DROP_ARGS[@]}" "${KERNEL_FLAG[@]}" 2>&1 | grep -v '^single-threaded\|encoded columns' \
           | sed "s/^  \([a-z]\)/  $lib \1/; s/^  lightgbm lightgbm /  lightgbm /"; then
        echo "error: $lib $m failed" >&2
        exit 1
      fi
    done
  done
  for threads in 1 2; do
    step "nadir, RAYON_NUM_THREADS=$threads, $variant features"
    quiet "nadir-$variant-t$threads"
    for m in "${MODELS[@]}"; do
      if ! RAYON_NUM_THREADS=$threads /usr/bin/time -v -o "$dir/nadir-t$threads-$m.time" \
           "$NADIR" train --data "$OUT/train.csv" --test "$OUT/test.csv" --models "$m" \
           --folds 2 --out "$dir/nadir-t$threads-$m" "${DROP_ARGS[@]}" \
           >"$dir/nadir-t$threads-$m.log" 2>&1; then
        echo "error: nadir train --models $m failed; see $dir/nadir-t$threads-$m.log" >&2
        tail -n 20 "$dir/nadir-t$threads-$m.log" >&2
        exit 1
      fi
      grep -E "^$m " "$dir/nadir-t$threads-$m.log" | sed 's/^/  /'
    done
  done
  step "nadir prediction, $PREDICT_REPEATS runs per thread count, $variant features"
  quiet "nadir-predict-$variant"
  for m in "${MODELS[@]}"; do
    model_file="$(ls "$dir/nadir-t1-$m/$m".* | head -n 1)"
    if ! (cd "$ROOT" && cargo bench -q -p nadir-ml --bench score_saved -- "$model_file" \
         "$OUT/test.csv" --repeats "$PREDICT_REPEATS" --threads 1,2 \
         --json "$dir/nadir-predict-$m.json") 2>"$dir/nadir-predict-$m.log" | sed 's/^/  /'; then
      echo "error: timing nadir's $m prediction failed; see $dir/nadir-predict-$m.log" >&2
      exit 1
    fi
  done
  if [[ ",$MODELS_ARG," == *,gradient_boosting,* ]]; then
    step "gradient boosting fit, $FIT_REPEATS rounds of nadir and LightGBM, $variant features"
    quiet "fit-rounds-$variant"
    for ((round = 1; round <= FIT_REPEATS; round++)); do
      sides=(nadir lightgbm)
      ((round % 2 == 0)) && sides=(lightgbm nadir)
      for side in "${sides[@]}"; do
        if [[ $side == nadir ]]; then
          (cd "$ROOT" && cargo bench -q -p nadir-ml --bench gbdt_fit -- "$OUT/train.csv" \
            "$OUT/test.csv" --repeats 1 --threads 1,2 "${DROP_ARGS[@]}" \
            --json "$dir/fit-nadir-r$round.json") >"$dir/fit-nadir-r$round.log" 2>&1 ||
            { echo "error: nadir's fit round $round failed; see $dir/fit-nadir-r$round.log" >&2; exit 1; }
          grep -E '^[0-9]+ thread' "$dir/fit-nadir-r$round.log" | sed "s/^/  round $round nadir /; s/; predict.*//"
        else
          OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$PY" "$BENCH/sklearn_protocol.py" \
            "$OUT/train.csv" "$OUT/test.csv" "$dir/fit-lightgbm-r$round.json" \
            --models gradient_boosting --peers lightgbm "${DROP_ARGS[@]}" \
            >"$dir/fit-lightgbm-r$round.log" 2>&1 ||
            { echo "error: LightGBM's fit round $round failed; see $dir/fit-lightgbm-r$round.log" >&2; exit 1; }
          grep -E '^  lightgbm' "$dir/fit-lightgbm-r$round.log" | sed "s/^  /  round $round /; s/ predict .*//"
        fi
      done
    done
  fi
  # nadir's saved models re-scored at threshold 0.5, scikit-learn's default.
  for m in "${MODELS[@]}"; do
    model_file="$(ls "$dir/nadir-t1-$m/$m".* | head -n 1)"
    RAYON_NUM_THREADS=1 "$NADIR" evaluate --model "$model_file" --data "$OUT/test.csv" \
      --threshold 0.5 --format json >"$dir/nadir-eval-$m.json" 2>/dev/null \
      || { echo "  $m: nadir evaluate failed" >&2; rm -f "$dir/nadir-eval-$m.json"; }
  done
done

step "comparison"
GIT="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || true)"
if [[ -n "$GIT" ]] && [[ -n "$(cd "$ROOT" && git status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ]]; then
  GIT="$GIT + uncommitted changes"
fi
"$PY" "$BENCH/compare_peers.py" "$OUT" --models "$MODELS_ARG" --variants "$(IFS=,; echo "${VARIANTS[*]}")" \
  --drop "$DROP" --fit-repeats "$FIT_REPEATS" --command "$COMMAND" --date "$(date -u '+%Y-%m-%d %H:%M UTC')" \
  --machine "$NPROC cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); load average $LOAD_BEFORE before, $(load) after" \
  --versions "nadir $("$NADIR" --version 2>/dev/null | awk '{print $NF}')${GIT:+ ($GIT)}, $(rustc --version 2>/dev/null || echo rustc ?), $PY_VERSIONS" \
  --elapsed "$((SECONDS - START))" --out "$OUT/comparison.md"
echo "total $((SECONDS - START)) s"
