#!/usr/bin/env bash
# NAME_URL, NAME_PID and friends are set by start_direct and start_deploy (printf -v).
# shellcheck disable=SC2154
#
# Scale-out costs, in one run: SQLite against PostgreSQL on one instance (the read path, GET
# /v1/customers/{id}, and the write path, POST /v1/customers of new customers), and one instance
# direct against the same instance behind the nginx gateway (deploy/up.sh 1), and 1 against 2
# instances behind it (deploy/up.sh 2). Prints medians over rounds and ratios; CPU per request of
# the service (from /proc/<pid>/stat), of the PostgreSQL backends serving this run's database, and
# of nginx. It reports; it never fails on a missed aim. Usage, from anywhere:
#
#   bench/scaleout.sh
#
# Knobs (environment):
#   BENCH_SECONDS      length of one wrk run, seconds     (default 8)
#   BENCH_ROUNDS       rounds over every scenario         (default 3)
#   BENCH_CONNECTIONS  wrk connections                    (default 16)
#   STATUSKIT_BIN      the service binary                 (default target/release/statuskit)
#   PG_ADMIN_URL       where to create and drop the run's database
#                      (default postgres://postgres@127.0.0.1:5432/test)
#
# Only 127.0.0.1 is loaded, every wrk run is bounded by -d and by `timeout`, the run's database is
# dropped at the end, and a watchdog stops every server this started after BENCH_MAX_SECONDS
# (default 900) even if this script is killed.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUN_SECONDS="${BENCH_SECONDS:-8}"
ROUNDS="${BENCH_ROUNDS:-3}"
CONNECTIONS="${BENCH_CONNECTIONS:-16}"
MAX_SECONDS="${BENCH_MAX_SECONDS:-900}"
SERVICE="${STATUSKIT_BIN:-$TARGET_DIR/release/statuskit}"
PG_ADMIN_URL="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/test}"
OUT="$TARGET_DIR/bench/scaleout"
DB="statuskit_scaleout_$$"
PG_URL="${PG_ADMIN_URL%/*}/$DB"

bench_tools wrk curl psql
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
[[ -x "$SERVICE" ]] || (cd "$ROOT" && cargo build --release -p statuskit-server)
rm -rf "$OUT"
mkdir -p "$OUT"

export STATUSKIT_ADMIN_USER=bench STATUSKIT_ADMIN_PASSWORD="bench-$$-$RANDOM"
export STATUSKIT_CLIENT_ID=bench-cli STATUSKIT_CLIENT_SECRET="bench-secret-$$-$RANDOM"
SERVE_FLAGS=(--rate-limits off)

# --- stopping: on exit, and by a watchdog that outlives this script ---------------------------
# $WORK/pids lists every service started here; deployments live in $WORK/deploy-*.
WATCHDOG_PID=""
DB_CREATED=""
stop_all() {
    local dir pid
    for dir in "$WORK"/deploy-*; do
        [[ -d "$dir" ]] && STATUSKIT_DEPLOY_DIR="$dir" "$ROOT/deploy/down.sh" >/dev/null 2>&1
    done
    if [[ -f "$WORK/pids" ]]; then
        while read -r pid; do kill -TERM "$pid" 2>/dev/null || true; done <"$WORK/pids"
        while read -r pid; do
            for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
        done <"$WORK/pids"
    fi
}
# shellcheck disable=SC2317 # run by the EXIT trap
scaleout_cleanup() {
    if [[ -n "$WATCHDOG_PID" ]]; then
        local sleeper
        sleeper="$(cat "/proc/$WATCHDOG_PID/task/"*/children 2>/dev/null || true)"
        kill "$WATCHDOG_PID" 2>/dev/null || true
        # shellcheck disable=SC2086 # its sleep, by id
        [[ -n "$sleeper" ]] && kill $sleeper 2>/dev/null
    fi
    stop_all
    if [[ -n "$DB_CREATED" ]]; then
        psql "$PG_ADMIN_URL" -qAtc "drop database if exists $DB with (force)" >/dev/null 2>&1 ||
            say "bench: could not drop database $DB"
    fi
    cp "$WORK"/*.log "$WORK"/deploy-*/*.log "$OUT/" 2>/dev/null || true
    bench_cleanup
}
trap scaleout_cleanup EXIT
: >"$WORK/pids"
(
    trap - EXIT INT TERM
    sleep "$MAX_SECONDS"
    say "bench: watchdog: $MAX_SECONDS s are up, stopping the servers"
    stop_all
    psql "$PG_ADMIN_URL" -qAtc "drop database if exists $DB with (force)" >/dev/null 2>&1
) </dev/null >/dev/null 2>&1 &
WATCHDOG_PID=$!

