#!/usr/bin/env bash
# Issue 4 (traffic control): GET /v1/customers/{id} driven open loop at ~10x its capacity, with
# load shedding on (--max-in-flight small) and off (--max-in-flight huge), in the same run; the
# 429 path against the 200 on the same route; the limiter's memory per key with 1 M keys.
# Prints figures and ratios; exits 0 whether or not the aims are met (it reports, it is not a
# test). Usage, from anywhere:
#
#   bench/overload.sh
#
# What limits capacity: every server here is started with --fault-injection and told (PUT
# /admin/faults) to hold each /v1/customers request DELAY_MS before handling it, inside the
# in-flight count. That stands for a backend call: with shedding on, capacity is
# MAX_IN_FLIGHT / DELAY_MS, well below what the CPU could serve, so a load generator on the other
# core can offer 10x of it. (Relying on the CPU instead would need 10x the ~20-40k req/s one core
# serves, more than one load-generator core can offer, and the 503 path's own CPU would then
# decide the outcome.) The delay is a sleep, not a finite resource: with shedding off nothing
# bounds the concurrency, so that configuration shows what happens without a bound, not a
# backend collapsing.
#
# Knobs (environment):
#   OVERLOAD_DELAY_MS          injected delay per /v1/customers request       (default 20)
#   OVERLOAD_MAX_IN_FLIGHT     --max-in-flight with shedding on               (default 16)
#   OVERLOAD_FACTOR            offered rate / measured capacity               (default 10)
#   OVERLOAD_SECONDS           length of one oha/wrk run                      (default 10)
#   OVERLOAD_ROUNDS            rounds of (on, off) and of (429, 200)          (default 3)
#   OVERLOAD_CONNECTIONS       oha connections in the open-loop runs          (default 400)
#   OVERLOAD_LIMITER_KEYS      keys for the limiter memory example (0: skip)  (default 1000000)
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DELAY_MS="${OVERLOAD_DELAY_MS:-20}"
MAX_IN_FLIGHT="${OVERLOAD_MAX_IN_FLIGHT:-16}"
FACTOR="${OVERLOAD_FACTOR:-10}"
SECONDS_PER_RUN="${OVERLOAD_SECONDS:-10}"
ROUNDS="${OVERLOAD_ROUNDS:-3}"
CONNECTIONS="${OVERLOAD_CONNECTIONS:-400}"
LIMITER_KEYS="${OVERLOAD_LIMITER_KEYS:-1000000}"
OUT="$TARGET_DIR/bench/overload"
rm -rf "$OUT"
mkdir -p "$OUT"

bench_tools wrk curl oha
bench_build
LOAD_AVG_START="$(cut -d' ' -f1-3 /proc/loadavg)"

MAX_SECONDS=$(((4 * ROUNDS + 4) * (SECONDS_PER_RUN + 15) + 300))
start_server ON "$MAX_SECONDS" --fault-injection --max-in-flight "$MAX_IN_FLIGHT"
start_server OFF "$MAX_SECONDS" --fault-injection --max-in-flight 1000000000
start_server LIM "$MAX_SECONDS" --rate-limit-reads 1 --rate-limit-window-seconds 3600
start_server FREE "$MAX_SECONDS"

for s in ON OFF; do
    full="${s}_FULL" token="${s}_TOKEN"
    got="$(status_of "${!full}/admin/faults" "${!token}" -X PUT -H 'Content-Type: application/json' \
        --data "{\"path_prefix\":\"/v1/customers\",\"delay_ms\":$DELAY_MS}")"
    [[ "$got" == 200 ]] || { say "bench: PUT /admin/faults on $s answered $got"; exit 1; }
done
say "servers up; /v1/customers held ${DELAY_MS} ms on ON (--max-in-flight $MAX_IN_FLIGHT) and OFF (--max-in-flight 10^9)"

