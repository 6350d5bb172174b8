#!/usr/bin/env bash
# Runs every fuzz target in turn for SECONDS seconds each (default 20), one at a time.
#
#   fuzz/run-all.sh [SECONDS] [extra libFuzzer flags...]
#
# Each target starts from fuzz/corpus/<target> plus the committed fuzz/seeds/<target>, with the
# libFuzzer dictionary fuzz/dicts/<target>.dict.
# Uses RUSTC_BOOTSTRAP=1 so that the stable toolchain accepts cargo-fuzz's nightly flags
# (on nightly it is harmless). Crashes are written to fuzz/artifacts/<target>/; the script
# goes on with the other targets and exits non-zero if any target failed.
set -u

seconds="${1:-20}"
shift || true
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1

targets=$(cargo fuzz list) || exit 1
cargo fuzz build || exit 1

failed=()
for target in $targets; do
    echo "=== $target (${seconds}s)"
    # corpus/<target> collects what the fuzzer finds (not committed); seeds/<target> holds the
    # committed starting inputs, read but never written.
    mkdir -p "corpus/$target"
    dirs=("corpus/$target")
    [ -d "seeds/$target" ] && dirs+=("seeds/$target")
    dict=()
    [ -f "dicts/$target.dict" ] && dict=("-dict=dicts/$target.dict")
    if ! cargo fuzz run "$target" "${dirs[@]}" -- -max_total_time="$seconds" "${dict[@]}" "$@"; then
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "FAILED: ${failed[*]} (see fuzz/artifacts/)"
    exit 1
fi
echo "all targets ran ${seconds}s without a crash"
