#!/usr/bin/env bash
# Issue 5 (work that takes time): avatar thumbnail sets per second for a 1024x1024 image, and the
# throughput of the operation monitor (GET /v1/operations/{id}: 303 once finished, 200 with
# Retry-After while running) against the plain 200 of GET /v1/customers/{id} in the same run.
# Prints medians and ratios; exits 0 whatever they are (it reports, it is not a test). Usage:
#
#   bench/work.sh
#
# Knobs (environment):
#   WORK_ITERATIONS   timed thumbnail sets per format                 (default 15)
#   WORK_SECONDS      length of one wrk run                           (default 10)
#   WORK_ROUNDS       rounds over the three monitor/customer scenarios (default 3)
#   WORK_CONNECTIONS  wrk connections                                 (default 16)
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ITERATIONS="${WORK_ITERATIONS:-15}"
SECONDS_PER_RUN="${WORK_SECONDS:-10}"
ROUNDS="${WORK_ROUNDS:-3}"
CONNECTIONS="${WORK_CONNECTIONS:-16}"
OUT="$TARGET_DIR/bench/work"
rm -rf "$OUT"
mkdir -p "$OUT"

bench_tools wrk curl
bench_build
LOAD_AVG_START="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- thumbnails --------------------------------------------------------------------------------
say "thumbnails: statuskit-bench thumbs --side 1024 --iterations $ITERATIONS (on CPU 0)"
${SERVER_CPU[@]+"${SERVER_CPU[@]}"} "$BIN" thumbs --side 1024 --iterations "$ITERATIONS" >"$OUT/thumbs.txt"
grep -v '^thumbs|' "$OUT/thumbs.txt" >&2

# --- monitor polls -----------------------------------------------------------------------------
# One server: the customer (with the client's token) and two operations of a user (with the
# user's token): one succeeded, one left running (no worker runs in statuskit-bench serve).
start_server S $(((3 * ROUNDS + 3) * (SECONDS_PER_RUN + 15) + 120))
RESULTS="$OUT/results.txt"
: >"$RESULTS"
{
    echo "define|customer_200|-|-|200|GET /v1/customers/{id}: the plain 200 (client token)"
    echo "define|monitor_303|customer_200|-|303|GET /v1/operations/{id} of a succeeded operation: 303 to /v1/me/avatar (user token)"
    echo "define|monitor_200|customer_200|-|200|GET /v1/operations/{id} of a running operation: 200, progress, Retry-After: 1 (user token)"
} >>"$RESULTS"
SCENARIOS=(
    "customer_200|$S_FULL$S_PATH|$S_TOKEN"
    "monitor_303|$S_FULL$S_OP_DONE|$S_USER_TOKEN"
    "monitor_200|$S_FULL$S_OP_RUNNING|$S_USER_TOKEN"
)
say "checking statuses"
for s in "${SCENARIOS[@]}"; do
    IFS='|' read -r name url token <<<"$s"
    {
        echo "### $name: GET $url"
        curl -s -i --max-time 5 -H "Authorization: Bearer $token" "$url" | tr -d '\r'
        printf '\n\n'
    } >>"$OUT/responses.txt"
    say "  $name -> $(status_of "$url" "$token")"
done
say "warming up"
for s in "${SCENARIOS[@]}"; do
    IFS='|' read -r _ url token <<<"$s"
    BENCH_METHOD=GET BENCH_AUTH="Bearer $token" timeout 60 ${LOAD_CPU[@]+"${LOAD_CPU[@]}"} \
        wrk -t1 -c"$CONNECTIONS" -d3s -s "$ROOT/bench/wrk.lua" "$url" >/dev/null 2>&1 || true
done
for round in $(seq "$ROUNDS"); do
    if ((round % 2 == 1)); then
        order=("${SCENARIOS[@]}")
    else
        order=("${SCENARIOS[2]}" "${SCENARIOS[1]}" "${SCENARIOS[0]}")
    fi
    for s in "${order[@]}"; do
        IFS='|' read -r name url token <<<"$s"
        wrk_run "$RESULTS" "$name" "$round" "$url" "$token" "$S_PID" "$SECONDS_PER_RUN" "$CONNECTIONS"
    done
done
LOAD_AVG_END="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- report ------------------------------------------------------------------------------------
{
    echo "statuskit work bench, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    machine_lines
    echo "tools:     $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), $(rustc --version 2>/dev/null)"
    echo "load avg:  $LOAD_AVG_START at start, $LOAD_AVG_END at end (1/5/15 min)"
    echo
    echo "thumbnails (make_images: decode, 4 PNG thumbnails 32/64/128/256, original kept):"
    grep -v '^thumbs|' "$OUT/thumbs.txt" | sed 's/^/    /'
    echo
    echo "monitor polls (wrk -t1 -c$CONNECTIONS -d${SECONDS_PER_RUN}s, $ROUNDS rounds):"
    "$BIN" report "$RESULTS"
    echo
    echo "raw figures: $OUT"
} | tee "$OUT/report.txt"
exit 0
