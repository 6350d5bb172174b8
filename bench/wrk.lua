-- wrk script for bench/run.sh. The request is configured from the environment, so one script
-- serves every scenario, and it is static (no request() or response() function), so wrk builds
-- it once and spends no Lua time per request:
--   BENCH_METHOD  request method (default GET)
--   BENCH_AUTH    value of the Authorization header (optional)
--   BENCH_HEADER  one extra header, "Name: value" (optional)
--   BENCH_BODY    request body (optional; wrk adds Content-Length)
-- done() prints one machine-readable line that run.sh collects:
--   BENCH|requests|duration_us|p50_us|p99_us|status_errors|connect|read|write|timeout
-- status_errors is wrk's count of responses with a status above 399.

wrk.method = os.getenv("BENCH_METHOD") or "GET"

local auth = os.getenv("BENCH_AUTH")
if auth ~= nil and auth ~= "" then
  wrk.headers["Authorization"] = auth
end

local header = os.getenv("BENCH_HEADER")
if header ~= nil and header ~= "" then
  local name, value = header:match("^([^:]+):%s*(.*)$")
  if name == nil then
    error("BENCH_HEADER must look like 'Name: value', got: " .. header)
  end
  wrk.headers[name] = value
end

local body = os.getenv("BENCH_BODY")
if body ~= nil and body ~= "" then
  wrk.body = body
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH|%d|%d|%.0f|%.0f|%d|%d|%d|%d|%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