# --- the servers ------------------------------------------------------------------------------
psql "$PG_ADMIN_URL" -qAtc "create database $DB" >/dev/null
DB_CREATED=1

# start_direct NAME DATABASE: one `statuskit serve` on CPU 0 (when pinned); sets NAME_URL, NAME_PID.
start_direct() {
    local name="$1" database="$2" pid url=""
    ${SERVER_CPU[@]+"${SERVER_CPU[@]}"} "$SERVICE" serve --addr 127.0.0.1:0 --database "$database" \
        "${SERVE_FLAGS[@]}" >"$WORK/$name.out" 2>"$WORK/$name.log" &
    pid=$!
    echo "$pid" >>"$WORK/pids"
    for _ in $(seq 300); do
        url="$(sed -n 's/^listening on //p' "$WORK/$name.out")"
        [[ -n "$url" ]] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    [[ -n "$url" ]] || { say "bench: $name did not start:"; cat "$WORK/$name.log" >&2; exit 1; }
    printf -v "${name}_URL" '%s' "$url"
    printf -v "${name}_PID" '%s' "$pid"
}

# start_deploy NAME N: deploy/up.sh N on the run's PostgreSQL database; sets NAME_URL (the
# gateway), NAME_PIDS (the instances), NAME_NGINX (nginx's master) and NAME_DIRECT (the first
# instance's own URL).
start_deploy() {
    local name="$1" n="$2" dir="$WORK/deploy-$1"
    mkdir -p "$dir"
    STATUSKIT_DEPLOY_DIR="$dir" STATUSKIT_BIN="$SERVICE" DATABASE_URL="$PG_URL" REDIS_URL="" \
        "$ROOT/deploy/up.sh" "$n" -- "${SERVE_FLAGS[@]}" >"$dir/up.txt" 2>"$dir/up.log" ||
        { say "bench: deploy/up.sh $n failed:"; cat "$dir/up.log" >&2; exit 1; }
    printf -v "${name}_URL" '%s' "$(sed -n 's/^gateway //p' "$dir/up.txt")"
    printf -v "${name}_PIDS" '%s' "$(awk '$1 == "instance" {printf "%s ", $2}' "$dir/up.txt")"
    printf -v "${name}_DIRECT" '%s' "$(awk '$1 == "instance" {print $3; exit}' "$dir/up.txt")"
    printf -v "${name}_NGINX" '%s' "$(cat "$dir/nginx.pid")"
}

say "starting: SQLite instance, PostgreSQL instance (database $DB), gateway with 1 and with 2 instances"
start_direct sqlite "$WORK/scaleout.db"
start_direct pg "$PG_URL"
start_deploy gw1 1
start_deploy gw2 2

token_of() {
    curl -s --max-time 10 -u "$STATUSKIT_CLIENT_ID:$STATUSKIT_CLIENT_SECRET" -d grant_type=password \
        -d username="$STATUSKIT_ADMIN_USER" -d password="$STATUSKIT_ADMIN_PASSWORD" "$1/oauth/token" |
        sed -nE 's/.*"access_token":"([^"]+)".*/\1/p'
}
# customer_of URL TOKEN: creates one customer, prints its path.
customer_of() {
    curl -s -i --max-time 10 -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
        -d "{\"name\":\"Read Me\",\"email\":\"read-$$-$RANDOM@example.com\"}" "$1/v1/customers" |
        tr -d '\r' | sed -n 's/^[Ll]ocation: //p'
}
SQLITE_TOKEN="$(token_of "$sqlite_URL")"
PG_TOKEN="$(token_of "$pg_URL")"
[[ -n "$SQLITE_TOKEN" && -n "$PG_TOKEN" ]] || { say "bench: no token from the password grant"; exit 1; }
SQLITE_PATH="$(customer_of "$sqlite_URL" "$SQLITE_TOKEN")"
PG_PATH="$(customer_of "$pg_URL" "$PG_TOKEN")"
[[ -n "$SQLITE_PATH" && -n "$PG_PATH" ]] || { say "bench: could not create the customer to read"; exit 1; }

