#!/usr/bin/env bash
# Runs every fuzz target for N seconds each (default 60) with cargo-fuzz on nightly, and
# prints the executions of each run; new corpus inputs land in fuzz/corpus/<target>/.
#
#   bash fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
shift || true
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "the nightly toolchain is needed: rustup toolchain install nightly" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is needed: cargo install cargo-fuzz" >&2
    exit 2
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
for t in "${targets[@]}"; do
    log="$(mktemp)"
    if ! cargo +nightly fuzz run "$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "FAILED: $t (artifacts in fuzz/artifacts/$t/)" >&2
        rm -f "$log"
        exit 1
    fi
    execs="$(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$log" | grep -Eo '[0-9]+$' || true)"
    echo "$t: ${execs:-?} executions in ${secs} s, no crash"
    rm -f "$log"
done
