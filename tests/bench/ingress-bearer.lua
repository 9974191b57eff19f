-- wrk script for tests/bench/ingress-load.sh: POST /v1/messages with a bearer token, one
-- message to the `log` channel per request, a different title each time (the server sees no
-- two identical bodies). Only 202 counts as accepted; done() prints one machine-readable line.
--
-- Bearer, not the signature scheme: the signature needs SHA-256 of the body and an HMAC per
-- request, which stock wrk's LuaJIT has no library for (a pure-Lua SHA-256 would make wrk the
-- bottleneck). The server's signature check costs more than a bearer check (an HMAC and a
-- replay record); this benchmark does not measure that.
--
-- Environment: BENCH_SECRET (the caller's secret key).

local secret = os.getenv("BENCH_SECRET") or "bench-secret"
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
  wrk.path = "/v1/messages"
  wrk.headers["Authorization"] = "Bearer " .. secret
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local body = '{"title":"Disk almost full ' .. tid .. '-' .. counter ..
    '","content":"db-3 /var at 95%","targets":[{"channel":"log","users":["u' ..
    (counter % 1000) .. '"]}]}'
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 202 then
    accepted = accepted + 1
  else
    refused = refused + 1
    if refused <= 3 then
      io.stderr:write("non-202: " .. status .. " " .. string.sub(body or "", 1, 200) .. "\n")
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
    "RESULT accepted=%d refused=%d errors=%d duration_us=%d p50_us=%d p99_us=%d p999_us=%d max_us=%d\n",
    a, r,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
