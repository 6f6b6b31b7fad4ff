#!/usr/bin/env bash
# Soak test of `nadir serve`: SOAK_CONNECTIONS (32) connections for MINUTES (10) minutes,
# mixing valid, invalid and batch requests (bench/soak_cases.py), while the server's resident
# memory and open file descriptors are sampled every 5 seconds. Passes when every answer has
# the status its case expects (no 5xx, no socket errors, no timeouts), resident memory at the
# end is within 10 % of its level just after the warm-up (medians of the first and last fifth
# of the samples), and the descriptor count stays flat.
# See bench/README.md. Usage:
#   bench/soak.sh [MINUTES] [DATA.csv]   (default 10, ../shared/data/Network_anomaly_data.csv)
# Environment knobs:
#   SOAK_CONNECTIONS  concurrent connections (default 32)
#   SOAK_WARMUP       seconds of warm-up excluded from the flatness checks (default: a fifth
#                     of the run, at most 120)
#   BENCH_SKIP_BUILD  1 to use the existing target/release/nadir without building
# Exits 0 when every check passes, 1 when one fails, 2 on a usage or setup error.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
OUT="$BENCH/out/soak"
MINUTES="${1:-10}"
DATA="${2:-$ROOT/../shared/data/Network_anomaly_data.csv}"
CONNECTIONS="${SOAK_CONNECTIONS:-32}"
SECONDS_TOTAL=$((MINUTES * 60))
WARMUP="${SOAK_WARMUP:-$((SECONDS_TOTAL / 5 < 120 ? SECONDS_TOTAL / 5 : 120))}"
[[ "$MINUTES" =~ ^[1-9][0-9]*$ ]] || { echo "error: MINUTES must be a positive whole number, got '$MINUTES'" >&2; exit 2; }
[[ -f "$DATA" ]] || { echo "error: data file not found: $DATA" >&2; exit 2; }
mkdir -p "$OUT"
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"

if ! command -v wrk >/dev/null; then
  step "installing wrk (Debian package)"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi

release_nadir

step "models and request cases"
rm -rf "$OUT/models" "$OUT/cases"
"$NADIR" train --data "$DATA" --models random_forest,iforest --folds 2 --out "$OUT/models" >"$OUT/train.log" 2>&1 || {
  tail -n 20 "$OUT/train.log" >&2
  exit 2
}
python3 "$BENCH/soak_cases.py" "$DATA" "$OUT/cases"

PORT="$(free_port)"
SERVER_PID=""
SAMPLER_PID=""
cleanup() {
  [[ -n "$SAMPLER_PID" ]] && kill "$SAMPLER_PID" 2>/dev/null || true
  [[ -n "$SERVER_PID" ]] && kill -TERM "$SERVER_PID" 2>/dev/null || true
}
trap cleanup EXIT
NADIR_LOG="${NADIR_LOG:-warn}" "$NADIR" serve --models "$OUT/models" --addr "127.0.0.1:$PORT" 2>"$OUT/server.log" &
SERVER_PID=$!
await_server "$OUT/server.log"

step "checking each case once"
while IFS=$'\t' read -r _ method path content_type status file; do
  args=(-s -o /dev/null -w '%{http_code}' -X "$method")
  [[ "$content_type" != - ]] && args+=(-H "content-type: $content_type" --data-binary "@$file")
  got="$(curl "${args[@]}" "http://127.0.0.1:$PORT$path")"
  [[ "$got" == "$status" ]] || { echo "error: $method $path ($(basename "$file")) answered $got, expected $status" >&2; exit 1; }
done <"$OUT/cases/cases.tsv"
echo "every case answers as expected"

step "soak: $CONNECTIONS connections for $MINUTES minute(s), sampling every 5 s"
: >"$OUT/samples.tsv"
(
  start=$SECONDS
  while kill -0 "$SERVER_PID" 2>/dev/null; do
    rss="$(awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0)"
    fds="$(find "/proc/$SERVER_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
    printf '%d\t%s\t%s\n' "$((SECONDS - start))" "$rss" "$fds" >>"$OUT/samples.tsv"
    sleep 5
  done
) &
SAMPLER_PID=$!
LOAD_BEFORE="$(load)"
SOAK_CASES="$OUT/cases/cases.tsv" wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_TOTAL}s" --timeout 30s \
  -s "$BENCH/soak.lua" "http://127.0.0.1:$PORT" | tee "$OUT/wrk.txt"
kill "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""
# Idle again: the connections are closed, so the descriptor count is back to the server's own.
sleep 1
IDLE_FDS="$(find "/proc/$SERVER_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)"
kill -TERM "$SERVER_PID"
SERVER_STATUS=0
wait "$SERVER_PID" || SERVER_STATUS=$?
SERVER_PID=""

step "summary"
python3 - "$OUT" "$WARMUP" "$CONNECTIONS" "$MINUTES" "$SERVER_STATUS" "$IDLE_FDS" "$LOAD_BEFORE" <<'PY'
import json, statistics, sys
from pathlib import Path
out, warmup, connections, minutes, server_status, idle_fds, load = sys.argv[1:]
out, warmup = Path(out), int(warmup)
line = next(l for l in (out / "wrk.txt").read_text().splitlines() if l.startswith("SOAK "))
w = json.loads(line[5:])
samples = [tuple(map(int, l.split("\t"))) for l in (out / "samples.tsv").read_text().splitlines() if l]
after = [s for s in samples if s[0] >= warmup]
if not after:
    sys.exit("no samples after the warm-up: run longer")
rss = [s[1] for s in after]
fds = [s[2] for s in after]
# Each sample also holds the bodies of the requests in flight at that instant (32 batches
# of up to 200 records), so single samples move by a few MiB either way; a leak shows as a
# trend: the median of the last fifth of the samples against the median of the first fifth.
window = max(1, len(rss) // 5)
early = statistics.median(rss[:window])
late = statistics.median(rss[-window:])
rss_growth = late / early - 1
checks = [
    ("every answer has its expected status (no 5xx)", w["unexpected_status"] == 0,
     f'{w["unexpected_status"]} unexpected ({w["unexpected_5xx"]} 5xx){": first " + w["first_unexpected"] if w["first_unexpected"] else ""}'),
    ("no socket errors or timeouts", w["socket_errors"] == 0 and w["timeouts"] == 0,
     f'{w["socket_errors"]} socket errors, {w["timeouts"]} timeouts'),
    ("resident memory within 10 % of its level after warm-up", rss_growth <= 0.10,
     f"median {early / 1024:.1f} MiB just after warm-up, {late / 1024:.1f} MiB at the end ({rss_growth:+.1%}); single samples {min(rss) / 1024:.1f}–{max(rss) / 1024:.1f} MiB"),
    ("file descriptors flat", max(fds) - min(fds) <= 2,
     f"{min(fds)}–{max(fds)} under load, {idle_fds} once idle"),
    ("server stopped cleanly on SIGTERM", server_status == "0", f"exit status {server_status}"),
]
lines = [
    f"Soak: {connections} connections, {minutes} min, {w['requests']:,} requests "
    f"({w['rps']:.0f}/s; p50 {w['p50_ms']:.2f} ms, p99 {w['p99_ms']:.2f} ms, max {w['max_ms']:.0f} ms); "
    f"warm-up {warmup} s; {len(samples)} samples; load average before: {load}",
    "",
]
lines += [f"- {'PASS' if ok else 'FAIL'} {name}: {detail}" for name, ok, detail in checks]
text = "\n".join(lines) + "\n"
print(text, end="")
(out / "summary.md").write_text(text)
sys.exit(0 if all(ok for _, ok, _ in checks) else 1)
PY
