-- wrk script for bench/scaleout.sh's write path: POST /v1/customers, each request a new customer
-- with an email no other request of the run uses (BENCH_PREFIX keeps runs apart, a counter keeps
-- requests apart; one wrk thread, so the counter is unique). done() prints the same BENCH| line
-- as bench/wrk.lua:
--   BENCH|requests|duration_us|p50_us|p99_us|status_errors|connect|read|write|timeout

local prefix = os.getenv("BENCH_PREFIX") or "run"
local auth = os.getenv("BENCH_AUTH")
local n = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if auth ~= nil and auth ~= "" then
  wrk.headers["Authorization"] = auth
end

function request()
  n = n + 1
  local body = string.format('{"name":"Bench %d","email":"%s-%d@example.com"}', n, prefix, n)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH|%d|%d|%.0f|%.0f|%d|%d|%d|%d|%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