# pg_backends_us: CPU time of the PostgreSQL backends connected to this run's database, in µs
# (processes titled "postgres: [CLUSTER:] USER DB HOST …"; the server's shared background processes are left
# out). Backends that come and go during a run are missed, so the pools are kept warm.
pg_backends_us() {
    local pid total=0
    for pid in $(ps -eo pid=,args= | awk -v db="$DB" '$2 == "postgres:" && ($4 == db || $5 == db) {print $1}'); do
        total=$((total + $(cpu_us "$pid" 2>/dev/null || echo 0)))
    done
    echo "$total"
}
# pids_us PID…: CPU time of the processes (and, for nginx's master, its workers), in µs.
pids_us() {
    local pid child total=0
    for pid in "$@"; do
        total=$((total + $(cpu_us "$pid" 2>/dev/null || echo 0)))
        # shellcheck disable=SC2013 # pids, one word each
        for child in $(cat "/proc/$pid/task/"*/children 2>/dev/null); do
            total=$((total + $(cpu_us "$child" 2>/dev/null || echo 0)))
        done
    done
    echo "$total"
}

# name|url|token|method|service pids|nginx pid|description
SCENARIOS=(
    "sqlite_read|$sqlite_URL$SQLITE_PATH|$SQLITE_TOKEN|GET|$sqlite_PID||SQLite, one instance direct, GET /v1/customers/{id}"
    "pg_read|$pg_URL$PG_PATH|$PG_TOKEN|GET|$pg_PID||PostgreSQL, one instance direct, the same GET"
    "sqlite_write|$sqlite_URL/v1/customers|$SQLITE_TOKEN|POST|$sqlite_PID||SQLite, POST /v1/customers, a new customer each"
    "pg_write|$pg_URL/v1/customers|$PG_TOKEN|POST|$pg_PID||PostgreSQL, the same POST"
    "direct|$gw1_DIRECT$PG_PATH|$PG_TOKEN|GET|$gw1_PIDS||PostgreSQL, the gateway's instance addressed directly, unpinned"
    "gw1|$gw1_URL$PG_PATH|$PG_TOKEN|GET|$gw1_PIDS|$gw1_NGINX|the same instance through nginx (deploy/up.sh 1)"
    "gw2|$gw2_URL$PG_PATH|$PG_TOKEN|GET|$gw2_PIDS|$gw2_NGINX|2 instances through nginx (deploy/up.sh 2)"
)

say "checking statuses"
for s in "${SCENARIOS[@]}"; do
    IFS='|' read -r name url token method _ <<<"$s"
    [[ "$method" == GET ]] || continue
    got="$(status_of "$url" "$token")"
    say "  $name: GET $url -> $got"
    [[ "$got" == 200 ]] || { say "bench: $name answers $got, not 200"; exit 1; }
done

