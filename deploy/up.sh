#!/usr/bin/env bash
# deploy/up.sh [N] [-- SERVE_FLAGS…]: starts N statuskit instances (default 2) and nginx in front
# of them as the gateway, all on 127.0.0.1, and prints one line per instance and, last, the
# gateway:
#
#   instance <pid> http://127.0.0.1:PORT
#   gateway http://127.0.0.1:PORT
#
# Every instance gets SERVE_FLAGS and the caller's environment (STATUSKIT_ADMIN_USER and friends
# reach every one). They share the database at DATABASE_URL (PostgreSQL; without it, a SQLite file
# in the state directory, which only serves instances on this one machine) and, when REDIS_URL is
# set, one rate limit in Redis. The gateway's answers when instances fail (502, 504, 503, and its
# own 400/413/414/431) are problems like the service's: deploy/nginx/nginx.conf.template.
#
# Settings (environment): STATUSKIT_DEPLOY_DIR (state: logs, pids, nginx.conf; default
# target/deploy), STATUSKIT_BIN (default target/release/statuskit, built if missing),
# GATEWAY_PORT (default: a free port), GATEWAY_READ_TIMEOUT (how long the gateway waits for an
# instance, default 10s), GATEWAY_MAX_BODY (default 6m), GATEWAY_CONNECTIONS_PER_ADDRESS (256).
# deploy/restart.sh restarts the instances one at a time; deploy/down.sh stops everything.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${STATUSKIT_DEPLOY_DIR:-$ROOT/target/deploy}"
BIN="${STATUSKIT_BIN:-$ROOT/target/release/statuskit}"
say() { printf '%s\n' "$*" >&2; }

N=2
if [[ $# -gt 0 && "$1" != "--" ]]; then N="$1"; shift; fi
if [[ $# -gt 0 && "$1" == "--" ]]; then shift; fi
FLAGS=("$@")
[[ "$N" =~ ^[1-9][0-9]*$ ]] || { say "up.sh: N must be a positive number, got '$N'"; exit 2; }

if [[ -f "$STATE/instances" || -f "$STATE/nginx.pid" ]]; then
    say "up.sh: $STATE holds a running deployment; run deploy/down.sh first"
    exit 1
fi
if ! command -v nginx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nginx ]]; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        say "installing nginx from Debian"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null
        # Debian starts its own nginx on port 80; this deployment runs its own.
        (service nginx stop || pkill -x nginx) >/dev/null 2>&1 || true
    else
        say "up.sh: nginx is missing and cannot be installed here (needs root and apt-get)"
        exit 1
    fi
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
if [[ ! -x "$BIN" ]]; then
    say "building statuskit (release)"
    (cd "$ROOT" && cargo build --release --quiet -p statuskit-server)
fi

mkdir -p "$STATE"
DATABASE="${DATABASE_URL:-$STATE/statuskit.db}"
[[ -n "${DATABASE_URL:-}" ]] || say "up.sh: DATABASE_URL is not set; the instances share the SQLite file $DATABASE"
REDIS=()
[[ -n "${REDIS_URL:-}" ]] && REDIS=(--redis-url "$REDIS_URL")

: >"$STATE/instances"
# What deploy/restart.sh needs to start an instance again the same way.
printf '%s\n' "$DATABASE" >"$STATE/database"
printf '%s\0' ${REDIS[@]+"${REDIS[@]}"} ${FLAGS[@]+"${FLAGS[@]}"} >"$STATE/flags"
upstreams=""
# One at a time: the first start on an empty database creates the first user and client.
for i in $(seq 1 "$N"); do
    "$BIN" serve --addr 127.0.0.1:0 --database "$DATABASE" ${REDIS[@]+"${REDIS[@]}"} ${FLAGS[@]+"${FLAGS[@]}"} \
        >"$STATE/instance-$i.out" 2>"$STATE/instance-$i.log" &
    pid=$!
    for _ in $(seq 300); do
        grep -q '^listening on ' "$STATE/instance-$i.out" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    url=$(sed -n 's/^listening on //p' "$STATE/instance-$i.out")
    if [[ -z "$url" ]]; then
        say "up.sh: instance $i did not start:"; cat "$STATE/instance-$i.log" >&2
        "$ROOT/deploy/down.sh" >/dev/null 2>&1 || true
        exit 1
    fi
    echo "$pid $url" >>"$STATE/instances"
    upstreams+="        server ${url#http://} max_fails=0;"$'\n'
    echo "instance $pid $url"
done

port="${GATEWAY_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
mkdir -p "$STATE/client_body" "$STATE/proxy" "$STATE/fastcgi" "$STATE/uwsgi" "$STATE/scgi"
user_line=""
[[ $(id -u) -eq 0 ]] && user_line="user root;"
python3 - "$ROOT/deploy/nginx/nginx.conf.template" "$STATE/nginx.conf" <<PY
import sys
text = open(sys.argv[1]).read()
values = {
    "@STATE@": "$STATE",
    "@UPSTREAMS@": """$upstreams""".rstrip("\n"),
    "@PORT@": "$port",
    "@READ_TIMEOUT@": "${GATEWAY_READ_TIMEOUT:-10s}",
    "@MAX_BODY@": "${GATEWAY_MAX_BODY:-6m}",
    "@PER_ADDRESS@": "${GATEWAY_CONNECTIONS_PER_ADDRESS:-256}",
}
for k, v in values.items():
    text = text.replace(k, v)
text = ("$user_line\n" if "$user_line" else "") + text
open(sys.argv[2], "w").write(text)
PY
"$NGINX" -p "$STATE" -c "$STATE/nginx.conf" -t -q || { "$ROOT/deploy/down.sh" >/dev/null 2>&1 || true; exit 1; }
"$NGINX" -p "$STATE" -c "$STATE/nginx.conf"
for _ in $(seq 50); do
    [[ -s "$STATE/nginx.pid" ]] && break
    sleep 0.1
done
echo "http://127.0.0.1:$port" >"$STATE/gateway"
echo "gateway http://127.0.0.1:$port"
