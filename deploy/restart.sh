#!/usr/bin/env bash
# deploy/restart.sh: a rolling restart of what deploy/up.sh started (e.g. after a new build of
# STATUSKIT_BIN). One instance at a time: it is sent SIGTERM (it stops accepting at once, so the
# gateway sends new requests to the others, and finishes what is in flight within its
# --shutdown-grace-ms), then started again on the same port with the same flags and environment.
# nginx is not reloaded: a reload closes its idle keep-alive connections to clients, which a
# client that just sent a request on one sees as a failure. Prints `instance <pid> URL` for each
# new one.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${STATUSKIT_DEPLOY_DIR:-$ROOT/target/deploy}"
BIN="${STATUSKIT_BIN:-$ROOT/target/release/statuskit}"
say() { printf '%s\n' "$*" >&2; }
[[ -f "$STATE/instances" && -s "$STATE/nginx.pid" ]] || { say "restart.sh: nothing is running in $STATE"; exit 1; }
DATABASE="$(cat "$STATE/database")"
FLAGS=()
while IFS= read -r -d '' flag; do FLAGS+=("$flag"); done <"$STATE/flags"

cp "$STATE/instances" "$STATE/instances.old"
: >"$STATE/instances.new"
i=0
while read -r pid url; do
    i=$((i + 1))
    addr=${url#http://}
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    "$BIN" serve --addr "$addr" --database "$DATABASE" ${FLAGS[@]+"${FLAGS[@]}"} \
        >"$STATE/instance-$i.out" 2>>"$STATE/instance-$i.log" &
    new=$!
    for _ in $(seq 300); do
        grep -q '^listening on ' "$STATE/instance-$i.out" 2>/dev/null && break
        kill -0 "$new" 2>/dev/null || { say "restart.sh: instance $i did not start again:"; tail -5 "$STATE/instance-$i.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "$new $url" >>"$STATE/instances.new"
    echo "instance $new $url"
done <"$STATE/instances.old"
mv "$STATE/instances.new" "$STATE/instances"
rm -f "$STATE/instances.old"
