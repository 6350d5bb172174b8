#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: GET /v1/customers/{id} through the
# bare axum handler, through bare axum plus the token query (bare_auth), and through the full
# statuskit stack, in one `statuskit-bench serve` process, the same number of requests each over
# one keep-alive connection. Prints the counts and the ratios to bare.
#
# Why: wall-clock throughput on a shared virtual machine moves by ±15 % from one run to the
# next; instruction counts repeat to within a fraction of a percent whatever else the machine is
# doing, so they show what a change to the stack did. What they leave out is time in the kernel
# (sockets, thread wake-ups, SQLite's file locks), which is the same for every scenario and which
# the throughput ratio of bench/run.sh includes. Under valgrind the CPU has no SHA extensions,
# so the token hash counts ~3 500 instructions that a real run does in a few hundred.
#
#   bench/instructions.sh                      (2000 requests a scenario)
#   BENCH_REQUESTS=5000 bench/instructions.sh
#
# Only 127.0.0.1 is used; the server stops by itself after --max-seconds.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REQUESTS="${BENCH_REQUESTS:-2000}"
OUT="$TARGET_DIR/bench/instructions"

bench_tools curl valgrind
bench_build
rm -rf "$OUT"
mkdir -p "$OUT"

say "starting statuskit-bench serve under callgrind (slow to start)"
# On one CPU, as run.sh places the server: how often threads spin or park before they sleep
# depends on where they run, and that changes the counts by several thousand a request.
${SERVER_CPU[@]+"${SERVER_CPU[@]}"} valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.%p" --separate-threads=no \
    --compress-strings=no --compress-pos=no \
    "$BIN" serve --database "$WORK/instructions.db" --workers 1 --max-seconds 1800 \
    >"$WORK/instructions.out" 2>"$WORK/instructions.log" &
PID=$!
SERVER_PIDS+=("$PID")
for _ in $(seq 1200); do
    grep -q '^op_running ' "$WORK/instructions.out" && break
    kill -0 "$PID" 2>/dev/null || { say "bench: the server exited:"; cat "$WORK/instructions.log" >&2; exit 1; }
    sleep 0.1
done
grep -q '^op_running ' "$WORK/instructions.out" || { say "bench: the server did not start within 120 s"; exit 1; }
field() { sed -n "s/^$1 //p" "$WORK/instructions.out"; }
TOKEN="$(field token)"
CUSTOMER="$(field path)"

# name|server: every scenario is a 200 for the same customer.
SCENARIOS=("bare|$(field bare)" "bare_auth|$(field bare_auth)" "full|$(field full)")

# curl_config URL COUNT: a curl config asking for URL COUNT times (curl keeps the connection).
curl_config() {
    local i
    for ((i = 0; i < $2; i++)); do printf 'url = "%s"\noutput = /dev/null\n' "$1"; done
}

# drive URL COUNT: COUNT GETs with the bench's token and no Accept (as wrk sends them); fails
# unless every one answered 200.
drive() {
    local codes
    codes="$(curl_config "$1" "$2" | curl -s -H "Authorization: Bearer $TOKEN" -H 'Accept:' \
        -w '%{http_code}\n' --max-time 600 -K - | sort | uniq -c)"
    [[ "$(awk '{print $2}' <<<"$codes")" == 200 ]] || { say "bench: not all 200: $codes"; exit 1; }
}

declare -A COUNT
part=0
for s in "${SCENARIOS[@]}"; do
    IFS='|' read -r name url <<<"$s"
    say "  $name: warming up, then counting $REQUESTS requests"
    drive "$url$CUSTOMER" $((REQUESTS / 4))
    callgrind_control --zero "$PID" >/dev/null 2>&1
    drive "$url$CUSTOMER" "$REQUESTS"
    callgrind_control --dump="$name" "$PID" >/dev/null 2>&1
    part=$((part + 1))
    dump="$WORK/callgrind.$PID.$part"
    grep -q "^desc: Trigger: dump $name" "$dump" || { say "bench: dump $dump is not $name's"; exit 1; }
    cp "$dump" "$OUT/callgrind.$name"
    COUNT[$name]="$(sed -n 's/^summary: //p' "$dump")"
done

{
    echo "statuskit instruction counts, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "commit:  $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (work tree differs from it)')"
    echo "tools:   $(valgrind --version), $(rustc --version 2>/dev/null)"
    echo "load:    $REQUESTS GET $CUSTOMER a scenario, one keep-alive connection, after $((REQUESTS / 4)) untimed"
    echo "counted: every thread of the server process (tokio worker, SQLite connection threads), user space only"
    echo
    printf '%-10s %14s %12s %10s\n' scenario instructions 'per request' 'vs bare'
    for s in "${SCENARIOS[@]}"; do
        name="${s%%|*}"
        awk -v n="$name" -v c="${COUNT[$name]}" -v b="${COUNT[bare]}" -v r="$REQUESTS" \
            'BEGIN {printf "%-10s %14d %12.0f %10.3f\n", n, c, c / r, c / b}'
    done
    echo
    echo "callgrind files (callgrind_annotate --inclusive=yes FILE): $OUT"
} | tee "$OUT/report.txt"
