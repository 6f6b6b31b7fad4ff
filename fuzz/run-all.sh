#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for MINUTES minutes each, one after another, on one
# core; then minimises what the target's corpus grew to into fuzz/corpus/TARGET and prints a
# summary: time, executions, coverage, corpus size, crashes (with the reproducer's path).
#
#   fuzz/run-all.sh MINUTES [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); the stable toolchain's nightly flags
# are let through by RUSTC_BOOTSTRAP=1. Logs: fuzz/logs/TARGET.log; the corpus a run grows:
# fuzz/work/TARGET (both git-ignored). A crash stops its target's run; its input is in
# fuzz/artifacts/TARGET/. See docs/FUZZING.md.
set -euo pipefail
minutes=${1:?usage: fuzz/run-all.sh MINUTES [TARGET...]}
shift
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
seconds=$(awk -v m="$minutes" 'BEGIN { s = int(m * 60); if (s < 1) exit 1; print s }') ||
    { echo "MINUTES must be a positive number" >&2; exit 2; }
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# Longest input each target makes, so that the kept corpus stays small: a header and a few rows
# of CSV or of a Zeek log (or a file to publish), a record or two of JSON, a batch of a few
# stream entries each with its header, the seeds' model files, a capture of a TCP session or a
# dozen short connections.
max_len() {
    case $1 in
        csv_* | zeek_log | publish_text) echo 2048 ;;
        capture_file | stream_entries) echo 4096 ;;
        model_file) echo 8192 ;;
        numeric_field) echo 64 ;;
        *) echo 1024 ;;
    esac
}

cargo fuzz build
mkdir -p fuzz/logs
summary=()
failed=0
for target in "${targets[@]}"; do
    work=fuzz/work/$target
    corpus=fuzz/corpus/$target
    mkdir -p "$work" "$corpus" "fuzz/artifacts/$target"
    cp -n "$corpus"/* "$work"/ 2>/dev/null || true
    before=$(find "fuzz/artifacts/$target" -type f | sort)
    log=fuzz/logs/$target.log
    echo "== $target: $seconds s" >&2
    # -timeout: an input that takes over 10 s is reported as a hang (a crash of its own kind).
    start=$(date +%s)
    set +e
    cargo fuzz run "$target" "$work" -- -max_total_time="$seconds" -timeout=10 \
        -max_len="$(max_len "$target")" -print_final_stats=1 >"$log" 2>&1
    status=$?
    set -e
    ran=$(($(date +%s) - start))
    after=$(find "fuzz/artifacts/$target" -type f | sort)
    new=$(comm -13 <(echo "$before") <(echo "$after") | grep . || true)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1)
    # Minimise: the fewest inputs, smallest first, that reach every edge the run reached
    # (-use_counters=0: edges, not hit counts, which would keep several times more files).
    minimised=yes
    if cargo fuzz cmin "$target" "$work" -- -use_counters=0 >"fuzz/logs/$target.cmin.log" 2>&1; then
        find "$corpus" -type f -delete
        cp "$work"/* "$corpus"/
    else
        minimised="no (fuzz/logs/$target.cmin.log)"
        failed=1
    fi
    kept=$(find "$corpus" -type f | wc -l)
    bytes=$(du -sb "$corpus" | cut -f1)
    if [ -n "$new" ] || [ "$status" -ne 0 ]; then
        failed=1
        crashes="CRASH (exit $status): ${new:-see $log}"
    else
        crashes="0 crashes"
    fi
    summary+=("$target: ${ran}s, ${execs:-?} executions, ${cov:-cov ?}, corpus $kept files ($bytes bytes, minimised: $minimised), $crashes")
done

echo
echo "== summary (logs in fuzz/logs/)"
printf '%s\n' "${summary[@]}"
exit "$failed"
