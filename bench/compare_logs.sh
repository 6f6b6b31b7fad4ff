#!/usr/bin/env bash
# What the log costs per request: `nadir serve` (a random forest trained on the 2,000-row
# sample) under wrk, single-record JSON requests on /v1/predict, with the log at `info` (no
# line per request) and at `nadir_server=debug,info` (a line per request), as text and as
# JSON; and, when OTHER is given (e.g. main's release binary), the same with that binary
# (NADIR_LOG=info / debug: text, as a binary without --log-format logs), the runs interleaved round
# by round so that a busy machine weighs on both alike. Loopback only, bounded in time.
# Usage:
#   bench/compare_logs.sh [OTHER_NADIR_BINARY]
# Environment knobs:
#   BENCH_DURATION     seconds of each load run (default 10; a 2 s warm-up precedes each)
#   BENCH_CONNECTIONS  concurrent connections (default 32)
#   BENCH_ROUNDS       rounds of every configuration (default 3; the medians are printed)
#   BENCH_SKIP_BUILD   1 to use the existing release binary without building
# Prints, per configuration, requests/s, p50 and p99, and the server's CPU time per request
# (user + system, from /proc: steadier than requests/s on a shared machine), each the median
# of the rounds; writes bench/out/logs/ (summary.md, runs.txt, each server's log).
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
OUT="$BENCH/out/logs"
DURATION="${BENCH_DURATION:-10}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
ROUNDS="${BENCH_ROUNDS:-3}"
OTHER="${1:-}"
SAMPLE="$ROOT/../shared/data/Network_anomaly_sample.csv"
[[ -f "$SAMPLE" ]] || { echo "error: $SAMPLE not found" >&2; exit 2; }
[[ -z "$OTHER" || -x "$OTHER" ]] || { echo "error: $OTHER is not an executable" >&2; exit 2; }

mkdir -p "$OUT"
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"
command -v wrk >/dev/null || { echo "error: wrk is needed (Debian: apt-get install wrk)" >&2; exit 2; }

release_nadir
cp "$NADIR" "$OUT/nadir-bin"
NADIR="$OUT/nadir-bin"
[[ -n "$OTHER" ]] && cp "$OTHER" "$OUT/other-bin"

step "training a random forest on the sample; request bodies"
rm -rf "$OUT/models"
timeout 600 "$NADIR" train --data "$SAMPLE" --models rf --folds 2 --out "$OUT/models" \
  >"$OUT/train.log" 2>&1 || { tail -n 20 "$OUT/train.log" >&2; exit 2; }
timeout 120 python3 "$BENCH/loadtest_bodies.py" "$SAMPLE" "$OUT" >/dev/null

SERVER_PID=""
trap '[[ -n "$SERVER_PID" ]] && kill -TERM "$SERVER_PID" 2>/dev/null; wait 2>/dev/null || true' EXIT

# The user and system CPU time of process PID, in clock ticks (/proc/PID/stat, fields 14 and
# 15 counted after the command name's closing parenthesis).
cpu_ticks() {
  local stat
  stat="$(cat "/proc/$1/stat")"
  stat="${stat##*) }"
  # shellcheck disable=SC2086
  set -- $stat
  echo $((${12} + ${13}))
}

# run NAME BINARY ENV... [-- ARGS...]: one load run against a fresh server.
run() {
  local name=$1 binary=$2 round=$3
  shift 3
  local env=() args=()
  while [[ $# -gt 0 && $1 != -- ]]; do env+=("$1"); shift; done
  [[ $# -gt 0 ]] && { shift; args=("$@"); }
  PORT="$(free_port)"
  env -u RUST_LOG -u NADIR_LOG "${env[@]}" "$binary" serve --models "$OUT/models" \
    --addr "127.0.0.1:$PORT" "${args[@]}" >/dev/null 2>"$OUT/$name.stderr" &
  SERVER_PID=$!
  await_server "$OUT/$name.stderr"
  local url="http://127.0.0.1:$PORT/v1/predict"
  LOADTEST_BODIES="$OUT/records.lines" LOADTEST_TYPE=application/json timeout 60 \
    wrk -t2 -c"$CONNECTIONS" -d2s --timeout 10s -s "$BENCH/loadtest.lua" "$url" >/dev/null
  local cpu_before cpu_after
  cpu_before="$(cpu_ticks "$SERVER_PID")"
  LOADTEST_BODIES="$OUT/records.lines" LOADTEST_TYPE=application/json timeout $((DURATION + 60)) \
    wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s -s "$BENCH/loadtest.lua" "$url" \
    >"$OUT/$name.wrk"
  cpu_after="$(cpu_ticks "$SERVER_PID")"
  sed -n 's/^LOADTEST {/{"cpu_ticks": '"$((cpu_after - cpu_before))"', /p' "$OUT/$name.wrk" \
    | sed "s/^/$name $round /" >>"$OUT/runs.txt"
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || true
  SERVER_PID=""
  rm -f "$OUT/$name.wrk"
  printf '  %-22s round %s: %s\n' "$name" "$round" "$(tail -n 1 "$OUT/runs.txt" | cut -d' ' -f3-)"
}

: >"$OUT/runs.txt"
for round in $(seq "$ROUNDS"); do
  step "round $round of $ROUNDS (load $(load))"
  if [[ -n "$OTHER" ]]; then
    run other-info "$OUT/other-bin" "$round" NADIR_LOG=info
    run other-debug "$OUT/other-bin" "$round" NADIR_LOG=debug
  fi
  run info-text "$NADIR" "$round" RUST_LOG=info
  run info-json "$NADIR" "$round" RUST_LOG=info -- --log-format json
  run debug-text "$NADIR" "$round" RUST_LOG=nadir_server=debug,info
  run debug-json "$NADIR" "$round" RUST_LOG=nadir_server=debug,info -- --log-format json
done

step "medians of $ROUNDS rounds ($DURATION s, $CONNECTIONS connections, single-record JSON on /v1/predict)"
python3 - "$OUT/runs.txt" "$(getconf CLK_TCK)" <<'EOF' | tee "$OUT/summary.md"
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, _round, summary = line.split(" ", 2)
    runs.setdefault(name, []).append(json.loads(summary))
ticks = int(sys.argv[2])
print("| configuration | requests/s | p50 ms | p99 ms | server CPU µs per request | non-2xx |")
print("| --- | --- | --- | --- | --- | --- |")
for name, results in runs.items():
    median = lambda key: statistics.median(r[key] for r in results)
    cpu = statistics.median(r["cpu_ticks"] / ticks / r["requests"] * 1e6 for r in results)
    print(f"| {name} | {median('rps'):.0f} | {median('p50_ms'):.2f} | {median('p99_ms'):.2f} | "
          f"{cpu:.1f} | {sum(r['non_2xx'] for r in results)} |")
EOF
