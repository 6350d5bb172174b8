#!/usr/bin/env bash
# deploy/down.sh: stops what deploy/up.sh started (nginx, then every instance with SIGTERM, which
# lets requests in flight finish), and forgets it. Safe to run when nothing is running.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${STATUSKIT_DEPLOY_DIR:-$ROOT/target/deploy}"
if [[ -s "$STATE/nginx.pid" ]]; then
    pid=$(cat "$STATE/nginx.pid")
    kill -QUIT "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
fi
rm -f "$STATE/nginx.pid" "$STATE/gateway"
if [[ -f "$STATE/instances" ]]; then
    while read -r pid _; do kill -TERM "$pid" 2>/dev/null; done <"$STATE/instances"
    while read -r pid _; do
        for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    done <"$STATE/instances"
    rm -f "$STATE/instances"
fi
echo "stopped"
