-- wrk script of bench/compare_flask.sh: POSTs request bodies read from $LOADTEST_BODIES (one
-- body per line, used in turn) as $LOADTEST_TYPE, and prints one machine-readable summary line.
local bodies = {}
for line in io.lines(os.getenv("LOADTEST_BODIES")) do
  if #line > 0 then bodies[#bodies + 1] = line end
end
assert(#bodies > 0, "no bodies in " .. os.getenv("LOADTEST_BODIES"))
local content_type = os.getenv("LOADTEST_TYPE") or "application/json"
local next_body = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = content_type

function request()
  next_body = next_body % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[next_body])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "LOADTEST {\"requests\": %d, \"seconds\": %.3f, \"rps\": %.1f, \"p50_ms\": %.3f, " ..
    "\"p90_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f, \"non_2xx\": %d, \"socket_errors\": %d}\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, e.status, e.connect + e.read + e.write + e.timeout))
end
