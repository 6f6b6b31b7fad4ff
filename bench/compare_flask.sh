#!/usr/bin/env bash
# `nadir serve` against the original project's serving design: a Flask app around the same
# random forest in scikit-learn, under gunicorn with 2 sync workers. Loopback only, bounded
# in time (every step under `timeout`). See bench/README.md. Usage:
#   bench/compare_flask.sh [DATA.csv]        (or NADIR_DATA=DATA.csv bench/compare_flask.sh)
# Environment knobs:
#   BENCH_DURATION     seconds of each load run (default 10; a 2 s warm-up precedes each)
#   BENCH_CONNECTIONS  concurrent connections of the load runs (default 32)
#   BENCH_BATCH_RUNS   timed 1,000-record batches per server (default 21; the median is kept)
#   BENCH_WAIT_QUIET   before each timed phase, wait up to this many seconds for the other
#                      processes on the machine to use < 25 % of the CPU (default 0: no wait)
#   BENCH_SKIP_BUILD   1 to use the existing release binary without building
# Prints requests/s and p50/p99 latency of single-record requests for both servers, the
# time of a 1,000-record batch, the ratios and the targets; writes bench/out/flask/.
# Exits 0 whenever the table was produced, whatever the targets say.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
OUT="$BENCH/out/flask"
VENV="$OUT/../.venv-flask"
DURATION="${BENCH_DURATION:-10}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
BATCH_RUNS="${BENCH_BATCH_RUNS:-21}"
COMMAND="bench/compare_flask.sh${1:+ $1}"

DATA="${1:-${NADIR_DATA:-$ROOT/../shared/data/Network_anomaly_data.csv}}"
if [[ ! -f "$DATA" ]]; then
  echo "error: data file not found: $DATA (pass it as the first argument or set NADIR_DATA)" >&2
  exit 2
fi
DATA="$(cd "$(dirname "$DATA")" && pwd)/$(basename "$DATA")"

mkdir -p "$OUT"
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"
: >"$OUT/busy.tsv"
LOAD_BEFORE="$(load)"

SERVER_PIDS=()
stop_servers() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${SERVER_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  SERVER_PIDS=()
}
trap stop_servers EXIT

# --- 1. Tools ----------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
  step "installing wrk (Debian package)"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
command -v curl >/dev/null || { echo "error: curl is needed" >&2; exit 2; }

step "python environment ($VENV)"
if [[ ! -x "$VENV/bin/python" ]]; then
  "$(command -v python3.11 || command -v python3)" -m venv "$VENV"
fi
if ! cat "$BENCH/requirements.txt" "$BENCH/requirements-flask.txt" | cmp -s - "$VENV/.bench-requirements.txt"; then
  (cd "$BENCH" && timeout 900 "$VENV/bin/python" -m pip install --disable-pip-version-check -q \
    -r requirements-flask.txt)
  cat "$BENCH/requirements.txt" "$BENCH/requirements-flask.txt" >"$VENV/.bench-requirements.txt"
fi
PY="$VENV/bin/python"
PY_VERSIONS="$("$PY" -c 'import platform; from importlib.metadata import version as v; print("python", platform.python_version(), "scikit-learn", v("scikit-learn"), "flask", v("flask"), "gunicorn", v("gunicorn"))')"
echo "$PY_VERSIONS"

# --- 2. nadir ----------------------------------------------------------------------------
release_nadir
# A copy, so that a concurrent rebuild cannot swap the binary mid-run.
cp "$NADIR" "$OUT/nadir-bin"
NADIR="$OUT/nadir-bin"

# --- 3. The same split, the same forest on both sides -----------------------------------
step "stratified 70/30 split of $DATA (seed 42) and request bodies"
timeout 300 "$PY" "$BENCH/split.py" "$DATA" "$OUT" --seed 42 --test-share 0.3
timeout 120 "$PY" "$BENCH/loadtest_bodies.py" "$OUT/test.csv" "$OUT"

step "training: scikit-learn RandomForestClassifier(100 trees) and nadir random_forest"
OMP_NUM_THREADS=1 timeout 600 "$PY" "$BENCH/flask_app.py" train "$OUT/train.csv" "$OUT/sklearn_rf.joblib"
rm -rf "$OUT/models"
timeout 600 "$NADIR" train --data "$OUT/train.csv" --test "$OUT/test.csv" --models rf --folds 2 \
  --out "$OUT/models" >"$OUT/nadir-train.log" 2>&1 || { tail -n 20 "$OUT/nadir-train.log" >&2; exit 1; }
rm -f "$OUT/models/metrics.json"
grep -A2 '^model ' "$OUT/nadir-train.log" || true

# --- 4. The servers ----------------------------------------------------------------------
FLASK_PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
step "gunicorn -w 2 flask_app:app on 127.0.0.1:$FLASK_PORT; nadir serve on a free port"
(cd "$BENCH" && OMP_NUM_THREADS=1 NADIR_FLASK_MODEL="$OUT/sklearn_rf.joblib" exec \
  "$VENV/bin/gunicorn" -w 2 -b "127.0.0.1:$FLASK_PORT" --log-level warning flask_app:app) \
  >"$OUT/gunicorn.log" 2>&1 &