# ohas NAME ROUND PID URL TOKEN oha-args…: one oha run, JSON kept in $OUT, one line appended to
# $OUT/oha.txt: NAME|ROUND|SERVER_CPU_US|oha|… (see `statuskit-bench oha`).
ohas() {
    local name="$1" round="$2" pid="$3" url="$4" token="$5" json cpu0 cpu1 line
    shift 5
    json="$OUT/oha-$name-round$round.json"
    cpu0="$(cpu_us "$pid")"
    timeout $((SECONDS_PER_RUN + 60)) ${LOAD_CPU[@]+"${LOAD_CPU[@]}"} oha --no-tui --output-format json \
        --stats-success-breakdown -z "${SECONDS_PER_RUN}s" -w -H "Authorization: Bearer $token" "$@" "$url" \
        >"$json" 2>"$OUT/oha-$name-round$round.err" || say "  oha failed for $name (see $OUT)"
    cpu1="$(cpu_us "$pid")"
    line="$("$BIN" oha "$json" 2>>"$OUT/oha-$name-round$round.err" || true)"
    [[ -n "$line" ]] || { say "  $name round $round: no figures"; return 0; }
    echo "$name|$round|$((cpu1 - cpu0))|$line" >>"$OUT/oha.txt"
    say "  $(printf '%-10s' "$name") round $round: $(awk -F'|' '{printf "%d requests, 2xx %.0f/s (p99 %s ms), other %d (p50 %s ms), statuses %s, no answer %d", $3, $5, $7, $8, $9, $11, $12}' <<<"$line")"
}

# --- capacity and unloaded latency (shedding on) ----------------------------------------------
say "warming up"
ohas warmup 0 "$ON_PID" "$ON_FULL$ON_PATH" "$ON_TOKEN" -c "$MAX_IN_FLIGHT"
say "capacity: closed loop, oha -c $MAX_IN_FLIGHT (= --max-in-flight) against ON"
ohas capacity 1 "$ON_PID" "$ON_FULL$ON_PATH" "$ON_TOKEN" -c "$MAX_IN_FLIGHT"
CAPACITY="$(awk -F'|' '$1 == "capacity" {printf "%.0f", $8}' "$OUT/oha.txt")"
((CAPACITY > 0)) || { say "bench: no capacity measured"; exit 1; }
RATE=$((CAPACITY * FACTOR))
HALF=$((CAPACITY / 2))
say "capacity $CAPACITY 2xx/s; unloaded = open loop at half of it ($HALF/s); overload at $RATE/s"
ohas unloaded 1 "$ON_PID" "$ON_FULL$ON_PATH" "$ON_TOKEN" -c "$CONNECTIONS" -q "$HALF" --latency-correction

# --- overload: shedding on vs off, alternating -------------------------------------------------
# sample_retry_after URL TOKEN FILE: during a run, 40 single requests with curl, one per 0.2 s:
# the status and whether the answer had Retry-After.
sample_retry_after() {
    local url="$1" token="$2" file="$3"
    sleep 1
    for _ in $(seq 40); do
        curl -s -o /dev/null -D - --max-time 5 -H "Authorization: Bearer $token" "$url" |
            awk 'NR == 1 {code = $2} tolower($1) == "retry-after:" {ra = $2} END {printf "%s %s\n", code, (ra == "" ? "-" : ra)}' |
            tr -d '\r' >>"$file" || true
        sleep 0.2
    done
}
for round in $(seq "$ROUNDS"); do
    if ((round % 2 == 1)); then order=(ON OFF); else order=(OFF ON); fi
    for s in "${order[@]}"; do
        full="${s}_FULL" path="${s}_PATH" token="${s}_TOKEN" pid="${s}_PID"
        name="shed_on"
        [[ "$s" == OFF ]] && name="shed_off"
        ${LOAD_CPU[@]+"${LOAD_CPU[@]}"} bash -c "$(declare -f sample_retry_after); sample_retry_after '${!full}${!path}' '${!token}' '$OUT/retry-after-$name.txt'" &
        sampler=$!
        ohas "$name" "$round" "${!pid}" "${!full}${!path}" "${!token}" -c "$CONNECTIONS" -q "$RATE" --latency-correction
        wait "$sampler" || true
    done
done

