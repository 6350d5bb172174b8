#!/usr/bin/env bash
# The statuskit benchmark: GET /v1/customers/{id} through the full stack against a bare axum
# handler reading the same row, plus a 304 and the 404/405/406/415 error paths against the 200,
# all in one run. Prints medians and ratios; exits 0 whether or not the aims are met (it reports,
# it is not a test). Usage, from anywhere:
#
#   bench/run.sh
#
# Knobs (environment):
#   BENCH_SECONDS         length of one wrk run, seconds            (default 10)
#   BENCH_ROUNDS          rounds over every scenario                (default 5)
#   BENCH_CONNECTIONS     wrk connections                           (default 16)
#   BENCH_THREADS         wrk threads                               (default 1)
#   BENCH_WARMUP_SECONDS  warm-up of the bare and the full 200      (default 3)
#   RUST_LOG              the server's tracing filter               (default info, as `statuskit serve`)
#
# Only 127.0.0.1 is loaded, every wrk run is bounded by -d (and by `timeout`), and the server
# stops by itself after --max-seconds even if this script is killed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_SECONDS="${BENCH_SECONDS:-10}"
ROUNDS="${BENCH_ROUNDS:-5}"
CONNECTIONS="${BENCH_CONNECTIONS:-16}"
THREADS="${BENCH_THREADS:-1}"
WARMUP_SECONDS="${BENCH_WARMUP_SECONDS:-3}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/statuskit-bench"
OUT="$TARGET_DIR/bench/last"

say() { printf '%s\n' "$*" >&2; }

# --- tools: wrk (and curl for the status check) from Debian if missing ----------------------
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        say "installing ${missing[*]} from Debian"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        say "bench: ${missing[*]} missing and cannot be installed here (needs root and apt-get)"
        exit 1
    fi
fi

# --- build -----------------------------------------------------------------------------------
say "building statuskit-bench (release)"
(cd "$ROOT" && cargo build --release -p statuskit-bench)

# --- CPU placement: the server on one core, wrk on the other ---------------------------------
CORES="$(nproc)"
SERVER_CPU=()
LOAD_CPU=()
PLACEMENT="not pinned (needs 2+ cores and taskset)"
if ((CORES >= 2)) && command -v taskset >/dev/null 2>&1; then
    SERVER_CPU=(taskset -c 0)
    LOAD_CPU=(taskset -c 1)
    PLACEMENT="server (1 tokio worker + its SQLite threads) on CPU 0, wrk on CPU 1"
fi

# --- start the server ------------------------------------------------------------------------
rm -rf "$OUT"
mkdir -p "$OUT"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/statuskit-bench.XXXXXX")"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    [[ -f "$WORK/server.log" ]] && cp "$WORK/server.log" "$OUT/server.log"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SCENARIO_COUNT=8
MAX_SECONDS=$(((ROUNDS * SCENARIO_COUNT + 2) * (RUN_SECONDS + 10) + 120))
${SERVER_CPU[@]+"${SERVER_CPU[@]}"} "$BIN" serve --database "$WORK/bench.db" --workers 1 \
    --max-seconds "$MAX_SECONDS" >"$WORK/server.out" 2>"$WORK/server.log" &
SERVER_PID=$!

for _ in $(seq 600); do
    grep -q '^token ' "$WORK/server.out" && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        say "bench: the server exited before listening:"
        cat "$WORK/server.log" >&2
        exit 1
    fi
    sleep 0.1
done
if ! grep -q '^token ' "$WORK/server.out"; then
    say "bench: the server did not print its addresses within 60 s"
    exit 1
fi
BARE="$(sed -n 's/^bare //p' "$WORK/server.out")"
BARE_AUTH="$(sed -n 's/^bare_auth //p' "$WORK/server.out")"
FULL="$(sed -n 's/^full //p' "$WORK/server.out")"
CUSTOMER="$(sed -n 's/^path //p' "$WORK/server.out")"
ETAG="$(sed -n 's/^etag //p' "$WORK/server.out")"
TOKEN="$(sed -n 's/^token //p' "$WORK/server.out")"

# --- scenarios -------------------------------------------------------------------------------
# name|server|method|path|header|body|expected status|baselines|aims (min ratio, - = none)|description
# Every request to `full` and `bare_auth` carries the bench's bearer token (every /v1 route of
# the service requires one).
SCENARIOS=(
    "bare_200|bare|GET|$CUSTOMER|||200|-|-|bare axum: same SQLite file and customer query, plain axum::Json, no statuskit code, no auth"
    "bare_auth_200|bare_auth|GET|$CUSTOMER|||200|-|-|bare_200 plus the full stack's token lookup (SHA-256 + the store's token query), still no statuskit code"
    "full_200|full|GET|$CUSTOMER|||200|bare_200,bare_auth_200|0.85,-|the service as \`statuskit serve\` builds it (defaults; rate limits raised out of reach): its route layers, bearer auth, rate limiter, ContractLayer, Resource, Format/Path/Preconditions, ETag/Last-Modified"
    "full_304|full|GET|$CUSTOMER|If-None-Match: $ETAG||304|full_200|1.00|If-None-Match equal to the row's ETag ($ETAG)"
    "full_404|full|GET|/v1/customers/999999999|||404|full_200|1.00|unknown id (the row lookup runs and finds nothing)"
    "full_405|full|DELETE|/v1/customers|||405|full_200|1.00|DELETE on the collection"
    "full_406|full|GET|$CUSTOMER|Accept: image/png||406|full_200|1.00|Accept: image/png"
    "full_415|full|POST|/v1/customers|Content-Type: text/plain|hello|415|full_200|1.00|POST, Content-Type: text/plain, 5-byte body"
)
((${#SCENARIOS[@]} == SCENARIO_COUNT)) || { say "bench: SCENARIO_COUNT is stale"; exit 1; }

RESULTS="$OUT/results.txt"
: >"$RESULTS"
for s in "${SCENARIOS[@]}"; do
    IFS='|' read -r name _ _ _ _ _ expect baseline aim desc <<<"$s"
    echo "define|$name|$baseline|$aim|$expect|$desc" >>"$RESULTS"
done

url_of() {
    case "$1" in
    bare) echo "$BARE$2" ;;
    bare_auth) echo "$BARE_AUTH$2" ;;
    *) echo "$FULL$2" ;;
    esac
}
auth_of() { if [[ "$1" == bare ]]; then echo ""; else echo "Bearer $TOKEN"; fi; }

