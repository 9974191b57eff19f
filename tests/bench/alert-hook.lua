-- wrk script for tests/bench/alert-storm.sh. Two modes (BENCH_MODE):
--   hook:  POST /v1/hooks/prom with an Alertmanager webhook v4 payload of BENCH_ALERTS alerts,
--          a new alert group (groupKey, fingerprints) per request: every request is a new
--          notification, so each is stored and planned (nothing is a replay or suppressed).
--   storm: POST /v1/messages, firing messages of ONE alert key with a different content each:
--          after the first, each is stored `suppressed` (storm control).
-- Only 200 (hook) / 202 (storm) count as accepted; done() prints one machine-readable line.
--
-- Environment: BENCH_MODE, BENCH_ALERTS (hook mode), BENCH_TOKEN (the hook's token, or the
-- caller's secret in storm mode), BENCH_KEY (storm mode: the alert key).

local mode = os.getenv("BENCH_MODE") or "hook"
local alerts = tonumber(os.getenv("BENCH_ALERTS") or "1")
local token = os.getenv("BENCH_TOKEN") or "bench"
local key = os.getenv("BENCH_KEY") or "db-3/DiskFull"
local threads = {}
local counter = 0
local tid = 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  accepted = 0
  refused = 0
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
  if mode == "hook" then wrk.path = "/v1/hooks/prom" else wrk.path = "/v1/messages" end
end

local function hook_body(n)
  local group = tid .. "-" .. n
  local parts = {}
  for i = 1, alerts do
    parts[#parts + 1] = string.format(
      '{"status":"firing","labels":{"alertname":"DiskFull","instance":"db-%d","group":"%s"},' ..
      '"annotations":{"summary":"Disk almost full on db-%d","description":"/var at 9%d%%"},' ..
      '"startsAt":"2026-12-07T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",' ..
      '"generatorURL":"http://prometheus.example/graph","fingerprint":"%s-%d"}',
      i, group, i, i % 10, group, i)
  end
  return '{"version":"4","groupKey":"{}:{group=\\"' .. group .. '\\"}","truncatedAlerts":0,' ..
    '"status":"firing","receiver":"gateway","groupLabels":{"group":"' .. group .. '"},' ..
    '"commonLabels":{"alertname":"DiskFull","group":"' .. group .. '"},"commonAnnotations":{},' ..
    '"externalURL":"http://alertmanager.example","alerts":[' .. table.concat(parts, ",") .. ']}'
end

function request()
  counter = counter + 1
  local body
  if mode == "hook" then
    body = hook_body(counter)
  else
    body = '{"title":"Disk almost full ' .. key .. '","content":"db-3 /var at 95% (' .. tid .. '-' .. counter ..
      ')","alert":{"key":"' .. key .. '","status":"firing","dedup_window":"30s"},' ..
      '"targets":[{"channel":"welink","users":["oncall"]}]}'
  end
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 200 or status == 202 then
    accepted = accepted + 1
  else
    refused = refused + 1
    if refused <= 3 then
      io.stderr:write("refused: " .. status .. " " .. string.sub(body or "", 1, 200) .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local a, r = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted")
    r = r + t:get("refused")
  end
  io.write(string.format(
    "RESULT accepted=%d refused=%d errors=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d\n",
    a, r,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99), latency.max))
end
