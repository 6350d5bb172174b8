# Shared by bench/overload.sh and bench/work.sh (sourced, not run). bench/run.sh predates it
# and keeps its own copy of the same steps.
#
# Every load targets 127.0.0.1, every wrk/oha run is bounded by -d/-z and by `timeout`, and
# every server this starts stops by itself after --max-seconds (and is killed on exit).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/statuskit-bench"

say() { printf '%s\n' "$*" >&2; }

# bench_tools TOOL…: installs what is missing. wrk and curl come from Debian (needs root and
# apt-get), oha from crates.io with `cargo install oha --locked`.
bench_tools() {
    local missing=() tool
    for tool in "$@"; do
        [[ "$tool" == oha ]] && continue
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
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
    if [[ " $* " == *" oha "* ]] && ! command -v oha >/dev/null 2>&1; then
        if [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/oha" ]]; then
            PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
        else
            say "installing oha from crates.io (cargo install oha --locked)"
            cargo install oha --locked
            PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
        fi
    fi
}

bench_build() {
    say "building statuskit-bench (release)"
    (cd "$ROOT" && cargo build --release -p statuskit-bench)
}

# CPU placement: servers on CPU 0, the load generator on CPU 1 (when there are 2+ cores).
SERVER_CPU=()
LOAD_CPU=()
PLACEMENT="not pinned (needs 2+ cores and taskset)"
if (($(nproc) >= 2)) && command -v taskset >/dev/null 2>&1; then
    SERVER_CPU=(taskset -c 0)
    LOAD_CPU=(taskset -c 1)
    PLACEMENT="servers (1 tokio worker + their SQLite threads) on CPU 0, the load generator on CPU 1"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/statuskit-bench.XXXXXX")"
SERVER_PIDS=()
bench_cleanup() {
    local pid
    for pid in ${SERVER_PIDS[@]+"${SERVER_PIDS[@]}"}; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [[ -n "${OUT:-}" ]]; then
        cp "$WORK"/*.log "$OUT/" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME MAX_SECONDS [statuskit-bench serve flags…]: starts one `statuskit-bench
# serve` on its own database, waits for its addresses and sets NAME_FULL, NAME_PATH, NAME_TOKEN,
# NAME_USER_TOKEN, NAME_OP_DONE, NAME_OP_RUNNING and NAME_PID.
start_server() {
    local name="$1" max_seconds="$2" pid out
    shift 2
    out="$WORK/$name.out"
    ${SERVER_CPU[@]+"${SERVER_CPU[@]}"} "$BIN" serve --database "$WORK/$name.db" --workers 1 \
        --max-seconds "$max_seconds" "$@" >"$out" 2>"$WORK/$name.log" &
    pid=$!
    SERVER_PIDS+=("$pid")
    for _ in $(seq 600); do
        grep -q '^op_running ' "$out" && break
        if ! kill -0 "$pid" 2>/dev/null; then
            say "bench: server $name exited before listening:"
            cat "$WORK/$name.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    grep -q '^op_running ' "$out" || { say "bench: server $name did not print its addresses within 60 s"; exit 1; }
    printf -v "${name}_FULL" '%s' "$(sed -n 's/^full //p' "$out")"
    printf -v "${name}_PATH" '%s' "$(sed -n 's/^path //p' "$out")"
    printf -v "${name}_TOKEN" '%s' "$(sed -n 's/^token //p' "$out")"
    printf -v "${name}_USER_TOKEN" '%s' "$(sed -n 's/^user_token //p' "$out")"
    printf -v "${name}_OP_DONE" '%s' "$(sed -n 's/^op_done //p' "$out")"
    printf -v "${name}_OP_RUNNING" '%s' "$(sed -n 's/^op_running //p' "$out")"
    printf -v "${name}_PID" '%s' "$pid"
}

# CPU time (user + system, all threads) process PID has used so far, in microseconds.
CLK_TCK="$(getconf CLK_TCK)"
cpu_us() { awk -v hz="$CLK_TCK" '{printf "%.0f", ($14 + $15) * 1e6 / hz}' "/proc/$1/stat"; }

# status_of URL TOKEN [curl args…]: the status line's code of one request.
status_of() {
    local url="$1" token="$2"
    shift 2
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $token" "$@" "$url" || true
}

# wrk_run RESULTS NAME ROUND URL TOKEN PID SECONDS CONNECTIONS: one closed-loop wrk run of GET
# URL with the bearer token; appends a `run|…` line for `statuskit-bench report` (with the CPU
# time server PID used during it).
wrk_run() {
    local results="$1" name="$2" round="$3" url="$4" token="$5" pid="$6" seconds="$7" connections="$8"
    local log="$OUT/wrk-$name-round$round.txt" cpu0 cpu1 line
    cpu0="$(cpu_us "$pid")"
    BENCH_METHOD=GET BENCH_AUTH="Bearer $token" timeout $((seconds + 60)) ${LOAD_CPU[@]+"${LOAD_CPU[@]}"} \
        wrk -t1 -c"$connections" -d"${seconds}s" --latency -s "$ROOT/bench/wrk.lua" "$url" >"$log" 2>&1 ||
        say "  wrk failed for $name (see $log)"
    cpu1="$(cpu_us "$pid")"
    line="$(grep '^BENCH|' "$log" | tail -1 || true)"
    if [[ -z "$line" ]]; then
        say "  $name round $round: no figures (see $log)"
        return 0
    fi
    echo "run|$name|$round|${line#BENCH|}|$((cpu1 - cpu0))" >>"$results"
    say "  round $round  $(printf '%-14s' "$name") $(awk -F'|' '{printf "%.0f req/s", $2 / ($3 / 1e6)}' <<<"$line")"
}

machine_lines() {
    echo "machine:   nproc=$(nproc), $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(uname -sr)"
    echo "commit:    $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (work tree differs from it)')"
    echo "placement: $PLACEMENT"
}