# CPU time (user + system, all threads) the server has used so far, in microseconds.
CLK_TCK="$(getconf CLK_TCK)"
server_cpu_us() { awk -v hz="$CLK_TCK" '{printf "%.0f", ($14 + $15) * 1e6 / hz}' "/proc/$SERVER_PID/stat"; }

# Check once, with curl, that every scenario answers the status it is meant to measure; the
# responses are kept in $OUT/responses.txt.
say "checking statuses"
for s in "${SCENARIOS[@]}"; do
    IFS='|' read -r name server method path header body expect _ _ _ <<<"$s"
    args=(-s -i -X "$method" --max-time 5)
    [[ "$server" != bare ]] && args+=(-H "Authorization: Bearer $TOKEN")
    [[ -n "$header" ]] && args+=(-H "$header")
    [[ -n "$body" ]] && args+=(--data-binary "$body")
    response="$(curl "${args[@]}" "$(url_of "$server" "$path")" || true)"
    got="$(printf '%s\n' "$response" | head -1 | awk '{print $2}')"
    { echo "### $name: $method $path ${header:+($header)}"; printf '%s\n\n' "$response"; } >>"$OUT/responses.txt"
    if [[ "$got" == "$expect" ]]; then
        say "  $name: $method $path -> $got"
    else
        say "  $name: $method $path -> ${got:-no answer}, expected $expect (its figures measure something else)"
    fi
done

# One wrk run; appends a run| line to the results.
run_one() {
    local s="$1" round="$2" name server method path header body log line cpu0 cpu1
    IFS='|' read -r name server method path header body _ _ _ _ <<<"$s"
    log="$OUT/wrk-$name-round$round.txt"
    cpu0="$(server_cpu_us)"
    BENCH_METHOD="$method" BENCH_AUTH="$(auth_of "$server")" BENCH_HEADER="$header" BENCH_BODY="$body" \
        timeout $((RUN_SECONDS + 60)) ${LOAD_CPU[@]+"${LOAD_CPU[@]}"} \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"${RUN_SECONDS}s" --latency -s "$ROOT/bench/wrk.lua" \
        "$(url_of "$server" "$path")" >"$log" 2>&1 || say "  wrk failed for $name (see $log)"
    cpu1="$(server_cpu_us)"
    line="$(grep '^BENCH|' "$log" | tail -1 || true)"
    if [[ -z "$line" ]]; then
        say "  $name round $round: no figures (see $log)"
        return 0
    fi
    echo "run|$name|$round|${line#BENCH|}|$((cpu1 - cpu0))" >>"$RESULTS"
    say "  round $round  $(printf '%-9s' "$name") $(awk -F'|' '{printf "%.0f req/s", $2 / ($3 / 1e6)}' <<<"$line")"
}

say "warming up (${WARMUP_SECONDS}s each on bare_200, bare_auth_200 and full_200)"
for s in "${SCENARIOS[@]:0:3}"; do
    IFS='|' read -r _ server method path _ _ _ _ _ _ <<<"$s"
    BENCH_METHOD="$method" BENCH_AUTH="$(auth_of "$server")" timeout $((WARMUP_SECONDS + 60)) ${LOAD_CPU[@]+"${LOAD_CPU[@]}"} \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP_SECONDS}s" -s "$ROOT/bench/wrk.lua" "$(url_of "$server" "$path")" \
        >/dev/null 2>&1 || true
done

# Rounds alternate direction (A..H, H..A, A..H, …): the baselines and full_200 stay neighbours, and a
# slow drift of the machine over the run hits early and late scenarios alike.
say "running $ROUNDS rounds of ${#SCENARIOS[@]} scenarios, ${RUN_SECONDS}s each"
for round in $(seq "$ROUNDS"); do
    if ((round % 2 == 1)); then
        order=("${SCENARIOS[@]}")
    else
        order=()
        for ((i = ${#SCENARIOS[@]} - 1; i >= 0; i--)); do order+=("${SCENARIOS[$i]}"); done
    fi
    for s in "${order[@]}"; do run_one "$s" "$round"; done
done

# --- report ----------------------------------------------------------------------------------
{
    echo "statuskit bench, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "machine:   nproc=$CORES, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(uname -sr)"
    echo "commit:    $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (work tree differs from it)')"
    echo "tools:     $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), $(rustc --version 2>/dev/null)"
    echo "load:      wrk -t$THREADS -c$CONNECTIONS -d${RUN_SECONDS}s, $ROUNDS rounds, 127.0.0.1 only"
    echo "placement: $PLACEMENT"
    echo "server:    statuskit-bench serve, 1 tokio worker, RUST_LOG=${RUST_LOG:-info (default)}"
    echo
    "$BIN" report "$RESULTS"
    echo
    echo "raw figures: $OUT"
} | tee "$OUT/report.txt"
exit 0
