#!/usr/bin/env bash
# Schema-driven testing of `nadir serve`'s HTTP API with schemathesis (PyPI): a live server
# with a classifier and an anomaly detector loaded, every route and method of its
# /openapi.json, requests generated from the document (examples, coverage and fuzzing phases),
# every answer checked against it. Passes with 0 failures. See bench/README.md. Usage:
#   bench/api_schema.sh [SECONDS] [DATA.csv]   (default 300, ../shared/data/Network_anomaly_data.csv)
# Environment knobs:
#   BENCH_SKIP_BUILD  1 to use the existing target/release/nadir without building
#   API_CHECKS        schemathesis checks (default: all)
#   API_EXCLUDE       checks left out (default: positive_data_acceptance,negative_data_rejection;
#                     see bench/README.md: the server is stricter than the document where a
#                     body's structure is described in words (CSV, NDJSON, the legacy array),
#                     and more lenient where it says so (numbers as text, feature spellings))
# Exits with schemathesis's status: 0 when nothing failed.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
OUT="$BENCH/out/api"
VENV="$BENCH/.venv-api"
MAX_TIME="${1:-300}"
DATA="${2:-$ROOT/../shared/data/Network_anomaly_data.csv}"
[[ "$MAX_TIME" =~ ^[1-9][0-9]*$ ]] || { echo "error: SECONDS must be a positive whole number, got '$MAX_TIME'" >&2; exit 2; }
[[ -f "$DATA" ]] || { echo "error: data file not found: $DATA" >&2; exit 2; }
mkdir -p "$OUT"
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"

step "python environment ($VENV)"
if [[ ! -x "$VENV/bin/python" ]]; then
  "$(command -v python3.11 || command -v python3)" -m venv "$VENV"
fi
if ! cmp -s "$BENCH/requirements-api.txt" "$VENV/.bench-requirements.txt"; then
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$BENCH/requirements-api.txt"
  cp "$BENCH/requirements-api.txt" "$VENV/.bench-requirements.txt"
fi
"$VENV/bin/schemathesis" --version

release_nadir

step "models"
rm -rf "$OUT/models"
"$NADIR" train --data "$DATA" --models random_forest,decision_tree,iforest --folds 2 \
  --out "$OUT/models" >"$OUT/train.log" 2>&1 || {
  tail -n 20 "$OUT/train.log" >&2
  exit 2
}

PORT="$(free_port)"
TOKEN="api-schema-$RANDOM$RANDOM"
SERVER_PID=""
trap '[[ -n "$SERVER_PID" ]] && kill -TERM "$SERVER_PID" 2>/dev/null || true' EXIT
NADIR_LOG=warn NADIR_ADMIN_TOKEN="$TOKEN" "$NADIR" serve --models "$OUT/models" \
  --addr "127.0.0.1:$PORT" 2>"$OUT/server.log" &
SERVER_PID=$!
await_server "$OUT/server.log"

step "schemathesis for ${MAX_TIME} s against http://127.0.0.1:$PORT/openapi.json"
STATUS=0
# From $OUT: schemathesis keeps its state in a .schemathesis folder of the working directory.
(cd "$OUT" && "$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/openapi.json" \
  --checks "${API_CHECKS:-all}" --exclude-checks "${API_EXCLUDE-positive_data_acceptance,negative_data_rejection}" --max-time "$MAX_TIME" --workers 1 --request-timeout 30 \
  -H "Authorization: Bearer $TOKEN" --seed 42 --no-color \
  --report junit --report-dir "$OUT/report") | tee "$OUT/schemathesis.txt" || STATUS=$?
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  echo "error: the server died during the run; its log:" >&2
  tail -n 20 "$OUT/server.log" >&2
  exit 1
fi
exit "$STATUS"