# --- 429 against 200 on the same route ---------------------------------------------------------
say "429 vs 200: GET $LIM_PATH, wrk -t1 -c16 -d${SECONDS_PER_RUN}s; LIM has 1 read per hour, FREE 10^9 per minute"
RESULTS="$OUT/results.txt"
: >"$RESULTS"
first="$(status_of "$LIM_FULL$LIM_PATH" "$LIM_TOKEN")"
LIMITED_HEADERS="$(curl -s -o /dev/null -D - --max-time 5 -H "Authorization: Bearer $LIM_TOKEN" "$LIM_FULL$LIM_PATH" | tr -d '\r')"
say "  LIM: first request $first, second $(head -1 <<<"$LIMITED_HEADERS")"
printf '%s\n' "$LIMITED_HEADERS" >"$OUT/limited-headers.txt"
{
    echo "define|get_200|-|-|200|GET the customer, rate limits out of reach (the limiter runs and admits)"
    echo "define|get_429|get_200|1.2|429|GET the customer, the client's quota (1 read per hour) spent"
} >>"$RESULTS"
for s in FREE LIM; do
    full="${s}_FULL" path="${s}_PATH" token="${s}_TOKEN"
    BENCH_METHOD=GET BENCH_AUTH="Bearer ${!token}" timeout 60 ${LOAD_CPU[@]+"${LOAD_CPU[@]}"} \
        wrk -t1 -c16 -d3s -s "$ROOT/bench/wrk.lua" "${!full}${!path}" >/dev/null 2>&1 || true
done
for round in $(seq "$ROUNDS"); do
    if ((round % 2 == 1)); then order=(FREE LIM); else order=(LIM FREE); fi
    for s in "${order[@]}"; do
        full="${s}_FULL" path="${s}_PATH" token="${s}_TOKEN" pid="${s}_PID"
        name="get_200"
        [[ "$s" == LIM ]] && name="get_429"
        wrk_run "$RESULTS" "$name" "$round" "${!full}${!path}" "${!token}" "${!pid}" "$SECONDS_PER_RUN" 16
    done
done
LOAD_AVG_END="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- limiter memory per key --------------------------------------------------------------------
if ((LIMITER_KEYS > 0)); then
    say "limiter memory: cargo run --release -p statuskit --example limiter_memory -- $LIMITER_KEYS"
    (cd "$ROOT" && cargo run -q --release -p statuskit --example limiter_memory -- "$LIMITER_KEYS") \
        >"$OUT/limiter-memory.txt" 2>&1 || say "  the limiter memory example failed (see $OUT/limiter-memory.txt)"
fi

