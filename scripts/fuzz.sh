#!/usr/bin/env bash
# Run every cargo-fuzz target in fuzz/ for a bounded time each.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     # default 30 s, all targets
#
# cargo-fuzz needs nightly-only rustc flags (-Zsanitizer, -Cpasses=sancov);
# this machine has only a stable toolchain, so RUSTC_BOOTSTRAP=1 lets the
# stable compiler accept them. Install the tool once with
# `cargo install cargo-fuzz`. Seeds come from fuzz/seeds/TARGET (checked in);
# the growing corpus lives in fuzz/corpus/TARGET (ignored by git). A crash
# leaves its input in fuzz/artifacts/TARGET and fails the script: turn it
# into a regression test in tests/it/fuzz_regressions.rs.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

SECS="${1:-30}"
shift || true
if [ $# -gt 0 ]; then
    TARGETS=("$@")
else
    mapfile -t TARGETS < <(cargo fuzz list)
fi
export RUSTC_BOOTSTRAP=1
SANITIZER="${FUZZ_SANITIZER:-address}"

cargo fuzz build --sanitizer "$SANITIZER"

failed=()
for t in "${TARGETS[@]}"; do
    mkdir -p "corpus/$t" seeds/"$t"
    log="$(mktemp)"
    echo "=== fuzz $t for ${SECS}s"
    status=0
    cargo fuzz run --sanitizer "$SANITIZER" "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$SECS" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E '^(#[0-9]+ +DONE|stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|SUMMARY|Test unit written|thread .* panicked)' "$log" || true
    if [ "$status" -ne 0 ]; then
        tail -n 40 "$log"
        failed+=("$t")
    fi
    rm -f "$log"
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing found crashes in: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzzing: no crash in ${TARGETS[*]} (${SECS}s each)"
