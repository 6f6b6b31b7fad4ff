#!/usr/bin/env bash
# `nadir stream` against a Python Redis Streams consumer (redis-py + scikit-learn's random
# forest) and against Redis's own XADD ceiling (redis-benchmark), on loopback, side by side in
# one run. See bench/STREAM.md. Usage:
#   bench/compare_stream.sh [DATA.csv]        (or NADIR_DATA=DATA.csv bench/compare_stream.sh)
# Environment knobs:
#   BENCH_N              records per full-speed run (default 100000: the test part, repeated)
#   BENCH_CONSUMERS      nadir consumer counts, one run each (default "1 2 4")
#   BENCH_PY_CONSUMERS   Python consumer counts (default "1 2")
#   BENCH_PACED_SECONDS  length of each half-rate latency run (default 10)
#   BENCH_CEILING_N      XADDs of the redis-benchmark ceiling (default 200000)
#   BENCH_WAIT_QUIET     before each timed run, wait up to this many seconds for the other
#                        processes on the machine to use < 25 % of the CPU (default 0: no wait)
#   BENCH_SKIP_BUILD     1 to use the existing release binary without building
# Every run gets a fresh `redis-server --save "" --appendonly no` on a free port, in a temporary
# directory, killed after the run; every wait is bounded. Prints the table (records/s, ratios
# to the Python consumer and to the XADD ceiling, p50/p99 latency, CPU per record, peak RSS)
# and writes it to bench/out/stream/stream.md. Exits 0 whenever the table was produced.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
OUT="$BENCH/out/stream"
VENV="$BENCH/.venv-stream"
N="${BENCH_N:-100000}"
CONSUMERS="${BENCH_CONSUMERS:-1 2 4}"
PY_CONSUMERS="${BENCH_PY_CONSUMERS:-1 2}"
PACED_SECONDS="${BENCH_PACED_SECONDS:-10}"
CEILING_N="${BENCH_CEILING_N:-200000}"
CEILING_PIPELINE=16
CEILING_CLIENTS=50
# grep finds nothing when no BENCH_ variable is set: not an error.
COMMAND="$( (env | grep -o '^BENCH_[A-Z_]*=[^ ]*' || true) | sort | tr '\n' ' ')bench/compare_stream.sh${1:+ $1}"

DATA="${1:-${NADIR_DATA:-$ROOT/../shared/data/Network_anomaly_data.csv}}"
if [[ ! -f "$DATA" ]]; then
  echo "error: data file not found: $DATA (pass it as the first argument or set NADIR_DATA)" >&2
  exit 2
fi
DATA="$(cd "$(dirname "$DATA")" && pwd)/$(basename "$DATA")"
for tool in redis-server redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null || { echo "error: $tool is needed (Debian package redis-server)" >&2; exit 2; }
done