# --- report ------------------------------------------------------------------------------------
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "-"; else print v[int((NR + 1) / 2)]}'; }
col() { awk -F'|' -v n="$1" -v c="$2" '$1 == n && $2 > 0 {print $c}' "$OUT/oha.txt"; }
{
    echo "statuskit overload bench, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    machine_lines
    echo "tools:     $(oha --version 2>&1 | head -1), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), $(rustc --version 2>/dev/null)"
    echo "load avg:  $LOAD_AVG_START at start, $LOAD_AVG_END at end (1/5/15 min)"
    echo "setup:     /v1/customers held ${DELAY_MS} ms (fault injection); shedding on: --max-in-flight $MAX_IN_FLIGHT; off: 10^9"
    echo "open loop: oha -q $RATE (${FACTOR}x capacity) -c $CONNECTIONS -z ${SECONDS_PER_RUN}s --latency-correction -w, $ROUNDS rounds each"
    echo
    cap_ok="$(col capacity 8)"
    cap_other="$(col capacity 11)"
    unl_p99="$(col unloaded 10)"
    echo "capacity (closed loop, -c $MAX_IN_FLIGHT): $cap_ok 2xx/s (ideal $MAX_IN_FLIGHT / ${DELAY_MS} ms = $((MAX_IN_FLIGHT * 1000 / DELAY_MS))/s), $cap_other non-2xx"
    echo "unloaded (open loop at $HALF/s): 2xx p50 $(col unloaded 9) ms, p99 $unl_p99 ms, statuses $(col unloaded 14)"
    echo
    echo "| scenario | offered/s | 2xx/s (median) | 2xx/s per round | goodput / capacity | 2xx p99 ms | p99 / unloaded p99 | non-2xx/s | non-2xx p50 ms | non-2xx p99 ms | statuses (last round) | no answer | server CPU % |"
    echo "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |"
    for name in shed_on shed_off; do
        ok="$(col "$name" 8 | median)"
        p99="$(col "$name" 10 | median)"
        other="$(awk -F'|' -v n="$name" '$1 == n {printf "%.0f\n", $11 / $5}' "$OUT/oha.txt" | median)"
        bad50="$(col "$name" 12 | median)"
        bad99="$(col "$name" 13 | median)"
        statuses="$(col "$name" 14 | tail -1)"
        errors="$(col "$name" 15 | awk '{s += $1} END {print s + 0}')"
        cpu="$(awk -F'|' -v n="$name" '$1 == n {printf "%.0f\n", $3 / ($5 * 1e4)}' "$OUT/oha.txt" | median)"
        per_round="$(col "$name" 8 | awk '{printf "%s%.0f", (NR > 1 ? " " : ""), $1}')"
        echo "| $name | $RATE | $ok | $per_round | $(awk -v a="$ok" -v b="$cap_ok" 'BEGIN {printf "%.3f", a / b}') | $p99 | $(awk -v a="$p99" -v b="$unl_p99" 'BEGIN {printf "%.2f", a / b}') | $other | $bad50 | $bad99 | $statuses | $errors | $cpu |"
    done
    on_ratio="$(awk -v a="$(col shed_on 8 | median)" -v b="$cap_ok" 'BEGIN {printf "%.3f", a / b}')"
    on_p99="$(awk -v a="$(col shed_on 10 | median)" -v b="$unl_p99" 'BEGIN {printf "%.2f", a / b}')"
    on_bad50="$(col shed_on 12 | median)"
    on_other="$(col shed_on 14 | tr ',' '\n' | awk -F: '$1 !~ /^2/ && $1 != 503 && $1 != 429 {s += $2} END {print s + 0}')"
    on_errors="$(col shed_on 15 | awk '{s += $1} END {print s + 0}')"
    on_no_ra="$(awk '$1 !~ /^2/ && $2 == "-"' "$OUT/retry-after-shed_on.txt" 2>/dev/null | wc -l)"
    verdict() { if awk "BEGIN {exit !($1)}"; then echo met; else echo MISSED; fi; }
    echo
    echo "aims (shedding on):"
    echo "  admitted goodput >= 0.8 x capacity:      $on_ratio -> $(verdict "$on_ratio >= 0.8")"
    echo "  admitted p99 <= 2 x unloaded p99:        $on_p99 -> $(verdict "$on_p99 <= 2")"
    echo "  excess answered 503/429 only:            $on_other other non-2xx -> $(verdict "$on_other == 0")"
    echo "  excess p50 < 1 ms:                       $on_bad50 ms -> $(verdict "\"$on_bad50\" != \"-\" && $on_bad50 < 1")"
    echo "  Retry-After on every sampled 503/429:    $on_no_ra without -> $(verdict "$on_no_ra == 0")"
    echo "  no connection errors:                    $on_errors -> $(verdict "$on_errors == 0")"
    echo
    for name in shed_on shed_off; do
        f="$OUT/retry-after-$name.txt"
        [[ -f "$f" ]] || continue
        echo "curl samples during $name: $(wc -l <"$f") requests; $(awk '{n[$1]++} END {for (c in n) printf "%s:%d ", c, n[c]}' "$f"); non-2xx without Retry-After: $(awk '$1 !~ /^2/ && $2 == "-"' "$f" | wc -l); Retry-After values: $(awk '$1 !~ /^2/ {print $2}' "$f" | sort | uniq -c | awk '{printf "%s x%s ", $2, $1}')"
    done
    echo
    echo "429 vs 200 (wrk -t1 -c16 -d${SECONDS_PER_RUN}s, $ROUNDS rounds; the 429 answer's headers:"
    grep -iE '^(HTTP|retry-after|ratelimit)' "$OUT/limited-headers.txt" | sed 's/^/    /'
    echo ")"
    "$BIN" report "$RESULTS"
    if [[ -f "$OUT/limiter-memory.txt" ]]; then
        echo
        echo "limiter memory (cargo run --release -p statuskit --example limiter_memory -- $LIMITER_KEYS):"
        sed 's/^/    /' "$OUT/limiter-memory.txt"
    fi
    echo
    echo "raw figures: $OUT"
} | tee "$OUT/report.txt"
exit 0
