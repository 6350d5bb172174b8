#!/usr/bin/env bash
# The retry storm and the client's own cost (issue 14): 200 concurrent clients each create one
# customer against a `statuskit serve` whose write quota is far below their demand, as bare
# reqwest retrying every 429 at once, as one shared statuskit-client `Client`, and as 200
# separate `Client`s; then GET of one customer, a plain 200, through bare reqwest and through the
# client, alternating rounds, CPU time of the calling process per request (the service runs in
# another process). Prints a Markdown table and the ratios; see crates/statuskit-client/examples/storm.rs.
#
#   bench/storm.sh                                (200 clients, 40 writes per 2 s, 2000 GETs × 5)
#   bench/storm.sh 200 40 2 2000 5                (CLIENTS QUOTA WINDOW_S PLAIN_N ROUNDS)
#   STATUSKIT_BIN=target/release/statuskit bench/storm.sh
#
# Only 127.0.0.1 is used; each service is killed when its scenario ends (and on exit).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
cd "$ROOT"
if [[ -z "${STATUSKIT_BIN:-}" ]]; then
    # The service's speed does not enter the figures (request counts, and the client's CPU in
    # its own process), so the debug build the tests use will do if there is no release one.
    if [[ -x "$TARGET_DIR/release/statuskit" ]]; then
        STATUSKIT_BIN="$TARGET_DIR/release/statuskit"
    else
        cargo build -p statuskit-server --bin statuskit
        STATUSKIT_BIN="$TARGET_DIR/debug/statuskit"
    fi
fi
cargo build --release -p statuskit-client --example storm
echo "service: $STATUSKIT_BIN; commit $(git rev-parse --short HEAD); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
timeout 900 "$TARGET_DIR/release/examples/storm" "$STATUSKIT_BIN" "$@"
