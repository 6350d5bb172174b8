#!/usr/bin/env bash
# A rolling restart under wrk: every instance of a running deployment (deploy/up.sh) restarted
# one at a time by deploy/restart.sh while wrk reads through the gateway; every answer must be
# a 2xx, and no connection may fail. Prints wrk's report and the verdict; exits 1 on any request
# answered outside the contract. Usage:
#
#   STATUSKIT_DEPLOY_DIR=DIR bench/rolling_restart.sh TOKEN [PATH]
#
# DIR is the deployment's state directory (default target/deploy); TOKEN a bearer token for it;
# PATH what wrk reads (default /v1/customers?limit=5). Knobs: ROLLING_SECONDS (wrk's run, default
# 12; the restart starts after a quarter of it), ROLLING_CONNECTIONS (default 16). Loopback only;
# wrk is bounded by -d and by `timeout`.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TOKEN="${1:?usage: bench/rolling_restart.sh TOKEN [PATH]}"
TARGET_PATH="${2:-/v1/customers?limit=5}"
STATE="${STATUSKIT_DEPLOY_DIR:-$ROOT/target/deploy}"
SECONDS_RUN="${ROLLING_SECONDS:-12}"
CONNECTIONS="${ROLLING_CONNECTIONS:-16}"
bench_tools wrk
gateway="$(cat "$STATE/gateway")"
[[ "$gateway" == http://127.0.0.1:* ]] || { say "rolling_restart: the gateway is not on 127.0.0.1: $gateway"; exit 2; }
before="$(cut -d' ' -f1 "$STATE/instances" | tr '\n' ' ')"

timeout $((SECONDS_RUN + 30)) wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_RUN}s" --latency \
    -H "Authorization: Bearer $TOKEN" "$gateway$TARGET_PATH" >"$WORK/wrk.out" 2>&1 &
wrk_pid=$!
sleep $((SECONDS_RUN / 4))
"$ROOT/deploy/restart.sh" >"$WORK/restart.out"
wait "$wrk_pid"
after="$(cut -d' ' -f1 "$STATE/instances" | tr '\n' ' ')"
cat "$WORK/wrk.out"
say "instances before: $before; after: $after"
for pid in $before; do
    if [[ " $after " == *" $pid "* ]]; then
        say "rolling_restart: instance $pid was not restarted"
        exit 1
    fi
done
requests="$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$WORK/wrk.out")"
non2xx="$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$WORK/wrk.out")"
socket="$(sed -n 's/^ *Socket errors: *\(.*\)/\1/p' "$WORK/wrk.out")"
say "rolling restart under wrk: ${requests:-0} requests, ${non2xx:-0} answered outside 2xx/3xx, socket errors: ${socket:-none}"
if [[ -z "$requests" || "$requests" -eq 0 || -n "$non2xx" || -n "$socket" ]]; then
    say "rolling_restart: FAILED: requests were answered outside the contract during the restart"
    exit 1
fi
say "rolling_restart: every request answered 2xx"