# The bench's Python files are run and imported from bench/: no __pycache__ left in the tree.
export PYTHONDONTWRITEBYTECODE=1
mkdir -p "$OUT"
# What an earlier run left: its results, logs and process snapshots.
rm -f "$OUT"/*.json "$OUT"/*.txt "$OUT"/*.log "$OUT"/ceiling.csv
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"
: >"$OUT/busy.tsv"
LOAD_BEFORE="$(load)"

# --- Processes: Redis and the consumers, always stopped on exit -----------------------------
REDIS_PID=""
REDIS_DIR=""
CONSUMER_PIDS=()
stop_consumers() {
  local pid
  for pid in "${CONSUMER_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${CONSUMER_PIDS[@]}"; do
    # SIGTERM finishes the batch in flight; a consumer still there after 15 s is killed.
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  CONSUMER_PIDS=()
}
stop_redis() {
  if [[ -n "$REDIS_PID" ]]; then
    kill -TERM "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
  fi
  [[ -n "$REDIS_DIR" ]] && rm -rf "$REDIS_DIR"
  REDIS_PID=""
  REDIS_DIR=""
}
cleanup() {
  stop_consumers
  stop_redis
}
trap cleanup EXIT

# start_redis: a fresh server on a free loopback port; sets REDIS_PORT and REDIS_URL.
start_redis() {
  REDIS_DIR="$(mktemp -d)"
  REDIS_PORT="$(free_port)"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$REDIS_DIR" --logfile "$REDIS_DIR/redis.log" &
  REDIS_PID=$!
  REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
  for _ in $(seq 100); do
    [[ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]] && return
    kill -0 "$REDIS_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "error: redis-server did not start on port $REDIS_PORT" >&2
  cat "$REDIS_DIR/redis.log" >&2 || true
  exit 1
}

measure() { timeout 1200 "$PY" "$BENCH/stream_measure.py" "$@"; }

# --- 1. Python and nadir ------------------------------------------------------------------
step "python environment ($VENV)"
if [[ ! -x "$VENV/bin/python" ]]; then
  "$(command -v python3.11 || command -v python3)" -m venv "$VENV"
fi
if ! cmp -s "$BENCH/requirements-stream.txt" "$VENV/.bench-requirements.txt"; then
  timeout 900 "$VENV/bin/python" -m pip install --disable-pip-version-check -q \
    -r "$BENCH/requirements-stream.txt"
  cp "$BENCH/requirements-stream.txt" "$VENV/.bench-requirements.txt"
fi
PY="$VENV/bin/python"
PY_VERSIONS="$("$PY" -c 'import platform; from importlib.metadata import version as v; print("python", platform.python_version(), "scikit-learn", v("scikit-learn"), "redis-py", v("redis"), "hiredis", v("hiredis"))')"
echo "$PY_VERSIONS"

release_nadir
# A copy, so that a concurrent rebuild cannot swap the binary mid-run.
cp "$NADIR" "$OUT/nadir-bin"
NADIR="$OUT/nadir-bin"

# --- 2. The same split, the same forest on both sides, the records -------------------------
step "stratified 70/30 split of $DATA (seed 42); $N records from the test part"
timeout 300 "$PY" "$BENCH/split.py" "$DATA" "$OUT" --seed 42 --test-share 0.3
# records.csv: the test part's header, then its rows repeated up to N.
RECORDS="$OUT/records.csv"
awk -v n="$N" 'FNR == 1 { print; next } { rows[++r] = $0 } END { for (i = 0; i < n; i++) print rows[i % r + 1] }' \
  "$OUT/test.csv" >"$RECORDS"
# shape.csv: the header and one record of median length, whose published fields redis-benchmark sends.
{
  head -n 1 "$OUT/test.csv"
  awk 'FNR > 1 { print length($0) "\t" $0 }' "$OUT/test.csv" | sort -n -k1,1 -s |
    awk -v mid="$(($(wc -l <"$OUT/test.csv") / 2))" 'NR == mid { sub(/^[0-9]+\t/, ""); print }'
} >"$OUT/shape.csv"

step "training: nadir random_forest and scikit-learn RandomForestClassifier(100 trees)"
rm -rf "$OUT/models"
timeout 900 "$NADIR" train --data "$OUT/train.csv" --test "$OUT/test.csv" --models random_forest \
  --folds 2 --out "$OUT/models" >"$OUT/nadir-train.log" 2>&1 || { tail -n 20 "$OUT/nadir-train.log" >&2; exit 1; }
MODEL="$OUT/models/random_forest.nadir"
grep -A2 '^model ' "$OUT/nadir-train.log" || true
(cd "$BENCH" && OMP_NUM_THREADS=1 timeout 900 "$PY" stream_peer.py train "$OUT/train.csv" "$OUT/sklearn_rf.joblib")

# --- 3. The XADD ceiling, with entries the size of the published ones -----------------------
step "ceiling: redis-benchmark -n $CEILING_N -P $CEILING_PIPELINE -c $CEILING_CLIENTS XADD (fields of one published record)"
start_redis
timeout 60 "$NADIR" publish "$OUT/shape.csv" --redis "$REDIS_URL" --stream shape 2>"$OUT/publish-shape.log"
mapfile -t SHAPE < <(measure entry --redis "$REDIS_URL" --stream shape)
((${#SHAPE[@]} >= 2)) || { echo "error: nadir publish wrote no entry (see $OUT/publish-shape.log)" >&2; exit 1; }
RECORD_BYTES=0
for field in "${SHAPE[@]}"; do RECORD_BYTES=$((RECORD_BYTES + ${#field})); done
echo "  one entry: fields ${SHAPE[0]}$( ((${#SHAPE[@]} > 2)) && echo ", ${SHAPE[2]}"), $RECORD_BYTES bytes of names and values"
quiet ceiling
# Three runs (the stream emptied before each), the median kept: one run lasts under a second.
: >"$OUT/ceiling.csv"
for _ in 1 2 3; do
  redis-cli -p "$REDIS_PORT" del bench >/dev/null
  timeout 300 redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -n "$CEILING_N" -P "$CEILING_PIPELINE" \
    -c "$CEILING_CLIENTS" --csv XADD bench '*' "${SHAPE[@]}" | tail -n 1 >>"$OUT/ceiling.csv"
done
CEILING_RATES="$("$PY" -c 'import csv, sys; print(" ".join(row[1] for row in csv.reader(open(sys.argv[1]))))' "$OUT/ceiling.csv")"
CEILING_RATE="$(tr ' ' '\n' <<<"$CEILING_RATES" | sort -g | sed -n 2p)"
echo "  XADD/s: $CEILING_RATES (median $CEILING_RATE)"
printf '{"records_per_s": %s, "runs": "%s", "requests": %s, "pipeline": %s, "clients": %s, "record_bytes": %s}\n' \
  "$CEILING_RATE" "$CEILING_RATES" "$CEILING_N" "$CEILING_PIPELINE" "$CEILING_CLIENTS" "$RECORD_BYTES" >"$OUT/ceiling.json"
stop_redis

# --- 4. The runs --------------------------------------------------------------------------
# run MODE NAME TOOL CONSUMERS RECORDS_FILE [RATE]: a fresh Redis, CONSUMERS consumers of TOOL
# (nadir or python) in one group, results awaited and measured into $OUT/run-NAME.json.
# MODE live: the consumers wait on the empty stream, then the file is published (at RATE
# records/s when given). MODE drain: the file is published first, then the consumers start.
run() {
  local mode=$1 name=$2 tool=$3 consumers=$4 file=$5 rate=${6:-} count i redis_cpu complete=1
  count=$(($(wc -l <"$file") - 1))
  step "$name: $consumers $tool consumer(s), $count records${rate:+ at $rate records/s}$([[ $mode == drain ]] && echo ", published before they start")"
  quiet "$name"
  start_redis
  redis_cpu="$(measure redis-cpu --redis "$REDIS_URL")"
  [[ "$mode" == drain ]] && publish "$name" "$file" "$rate"
  for i in $(seq "$consumers"); do
    if [[ "$tool" == nadir ]]; then
      "$NADIR" stream --redis "$REDIS_URL" --input in --group bench --consumer "c$i" \
        --model "$MODEL" --output out --progress 0 2>"$OUT/$name-c$i.log" &
    else
      (cd "$BENCH" && OMP_NUM_THREADS=1 exec "$PY" stream_peer.py consume --redis "$REDIS_URL" \
        --input in --group bench --consumer "c$i" --model "$OUT/sklearn_rf.joblib" --output out) \
        2>"$OUT/$name-c$i.log" &
    fi
    CONSUMER_PIDS+=($!)
  done
  local measured=()
  if [[ "$mode" == live ]]; then
    if ((consumers > 0)); then
      measure ready --redis "$REDIS_URL" --stream in --group bench --consumers "$consumers" \
        --pids "${CONSUMER_PIDS[@]}" || { tail -n 5 "$OUT/$name"-c*.log >&2; exit 1; }
      # The consumers' CPU is counted from here: starting up and loading the model are not.
      measure procs "${CONSUMER_PIDS[@]}" >"$OUT/$name-procs-start.json"
      measured=(--procs-start "$OUT/$name-procs-start.json")
    fi
    publish "$name" "$file" "$rate"
  fi
  echo '[]' >"$OUT/$name-procs.json"
  if ((consumers > 0)); then
    measure wait --redis "$REDIS_URL" --output out --dead in:dead --count "$count" || complete=0
    measure procs "${CONSUMER_PIDS[@]}" >"$OUT/$name-procs.json"
  fi
  stop_consumers
  measure measure --redis "$REDIS_URL" --input in --output out --dead in:dead \
    --json "$OUT/run-$name.json" --predictions "$OUT/pred-$name.txt" \
    --redis-cpu-before "$redis_cpu" --procs "$OUT/$name-procs.json" "${measured[@]}" \
    --meta "mode=$mode" "tool=$tool" "consumers=$consumers" "rate=${rate:-0}" "complete=$complete"
  stop_redis
}

# publish NAME FILE [RATE]: nadir publish of FILE to the stream `in`, at RATE records/s if given.
publish() {
  timeout 900 "$NADIR" publish "$2" --redis "$REDIS_URL" --stream in ${3:+--rate "$3"} \
    2>"$OUT/$1-publish.log" || { cat "$OUT/$1-publish.log" >&2; exit 1; }
}

# paced NAME TOOL CONSUMERS: a live run at half the records/s of run NAME, for PACED_SECONDS.
paced() {
  local name=$1 tool=$2 consumers=$3 rate count
  rate="$("$PY" -c 'import json, sys; r = json.load(open(sys.argv[1])).get("records_per_s"); print(int(r / 2) if r else 0)' "$OUT/run-$name.json")"
  if ((rate < 1)); then
    echo "  no rate measured for $name: no paced run" >&2
    return
  fi
  count=$((rate * PACED_SECONDS))
  ((count > N)) && count=$N
  ((count < 1000)) && count=$((N < 1000 ? N : 1000))
  head -n $((count + 1)) "$RECORDS" >"$OUT/paced.csv"
  run live "paced-$name" "$tool" "$consumers" "$OUT/paced.csv" "$rate"
}

run live publish nadir 0 "$RECORDS"
for k in $CONSUMERS; do
  run live "nadir-$k" nadir "$k" "$RECORDS"
done
for k in $PY_CONSUMERS; do
  run live "python-$k" python "$k" "$RECORDS"
done
for k in $CONSUMERS; do
  run drain "drain-nadir-$k" nadir "$k" "$RECORDS"
done
for k in $PY_CONSUMERS; do
  run drain "drain-python-$k" python "$k" "$RECORDS"
done
for k in $CONSUMERS; do
  paced "nadir-$k" nadir "$k"
done
for k in $PY_CONSUMERS; do
  paced "python-$k" python "$k"
done

# --- 5. The table --------------------------------------------------------------------------
step "comparison"
CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)"
GIT="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || true)"
if [[ -n "$GIT" ]] && [[ -n "$(cd "$ROOT" && git status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ]]; then
  GIT="$GIT + uncommitted changes"
fi
measure report "$OUT" \
  --meta "command=$COMMAND" "date=$(date -u '+%Y-%m-%d %H:%M UTC')" "cpu=$CPU" "nproc=$NPROC" \
  "load_before=$LOAD_BEFORE" "load_after=$(load)" "git=$GIT" "versions=$PY_VERSIONS" \
  "redis=$(redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2)" "records=$N" \
  "record_bytes=$RECORD_BYTES" "paced_seconds=$PACED_SECONDS"
echo "total $((SECONDS - START)) s"
