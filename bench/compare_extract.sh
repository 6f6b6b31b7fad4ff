#!/usr/bin/env bash
# `nadir extract` against its peers on the same captures, side by side: nfstream (1 and 2
# meters), tshark's conversation statistics and cicflowmeter, with `cat FILE` as the floor.
# Files: the largest shared captures, and two made from them (time-shifted copies appended,
# by editcap and mergecap) big enough to time: 20 × tcp-echo-500conns (1.65 M packets) and
# 10 × syn-flood-spoofed 400 s apart, past the 5-minute timeout (377 k connections). Usage:
#   bench/compare_extract.sh [PCAP_DIR]          (default ../shared/pcap)
# Environment: BENCH_REPEAT (runs per tool and file, median taken; default 5),
# BENCH_SKIP_BUILD=1 (use the existing target/release/nadir), NADIR_BENCH_VENV (a virtualenv
# with nfstream, used as it is, instead of bench/.venv-traffic), BENCH_CIC_MAX_PACKETS (0 skips
# cicflowmeter).
# Needs tshark, tcpdump (cicflowmeter reads files through it), editcap, mergecap, capinfos:
#   apt-get install tshark tcpdump
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
OUT="$BENCH/out/extract"
VENV="${NADIR_BENCH_VENV:-$BENCH/.venv-traffic}"
PCAPS="${1:-$ROOT/../shared/pcap}"
mkdir -p "$OUT"
# shellcheck source=lib.sh
source "$BENCH/lib.sh"

for tool in tshark tcpdump editcap mergecap capinfos; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found (apt-get install tshark tcpdump)" >&2; exit 2; }
done
[[ -f "$PCAPS/tcp-echo-500conns.pcap" ]] || { echo "error: no captures in $PCAPS" >&2; exit 2; }

step "python environment ($VENV)"
if [[ -n "${NADIR_BENCH_VENV:-}" ]]; then
  # A shared virtualenv is used as it is: cicflowmeter 0.2.0 pins numpy below 2, which
  # would downgrade the other benches' numpy (run with BENCH_CIC_MAX_PACKETS=0 then).
  "$VENV/bin/python" -c 'import nfstream' || {
    echo "error: $VENV has no nfstream (pip install nfstream==6.6.0)" >&2
    exit 2
  }
else
  [[ -x "$VENV/bin/python" ]] || "$(command -v python3.11 || command -v python3)" -m venv "$VENV"
  if ! cmp -s "$BENCH/requirements-traffic.txt" "$VENV/.bench-requirements.txt"; then
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$BENCH/requirements-traffic.txt"
    cp "$BENCH/requirements-traffic.txt" "$VENV/.bench-requirements.txt"
  fi
fi

release_nadir

# COPIES copies of FILE, the i-th shifted by i × SHIFT seconds, appended into OUT_FILE.
repeat_capture() {
  local file=$1 copies=$2 shift_s=$3 out_file=$4 parts=()
  [[ -f "$out_file" ]] && return
  for ((i = 0; i < copies; i++)); do
    editcap -t $((i * shift_s)) "$file" "$OUT/part-$i.pcap"
    parts+=("$OUT/part-$i.pcap")
  done
  mergecap -a -F pcap -w "$out_file" "${parts[@]}"
  rm -f "${parts[@]}"
}
step "inputs"
repeat_capture "$PCAPS/tcp-echo-500conns.pcap" 20 10 "$OUT/echo-x20.pcap"
repeat_capture "$PCAPS/syn-flood-spoofed.pcap" 10 400 "$OUT/synflood-x10.pcap"

step "timing (median of ${BENCH_REPEAT:-5} runs each)"
quiet extract
{
  "$VENV/bin/python" "$BENCH/extract_peers.py" "$OUT" "$NADIR" \
    "$PCAPS/tcp-echo-500conns.pcap" "$PCAPS/syn-flood-spoofed.pcap" \
    "$OUT/echo-x20.pcap" "$OUT/synflood-x10.pcap"
  echo
  echo "Machine: $NPROC cores, load average $(load); other processes' share before timing: $(cut -f2 "$OUT/busy.tsv" | tail -1) %"
  echo "Versions: $("$NADIR" --version), $(tshark --version | head -1), $("$VENV/bin/python" -m pip list 2>/dev/null | grep -Ei '^(nfstream|cicflowmeter|scapy) ' | tr -s ' ' | paste -sd, -)"
  echo "Command: \`bench/compare_extract.sh\` ($(date -u '+%Y-%m-%d %H:%M UTC'))"
} | tee "$OUT/comparison.md"
