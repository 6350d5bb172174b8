#!/usr/bin/env bash
# Every status of the contract that the service shows today, with curl: each step prints the
# command, the status line and the headers that matter, and fails if the status is not the one
# the contract promises. CI runs it against a fresh service; the README shows the same commands.
#
# Usage: examples/walkthrough.sh [BASE_URL]   (default http://127.0.0.1:8080)
# Credentials: STATUSKIT_CLIENT_ID / _SECRET and STATUSKIT_ADMIN_USER / _PASSWORD, as the service
# was started with (or as it printed on its first start). Start the service with
# `--fault-injection --operation-step-delay-ms 500` to see 504, 500 and a running operation.
# It expects a fresh service: it spends sign-in attempts and uploads the first avatar.
set -uo pipefail
B=${1:-http://127.0.0.1:8080}
CLIENT=${STATUSKIT_CLIENT_ID:?set STATUSKIT_CLIENT_ID}
SECRET=${STATUSKIT_CLIENT_SECRET:?set STATUSKIT_CLIENT_SECRET}
USER_NAME=${STATUSKIT_ADMIN_USER:?set STATUSKIT_ADMIN_USER}
PASSWORD=${STATUSKIT_ADMIN_PASSWORD:?set STATUSKIT_ADMIN_PASSWORD}
failures=0
last=""
# A suffix so the walkthrough can run again against the same database.
run=$(date +%s%N | tail -c 8)
PUT_ID=$((1000000 + 10#$run % 1000000))

# step EXPECTED CURL-ARGS…: runs curl -si with the args, shows the status and chosen headers.
step() {
  local expected=$1; shift
  local shown; shown=$(printf ' %q' "$@")
  # Long arguments (the 414/431 steps send 9-17 KB) are shortened in the echo, not in the request.
  [ ${#shown} -gt 300 ] && shown="${shown:0:300}… (${#shown} characters)"
  printf '\n$ curl -si%s\n' "$shown"
  last=$(curl -si "$@" | tr -d '\r')
  local status; status=$(printf '%s\n' "$last" | head -n1 | cut -d' ' -f2)
  printf '%s\n' "$last" | grep -iE '^HTTP/|^(location|etag|allow|accept-post|accept-patch|preference-applied|www-authenticate|retry-after|cache-control|accept-encoding):' || true
  local body; body=$(printf '%s\n' "$last" | sed '1,/^$/d')
  [ -n "$body" ] && printf '%s\n' "$body" | head -c 300 && echo
  if [ "$status" != "$expected" ]; then
    echo "!! expected $expected, got $status"; failures=$((failures + 1))
  fi
}
header() { printf '%s\n' "$last" | sed -n "s/^$1: //Ip" | head -n1; }
json_field() { printf '%s\n' "$last" | sed '1,/^$/d' | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }

echo "## Sign in (POST /oauth/token, RFC 6749)"
step 200 -u "$CLIENT:$SECRET" -d grant_type=password -d username="$USER_NAME" -d password="$PASSWORD" "$B/oauth/token"
TOKEN=$(json_field access_token)
A="authorization: Bearer $TOKEN"
step 400 -u "$CLIENT:$SECRET" -d grant_type=password -d username="$USER_NAME" -d password=wrong "$B/oauth/token"
step 401 -u "$CLIENT:wrong" -d grant_type=client_credentials "$B/oauth/token"

echo; echo "## 401 / 403: the API needs a token with the right scope"
step 401 "$B/v1/customers"
step 401 -H 'authorization: Bearer not-a-real-token' "$B/v1/customers"
step 400 -H 'authorization: Bearer two words' "$B/v1/customers"
step 200 -u "$CLIENT:$SECRET" -d grant_type=client_credentials -d scope=customers:read "$B/oauth/token"
READ_ONLY="authorization: Bearer $(json_field access_token)"
step 403 -H "$READ_ONLY" -H 'content-type: application/json' -d '{"name":"Ada","email":"ada@example.com"}' "$B/v1/customers"

echo; echo "## 201, 200, HEAD"
step 201 -H "$A" -H 'content-type: application/json' -d '{"name":"Ada Lovelace","email":"ada-'"$run"'@example.com"}' "$B/v1/customers"
ID_PATH=$(header location)
step 200 -H "$A" "$B$ID_PATH"
ETAG=$(header etag)
step 200 -H "$A" -H 'accept: application/xml' "$B$ID_PATH"
step 200 -I -H "$A" "$B$ID_PATH"
step 200 -H "$A" "$B/v1/customers?limit=10"

echo; echo "## 304: conditional GET (strong, weak, *)"
step 304 -H "$A" -H "if-none-match: $ETAG" "$B$ID_PATH"
step 304 -H "$A" -H "if-none-match: W/$ETAG" "$B$ID_PATH"
step 304 -H "$A" -H 'if-none-match: *' "$B$ID_PATH"

echo; echo "## 204 and 412: writes guarded by If-Match"
step 204 -X PATCH -H "$A" -H 'content-type: application/merge-patch+json' -H "if-match: $ETAG" -H 'prefer: return=minimal' -d '{"name":"Ada King"}' "$B$ID_PATH"
step 412 -X PUT -H "$A" -H 'content-type: application/json' -H "if-match: $ETAG" -d '{"name":"Ada","email":"ada-'"$run"'@example.com"}' "$B$ID_PATH"
step 200 -X PUT -H "$A" -H 'content-type: application/json' -d '{"name":"Ada","email":"ada-'"$run"'@example.com"}' "$B$ID_PATH"
step 201 -X PUT -H "$A" -H 'content-type: application/json' -H 'if-none-match: *' -d '{"name":"Grace Hopper","email":"grace-'"$run"'@example.com"}' "$B/v1/customers/$PUT_ID"
step 412 -X PUT -H "$A" -H 'content-type: application/json' -H 'if-none-match: *' -d '{"name":"Grace Hopper","email":"grace-'"$run"'@example.com"}' "$B/v1/customers/$PUT_ID"

echo; echo "## 400 and 422: unreadable, then invalid"
step 400 -H "$A" -H 'content-type: application/json' -d '{"name":"Ada",' "$B/v1/customers"
step 400 -H "$A" -H 'content-type: application/xml' -d '<customer><name>Ada</nam></customer>' "$B/v1/customers"
step 400 -H "$A" "$B/v1/customers?cursor=bogus"
step 400 -H "$A" -H 'if-none-match: no-quotes' "$B$ID_PATH"
step 400 -H 'Host:' "$B/health"
step 422 -H "$A" -H 'content-type: application/json' -d '{"name":" ","email":"nope"}' "$B/v1/customers"
step 422 -H "$A" -H 'content-type: application/json' -d '{"name":"Ada","email":"ADA-'"$run"'@example.com"}' "$B/v1/customers"
step 422 -H "$A" -H 'content-type: application/json' -d '{"name":"a\u0001b","email":"ctl-'"$run"'@example.com"}' "$B/v1/customers"

echo; echo "## 415, 411, 413: the body's type and size"
step 415 -H "$A" -H 'content-type: text/plain' -d 'Ada' "$B/v1/customers"
step 415 -X PATCH -H "$A" -H 'content-type: application/xml' -d '<a/>' "$B$ID_PATH"
step 415 -H "$A" -H 'content-type: application/json' -H 'content-encoding: gzip' -d '{}' "$B/v1/customers"
hostport=${B#http://}; host=${hostport%%:*}; port=${hostport##*:}
printf '\n$ printf "POST /v1/customers HTTP/1.1 … (a body, no Content-Length)" > /dev/tcp/%s/%s\n' "$host" "$port"
exec 3<>"/dev/tcp/$host/$port"
printf 'POST /v1/customers HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n\r\n{}' "$host" "$TOKEN" >&3
line=$(head -n1 <&3 | tr -d '\r'); exec 3<&-
echo "$line"
case "$line" in *" 411 "*) ;; *) echo "!! expected 411"; failures=$((failures + 1));; esac
big=$(mktemp); head -c 70000 /dev/zero | tr '\0' x > "$big"
step 413 -H "$A" -H 'content-type: application/json' --data-binary "@$big" "$B/v1/customers"
rm -f "$big"

echo; echo "## 408: a body that stops arriving (after --body-gap-timeout-ms, default 5 s)"
printf '\n$ printf "POST /v1/customers HTTP/1.1 … Content-Length: 100 … (2 of 100 bytes, then nothing)" > /dev/tcp/%s/%s\n' "$host" "$port"
exec 3<>"/dev/tcp/$host/$port"
printf 'POST /v1/customers HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"' "$host" "$TOKEN" >&3
answer=$(timeout 40 cat <&3 | tr -d '\r'); exec 3<&-
printf '%s\n' "$answer" | grep -iE '^HTTP/|^connection:'
printf '%s\n' "$answer" | sed '1,/^$/d' | head -c 300; echo
case "$(printf '%s\n' "$answer" | head -n1)" in *" 408 "*) ;; *) echo "!! expected 408"; failures=$((failures + 1));; esac

echo; echo "## 414, 431: a target or a header section over the limits"
step 414 -H "$A" "$B/v1/customers?pad=$(head -c 9000 /dev/zero | tr '\0' a)"
step 431 -H "$A" -H "x-big: $(head -c 17000 /dev/zero | tr '\0' b)" "$B/v1/customers"

echo; echo "## 406, 404, 405, OPTIONS"
step 406 -H "$A" -H 'accept: image/png' "$B$ID_PATH"
step 404 -H "$A" -H 'accept: application/xml' "$B/v1/customers/999999"
step 404 "$B/no/such/path"
step 405 -X DELETE -H "$A" "$B/v1/customers"
step 204 -X OPTIONS "$B$ID_PATH"

echo; echo "## 204 DELETE, then 404"
step 204 -X DELETE -H "$A" "$B/v1/customers/$PUT_ID"
step 404 -X DELETE -H "$A" "$B/v1/customers/$PUT_ID"

echo; echo "## 207 batch, Idempotency-Key (replay, 422 for another body)"
step 207 -H "$A" -H 'content-type: application/json' -d '{"items":[{"name":"Batch One","email":"b1-'"$run"'@example.com"},{"name":"","email":"nope"}]}' "$B/v1/customers/batch"
step 201 -H "$A" -H 'content-type: application/json' -H "idempotency-key: \"order-$run\"" -d '{"name":"Once","email":"once-'"$run"'@example.com"}' "$B/v1/customers"
FIRST=$(header location)
step 201 -H "$A" -H 'content-type: application/json' -H "idempotency-key: \"order-$run\"" -d '{"name":"Once","email":"once-'"$run"'@example.com"}' "$B/v1/customers"
[ "$(header location)" = "$FIRST" ] || { echo "!! the retry created another customer"; failures=$((failures + 1)); }
step 422 -H "$A" -H 'content-type: application/json' -H "idempotency-key: \"order-$run\"" -d '{"name":"Other","email":"other-'"$run"'@example.com"}' "$B/v1/customers"

echo; echo "## 202, 409, 303: an avatar upload runs in the background"
png=$(mktemp); printf '%s' 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==' | base64 -d > "$png"
step 404 -H "$A" "$B/v1/me/avatar"
step 202 -X PUT -H "$A" -H 'content-type: image/png' --data-binary "@$png" "$B/v1/me/avatar"
MONITOR=$(header location)
step 200 -H "$A" "$B$MONITOR"
step 409 -X PUT -H "$A" -H 'content-type: image/png' --data-binary "@$png" "$B/v1/me/avatar"
step 415 -X PUT -H "$A" -H 'content-type: image/gif' --data-binary "@$png" "$B/v1/me/avatar"
for _ in $(seq 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "$A" "$B$MONITOR")" = 303 ] && break; sleep 0.1
done
step 303 -H "$A" "$B$MONITOR"
step 200 -I -H "$A" "$B/v1/me/avatar/64"
rm -f "$png"

echo; echo "## 429: ten wrong passwords a minute for one user, then Retry-After"
for _ in $(seq 10); do curl -s -o /dev/null -u "$CLIENT:$SECRET" -d grant_type=password -d username="nobody-$run" -d password=guess "$B/oauth/token"; done
step 429 -u "$CLIENT:$SECRET" -d grant_type=password -d username="nobody-$run" -d password=guess "$B/oauth/token"

echo; echo "## 503: maintenance (admin scope); /health says why"
step 200 -X PUT -H "$A" -H 'content-type: application/json' -d '{"enabled":true,"retry_after_seconds":120}' "$B/admin/maintenance"
step 503 -H "$A" "$B/v1/customers"
step 503 "$B/health"
step 200 -X PUT -H "$A" -H 'content-type: application/json' -d '{"enabled":false}' "$B/admin/maintenance"
step 200 -H "$A" "$B/v1/customers?limit=1"

if [ "$(curl -s -o /dev/null -w '%{http_code}' -H "$A" "$B/admin/faults")" = 200 ]; then
  echo; echo "## 504 and 500: injected faults (--fault-injection)"
  step 200 -X PUT -H "$A" -H 'content-type: application/json' -d '{"path_prefix":"/v1/customers","delay_ms":30000}' "$B/admin/faults"
  step 504 -H "$A" "$B/v1/customers"
  step 200 -X PUT -H "$A" -H 'content-type: application/json' -d '{"path_prefix":"/v1/customers","panic":true}' "$B/admin/faults"
  step 500 -H "$A" "$B/v1/customers"
  step 204 -X DELETE -H "$A" "$B/admin/faults"
else
  echo; echo "(504 and 500 need a service started with --fault-injection: skipped)"
fi

echo; echo "## 301 renamed, 410 retired, 200 health and docs"
step 301 "$B/v1/clients/1"
step 410 "$B/v0/customers"
step 200 "$B/health"
step 200 "$B/docs/errors"

echo
if [ "$failures" -gt 0 ]; then echo "walkthrough: $failures step(s) answered another status"; exit 1; fi
echo "walkthrough: every step answered its status"
