-- wrk script of bench/soak.sh: sends the cases of $SOAK_CASES (soak_cases.py's cases.tsv) in
-- proportion to their weights, in a fixed interleaved order, and counts every answer whose
-- status is not the one its case expects. wrk does not say which request a response answers
-- (a thread drives many connections), so each request carries its case in `X-Request-Id`,
-- which the server echoes. Prints one machine-readable summary line.
local cases, names = {}, {}
for line in io.lines(os.getenv("SOAK_CASES")) do
  local weight, method, path, content_type, status, file =
    line:match("^(%d+)\t(%u+)\t([^\t]+)\t([^\t]+)\t(%d+)\t(.+)$")
  assert(weight, "bad line in cases.tsv: " .. line)
  local f = assert(io.open(file, "rb"))
  local body = f:read("*a")
  f:close()
  local index = #names + 1
  names[index] = method .. " " .. path .. " (" .. file:match("[^/]+$") .. ")"
  local headers = { ["X-Request-Id"] = string.format("soak-%s-%d", status, index) }
  if content_type ~= "-" then headers["Content-Type"] = content_type end
  local request = wrk.format(method, path, headers, body ~= "" and body or nil)
  for _ = 1, tonumber(weight) do
    cases[#cases + 1] = request
  end
end
assert(#cases > 0, "no cases")

-- Spread each case's copies over the cycle instead of sending them back to back.
local order = {}
for i = 1, #cases do order[i] = i end
local seed = 12345
for i = #order, 2, -1 do
  seed = (seed * 1103515245 + 12345) % 2147483648
  local j = seed % i + 1
  order[i], order[j] = order[j], order[i]
end

local threads = {}
function setup(thread)
  thread:set("offset", #threads * 7)
  threads[#threads + 1] = thread
end

local sent = 0
unexpected = 0
unexpected_5xx = 0
first_unexpected = ""

function init()
  sent = offset or 0
end

function request()
  sent = sent + 1
  return cases[order[(sent - 1) % #order + 1]]
end

function response(status, headers, body)
  local id = headers["x-request-id"] or headers["X-Request-Id"] or ""
  local expected, index = id:match("^soak%-(%d+)%-(%d+)$")
  if tonumber(expected) ~= status then
    unexpected = unexpected + 1
    if status >= 500 then unexpected_5xx = unexpected_5xx + 1 end
    if first_unexpected == "" then
      first_unexpected = string.format("%s: got %d, expected %s",
        names[tonumber(index) or 0] or "(no request id)", status, expected or "?")
    end
  end
end

function done(summary, latency, requests)
  local total, fives, first = 0, 0, ""
  for _, thread in ipairs(threads) do
    total = total + thread:get("unexpected")
    fives = fives + thread:get("unexpected_5xx")
    local f = thread:get("first_unexpected")
    if first == "" and f ~= "" then first = f end
  end
  local e = summary.errors
  io.write(string.format(
    "SOAK {\"requests\": %d, \"seconds\": %.3f, \"rps\": %.1f, \"p50_ms\": %.3f, " ..
    "\"p99_ms\": %.3f, \"max_ms\": %.3f, \"unexpected_status\": %d, \"unexpected_5xx\": %d, " ..
    "\"socket_errors\": %d, \"timeouts\": %d, \"first_unexpected\": %q}\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3,
    total, fives, e.connect + e.read + e.write, e.timeout, first))
end