SERVER_PIDS+=($!)
"$NADIR" serve --models "$OUT/models" --addr 127.0.0.1:0 >"$OUT/nadir-serve.out" 2>"$OUT/nadir-serve.log" &
SERVER_PIDS+=($!)
FLASK_URL="http://127.0.0.1:$FLASK_PORT"
NADIR_URL=""
LEGACY_BODY="$(head -n 1 "$OUT/legacy.lines")"
for _ in $(seq 120); do
  for pid in "${SERVER_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "error: a server exited; see $OUT/gunicorn.log and $OUT/nadir-serve.log" >&2; tail -n 5 "$OUT/gunicorn.log" "$OUT/nadir-serve.log" >&2; exit 1; }
  done
  [[ -z "$NADIR_URL" ]] && NADIR_URL="$(sed -n 's/^listening on //p' "$OUT/nadir-serve.out")"
  if [[ -n "$NADIR_URL" ]] &&
    curl -sf -o /dev/null -H 'content-type: application/json' -d "$LEGACY_BODY" "$FLASK_URL/predict"; then
    break
  fi
  sleep 0.5
done
for url in "$FLASK_URL" "$NADIR_URL"; do
  if ! curl -sf -H 'content-type: application/json' -d "$LEGACY_BODY" "$url/predict"; then
    echo "error: no answer from $url; logs in $OUT/gunicorn.log and $OUT/nadir-serve.log" >&2
    exit 1
  fi
  echo "  <- $url/predict"
done

# --- 5. Single-record load: wrk, $CONNECTIONS connections -------------------------------
# load_run NAME URL BODIES CONTENT_TYPE
load_run() {
  local name=$1 url=$2 bodies=$3 type=$4
  step "$name: wrk -t2 -c$CONNECTIONS -d${DURATION}s POST $url"
  LOADTEST_BODIES="$bodies" LOADTEST_TYPE="$type" timeout 60 \
    wrk -t2 -c"$CONNECTIONS" -d2s --timeout 10s -s "$BENCH/loadtest.lua" "$url" >/dev/null
  quiet "$name"
  LOADTEST_BODIES="$bodies" LOADTEST_TYPE="$type" timeout $((DURATION + 60)) \
    wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s -s "$BENCH/loadtest.lua" "$url" \
    >"$OUT/$name.wrk"
  grep -v '^LOADTEST' "$OUT/$name.wrk" | sed -n '/Thread Stats/,$p'
  sed -n 's/^LOADTEST //p' "$OUT/$name.wrk" >"$OUT/$name.json"
}
load_run flask-single "$FLASK_URL/predict" "$OUT/legacy.lines" application/json
load_run nadir-single "$NADIR_URL/predict" "$OUT/legacy.lines" application/json
load_run nadir-v1-single "$NADIR_URL/v1/predict" "$OUT/records.lines" application/json

# --- 6. One 1,000-record batch, timed by curl, median of $BATCH_RUNS -----------------------
# batch_run NAME URL FILE CONTENT_TYPE
batch_run() {
  local name=$1 url=$2 file=$3 type=$4
  step "$name: $BATCH_RUNS x POST $(basename "$file") to $url"
  quiet "$name"
  curl -s -H "content-type: $type" --data-binary "@$file" "$url" >"$OUT/$name.answer"
  : >"$OUT/$name.times"
  for _ in $(seq "$BATCH_RUNS"); do
    timeout 60 curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H "content-type: $type" \
      --data-binary "@$file" "$url" >>"$OUT/$name.times"
  done
  awk '$1 != 200 { bad++ } END { if (bad) print "  " bad " request(s) failed" }' "$OUT/$name.times"
}
batch_run flask-batch "$FLASK_URL/predict" "$OUT/batch-legacy.json" application/json
batch_run nadir-batch-json "$NADIR_URL/v1/predict" "$OUT/batch.json" application/json
batch_run nadir-batch-csv "$NADIR_URL/v1/predict" "$OUT/batch.csv" text/csv

stop_servers

# --- 7. The table --------------------------------------------------------------------------
step "comparison"
CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)"
GIT="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || true)"
if [[ -n "$GIT" ]] && [[ -n "$(cd "$ROOT" && git status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ]]; then
  GIT="$GIT + uncommitted changes"
fi
"$PY" "$BENCH/loadtest_report.py" "$OUT" \
  --meta "command=$COMMAND" "date=$(date -u '+%Y-%m-%d %H:%M UTC')" "cpu=$CPU" "nproc=$NPROC" \
  "load_before=$LOAD_BEFORE" "load_after=$(load)" "git=$GIT" "versions=$PY_VERSIONS" \
  "duration=$DURATION" "connections=$CONNECTIONS" "batch_runs=$BATCH_RUNS"
echo "total $((SECONDS - START)) s"
