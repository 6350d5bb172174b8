#!/usr/bin/env bash
# Issue 10 (hostile clients): peak resident memory (VmHWM) of the service while it takes the
# worst avatar uploads: an ICC profile that inflates to 600 MiB, 8000x8000 pixel bombs of a few
# hundred KiB, the largest PNG and JPEGs (baseline and progressive) the limits accept. Each
# upload goes to a fresh `statuskit serve` (release build), so each peak is that upload's alone.
# Prints a table; exits 0 whatever the figures are (it reports, it is not a test). Usage:
#
#   bench/avatar_rss.sh
#
# Knobs (environment):
#   AVATAR_RSS_BIN   another statuskit binary to measure (e.g. a build from before the limits);
#                    then nothing is built                 (default: target/release/statuskit)
#
# Needs python3 (to craft the PNGs), curl, and cjpeg (libjpeg-turbo-progs, installed with
# apt-get when missing and root).
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVER_BIN="${AVATAR_RSS_BIN:-$TARGET_DIR/release/statuskit}"
OUT="$TARGET_DIR/bench/avatar_rss"
rm -rf "$OUT"
mkdir -p "$OUT"

bench_tools curl python3
if ! command -v cjpeg >/dev/null 2>&1; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        say "installing libjpeg-turbo-progs (cjpeg) from Debian"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libjpeg-turbo-progs >/dev/null
    else
        say "bench: cjpeg missing and cannot be installed here (needs root and apt-get)"
        exit 1
    fi
fi
if [[ -z "${AVATAR_RSS_BIN:-}" ]]; then
    say "building statuskit (release)"
    (cd "$ROOT" && cargo build --release -p statuskit-server --bin statuskit)
fi

# --- the uploads -------------------------------------------------------------------------------
say "crafting the avatars in $OUT"
python3 - "$OUT" <<'PY'
import struct, sys, zlib

out = sys.argv[1]
MIB = 1 << 20

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

def zeros(n):
    z = zlib.compressobj(9)
    block = bytes(MIB)
    parts = []
    while n > 0:
        take = min(n, MIB)
        parts.append(z.compress(block[:take]))
        n -= take
    parts.append(z.flush())
    return b"".join(parts)

def png(name, w, h, color, channels, extra=b""):
    head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
    body = head + extra + chunk(b"IDAT", zeros(h * (1 + w * channels))) + chunk(b"IEND", b"")
    open(f"{out}/{name}", "wb").write(body)

png("iccp-600MiB.png", 64, 64, 2, 3, chunk(b"iCCP", b"icc\0\0" + zeros(600 * MIB)))
png("rgb-8000x8000-zeros.png", 8000, 8000, 2, 3)
png("grey-8000x8000-zeros.png", 8000, 8000, 0, 1)
png("rgba-4096x4096-zeros.png", 4096, 4096, 6, 4)

# A smooth 5456x4096 RGB picture (64 MiB of pixels less 64 KiB: the largest RGB the limit takes)
# for cjpeg.
w, h = 5456, 4096
row = bytes(v for x in range(w) for v in ((x * 255) // w, 128, 255 - (x * 255) // w))
with open(f"{out}/photo.ppm", "wb") as f:
    f.write(b"P6\n%d %d\n255\n" % (w, h))
    for y in range(h):
        f.write(row[3 * (y % 7):] + row[: 3 * (y % 7)])
PY
cjpeg -quality 80 -outfile "$OUT/jpeg-5456x4096-baseline.jpg" "$OUT/photo.ppm"
cjpeg -quality 80 -progressive -outfile "$OUT/jpeg-5456x4096-progressive.jpg" "$OUT/photo.ppm"
rm "$OUT/photo.ppm"

UPLOADS=(
    "iccp-600MiB.png|image/png"
    "rgb-8000x8000-zeros.png|image/png"
    "grey-8000x8000-zeros.png|image/png"
    "rgba-4096x4096-zeros.png|image/png"
    "jpeg-5456x4096-baseline.jpg|image/jpeg"
    "jpeg-5456x4096-progressive.jpg|image/jpeg"
)

vm_hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# --- one fresh service per upload --------------------------------------------------------------
RESULTS="$OUT/results.txt"
{
    echo "| upload | bytes | PUT | operation | idle VmHWM | peak VmHWM | added |"
    echo "| --- | ---: | --- | --- | ---: | ---: | ---: |"
} >"$RESULTS"
for u in "${UPLOADS[@]}"; do
    IFS='|' read -r file type <<<"$u"
    name="${file%.*}"
    out="$WORK/$name.out"
    STATUSKIT_ADMIN_USER=admin STATUSKIT_ADMIN_PASSWORD=bench-admin-password \
        STATUSKIT_CLIENT_ID=bench STATUSKIT_CLIENT_SECRET=bench-secret RUST_LOG=warn \
        ${SERVER_CPU[@]+"${SERVER_CPU[@]}"} "$SERVER_BIN" serve --addr 127.0.0.1:0 \
        --database "$WORK/$name.db" >"$out" 2>"$WORK/$name.log" &
    pid=$!
    SERVER_PIDS+=("$pid")
    for _ in $(seq 300); do
        grep -q '^listening on ' "$out" && break
        sleep 0.1
    done
    base="$(sed -n 's/^listening on //p' "$out")"
    [[ -n "$base" ]] || { say "bench: the service did not start:"; cat "$WORK/$name.log" >&2; exit 1; }
    token="$(curl -s --max-time 10 -u bench:bench-secret -d grant_type=password -d username=admin \
        -d password=bench-admin-password "$base/oauth/token" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
    sleep 0.5
    idle="$(vm_hwm_kib "$pid")"
    put="$(curl -s -o "$OUT/$name.put.json" -D "$OUT/$name.put.head" -w '%{http_code}' --max-time 30 \
        -X PUT -H "Authorization: Bearer $token" -H "content-type: $type" \
        --data-binary "@$OUT/$file" "$base/v1/me/avatar")"
    outcome="-"
    if [[ "$put" == 202 ]]; then
        monitor="$(tr -d '\r' <"$OUT/$name.put.head" | sed -n 's/^location: //Ip')"
        outcome="did not finish in 60 s"
        for _ in $(seq 300); do
            code="$(curl -s -o "$OUT/$name.op.json" -w '%{http_code}' --max-time 5 \
                -H "Authorization: Bearer $token" "$base$monitor")"
            if [[ "$code" == 303 ]]; then
                outcome="succeeded (303)"
                break
            fi
            if grep -q '"status":"failed"' "$OUT/$name.op.json"; then
                outcome="failed: $(python3 -c 'import json, sys; print(json.load(sys.stdin)["error"]["errors"]["body"][0])' <"$OUT/$name.op.json")"
                break
            fi
            sleep 0.2
        done
    else
        outcome="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["errors"]["body"][0])' <"$OUT/$name.put.json" 2>/dev/null || echo '?')"
    fi
    peak="$(vm_hwm_kib "$pid")"
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    printf '| %s | %s | %s | %s | %d MiB | %d MiB | **%d MiB** |\n' "$file" "$(stat -c %s "$OUT/$file")" "$put" \
        "$outcome" $((idle / 1024)) $((peak / 1024)) $(((peak - idle) / 1024)) >>"$RESULTS"
    say "  $file: PUT $put, $outcome, VmHWM $((idle / 1024)) -> $((peak / 1024)) MiB"
done

echo "# bench/avatar_rss.sh: peak RSS (VmHWM) of a fresh service per upload ($SERVER_BIN)"
machine_lines
echo
cat "$RESULTS"