RESULTS="$OUT/results.txt"
: >"$RESULTS"
# run_one SCENARIO ROUND SECONDS [warm]: one wrk run; appends
# run|name|round|requests|duration_us|p50|p99|errors…|service_us|pg_us|nginx_us
run_one() {
    local name url token method pids nginx log s0 s1 p0 p1 n0 n1 line place=()
    IFS='|' read -r name url token method pids nginx _ <<<"$1"
    log="$OUT/wrk-$name-round$2.txt"
    # The direct single instances are pinned like bench/run.sh; the deployments are not (two
    # instances on one core could not show what a second instance gives).
    case "$name" in sqlite_* | pg_*) place=(${LOAD_CPU[@]+"${LOAD_CPU[@]}"}) ;; esac
    # shellcheck disable=SC2086 # pids is a list
    s0="$(pids_us $pids)"
    p0="$(pg_backends_us)"
    n0="$([[ -n "$nginx" ]] && pids_us "$nginx" || echo 0)"
    if [[ "$method" == POST ]]; then
        BENCH_PREFIX="$name-$$-$2" BENCH_AUTH="Bearer $token" timeout $(($3 + 30)) ${place[@]+"${place[@]}"} \
            wrk -t1 -c"$CONNECTIONS" -d"$3s" --latency -s "$ROOT/bench/post.lua" "$url" >"$log" 2>&1 ||
            say "  wrk failed for $name (see $log)"
    else
        BENCH_METHOD=GET BENCH_AUTH="Bearer $token" timeout $(($3 + 30)) ${place[@]+"${place[@]}"} \
            wrk -t1 -c"$CONNECTIONS" -d"$3s" --latency -s "$ROOT/bench/wrk.lua" "$url" >"$log" 2>&1 ||
            say "  wrk failed for $name (see $log)"
    fi
    # shellcheck disable=SC2086
    s1="$(pids_us $pids)"
    p1="$(pg_backends_us)"
    n1="$([[ -n "$nginx" ]] && pids_us "$nginx" || echo 0)"
    [[ "${4:-}" == warm ]] && return 0
    line="$(grep '^BENCH|' "$log" | tail -1 || true)"
    [[ -n "$line" ]] || { say "  $name round $2: no figures (see $log)"; return 0; }
    echo "run|$name|$2|${line#BENCH|}|$((s1 - s0))|$((p1 - p0))|$((n1 - n0))" >>"$RESULTS"
    say "  round $2  $(printf '%-13s' "$name") $(awk -F'|' '{printf "%.0f req/s, %d errors", $2 / ($3 / 1e6), $6 + $7 + $8 + $9 + $10}' <<<"$line")"
}

