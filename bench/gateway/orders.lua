-- wrk script: POST /orders as many different buyers, one token each from tokens.txt (written by
-- run.ts), with a unique Idempotency-Key per request. Counts answers by status class, so the
-- rolling-restart measurement can tell 4xx (sold out, rate limited) from 5xx.
local tokens = {}
for line in io.lines(os.getenv("FLOODGATE_BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local sku = os.getenv("FLOODGATE_BENCH_SKU")
local body = '{"sku":"' .. sku .. '","quantity":1}'
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  counter = 0
  s2, s4, s5 = 0, 0, 0
  math.randomseed(id * 7919 + os.time())
end

function request()
  counter = counter + 1
  local token = tokens[math.random(#tokens)]
  return wrk.format("POST", "/orders", {
    ["content-type"] = "application/json",
    ["authorization"] = "Bearer " .. token,
    ["idempotency-key"] = id .. "-" .. counter .. "-" .. math.random(1e9),
  }, body)
end

function response(status, headers, body)
  if status >= 500 then
    s5 = s5 + 1
    -- The first few, so a run that saw 5xx says which.
    if s5 <= 3 then io.stderr:write("5xx " .. status .. " " .. body .. "\n") end
  elseif status >= 400 then s4 = s4 + 1 else s2 = s2 + 1 end
end

function done(summary, latency, requests)
  local t2, t4, t5 = 0, 0, 0
  for _, thread in ipairs(threads) do
    t2 = t2 + thread:get("s2"); t4 = t4 + thread:get("s4"); t5 = t5 + thread:get("s5")
  end
  io.write(string.format('FLOODGATE_BENCH {"requests":%d,"seconds":%.3f,"p50_ms":%.3f,"p99_ms":%.3f,"s2xx":%d,"s4xx":%d,"s5xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    t2, t4, t5, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