say "warming up (2 s each)"
for s in "${SCENARIOS[@]}"; do run_one "$s" 0 2 warm; done
say "running $ROUNDS rounds of ${#SCENARIOS[@]} scenarios, ${RUN_SECONDS}s each"
for round in $(seq "$ROUNDS"); do
    if ((round % 2 == 1)); then
        order=("${SCENARIOS[@]}")
    else
        order=()
        for ((i = ${#SCENARIOS[@]} - 1; i >= 0; i--)); do order+=("${SCENARIOS[$i]}"); done
    fi
    for s in "${order[@]}"; do run_one "$s" "$round" "$RUN_SECONDS"; done
done
PG_COUNT="$(psql "$PG_URL" -qAtc 'select count(*) from customers' 2>/dev/null || echo '?')"

# --- report -----------------------------------------------------------------------------------
CORES="$(nproc)"
{
    echo "statuskit scale-out bench, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    machine_lines | grep -v '^placement'
    echo "placement: sqlite_*/pg_*: the instance on CPU 0 and wrk on CPU 1 (when pinned); PostgreSQL,"
    echo "           nginx and the deployments (direct, gw1, gw2) unpinned, sharing all $CORES cores with wrk"
    echo "tools:     $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), $(nginx -v 2>&1), $(psql "$PG_ADMIN_URL" -qAtc 'show server_version' 2>/dev/null | sed 's/^/PostgreSQL /')"
    echo "loadavg:   $LOAD_BEFORE at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (1, 5, 15 min; anything else running counts)"
    echo "load:      wrk -t1 -c$CONNECTIONS -d${RUN_SECONDS}s, $ROUNDS rounds (alternating order), 127.0.0.1 only"
    echo "service:   $SERVICE serve ${SERVE_FLAGS[*]}; database $DB (customers at the end: $PG_COUNT)"
    echo
    for s in "${SCENARIOS[@]}"; do
        IFS='|' read -r name _ _ method _ _ desc <<<"$s"
        echo "  $(printf '%-13s' "$name") $method  $desc"
    done
    echo
    awk -F'|' -v cores="$CORES" '
    function median(list,   a, n, i, j, t) {
        n = split(list, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    $1 == "run" {
        n = $2; r = $3; req = $4
        rps[n] = rps[n] " " req / ($5 / 1e6)
        svc[n] = svc[n] " " $13 / req; pg[n] = pg[n] " " $14 / req; ngx[n] = ngx[n] " " $15 / req
        tot[n] = tot[n] " " ($13 + $15) / req
        err[n] += $8 + $9 + $10 + $11 + $12
        p99[n] = p99[n] " " $7 / 1000
        R[n, r] = req / ($5 / 1e6); S[n, r] = $13 / req; T[n, r] = ($13 + $15) / req
        if (r > rounds) rounds = r
        if (!(n in seen)) { seen[n] = 1; order[++count] = n }
    }
    function range(a, b, kind,   r, lo, hi, v) {
        lo = ""; hi = ""
        for (r = 1; r <= rounds; r++) {
            if (kind == "rps") v = R[a, r] / R[b, r]
            else if (kind == "svc") v = S[a, r] / S[b, r]
            else v = T[a, r] / S[b, r]
            if (lo == "" || v < lo) lo = v
            if (hi == "" || v > hi) hi = v
        }
        return sprintf("%.2f-%.2f", lo, hi)
    }
    END {
        printf "%-13s %9s %9s %15s %10s %13s %6s\n", "scenario", "req/s", "p99 ms", "service us/req", "pg us/req", "nginx us/req", "errors"
        for (i = 1; i <= count; i++) {
            n = order[i]
            printf "%-13s %9.0f %9.1f %15.1f %10.1f %13.1f %6d\n", n, median(rps[n]), median(p99[n]), median(svc[n]), median(pg[n]), median(ngx[n]), err[n]
        }
        print ""
        printf "%-52s %8s %11s  %s\n", "ratio (medians; per-round range)", "value", "rounds", "aim"
        v = median(svc["pg_read"]) / median(svc["sqlite_read"])
        printf "%-52s %8.2f %11s  <= 1.50: %s\n", "read: service CPU/req, PG / SQLite", v, range("pg_read", "sqlite_read", "svc"), (v <= 1.5 ? "met" : "missed")
        printf "%-52s %8.2f %11s  information\n", "read: req/s, PG / SQLite", median(rps["pg_read"]) / median(rps["sqlite_read"]), range("pg_read", "sqlite_read", "rps")
        printf "%-52s %8.2f %11s  information\n", "read: (service + PG backends) CPU/req, PG / SQLite", (median(svc["pg_read"]) + median(pg["pg_read"])) / median(svc["sqlite_read"]), "-"
        printf "%-52s %8.2f %11s  information\n", "write: service CPU/req, PG / SQLite", median(svc["pg_write"]) / median(svc["sqlite_write"]), range("pg_write", "sqlite_write", "svc")
        printf "%-52s %8.2f %11s  information\n", "write: req/s, PG / SQLite", median(rps["pg_write"]) / median(rps["sqlite_write"]), range("pg_write", "sqlite_write", "rps")
        printf "%-52s %8.2f %11s  information\n", "write: (service + PG backends) CPU/req, PG / SQLite", (median(svc["pg_write"]) + median(pg["pg_write"])) / median(svc["sqlite_write"]), "-"
        v = median(tot["gw1"]) / median(svc["direct"])
        printf "%-52s %8.2f %11s  <= 1.10: %s\n", "gateway: (service + nginx) CPU/req / direct", v, range("gw1", "direct", "tot"), (v <= 1.1 ? "met" : "missed")
        printf "%-52s %8.2f %11s  information\n", "gateway: service CPU/req behind it / direct", median(svc["gw1"]) / median(svc["direct"]), range("gw1", "direct", "svc")
        printf "%-52s %8.2f %11s  information\n", "gateway: req/s through it / direct", median(rps["gw1"]) / median(rps["direct"]), range("gw1", "direct", "rps")
        v = median(rps["gw2"]) / median(rps["gw1"])
        printf "%-52s %8.2f %11s  >= 1.60: %s\n", "2 instances / 1, req/s through the gateway", v, range("gw2", "gw1", "rps"), (cores >= 6 ? (v >= 1.6 ? "met" : "missed") : "cannot be judged here (nproc=" cores "; wrk, nginx, PostgreSQL and the instances share them)")
    }' "$RESULTS"
    echo
    echo "raw figures: $OUT"
} | tee "$OUT/report.txt"
exit 0
