-- The bench's closed-model load for wrk (wrk-loop.ts runs it). wrk is a C generator that outruns
-- the targets on this machine, where autocannon (JavaScript) saturated its core first.
--
-- Each request is pre-built by the bench (token, Idempotency-Key, body) into FG_WRK_REQUESTS: raw
-- HTTP requests separated by a NUL byte. Thread k of n sends the requests whose index is k modulo
-- n, in order, and starts over when it reaches its end (a flash sale's buyers coming back with
-- the same key, as the bench's own generator does past its buyer count).
--
-- FG_WRK_QUOTA (optional): requests per thread. A thread sends no more than its quota (delay()
-- parks a connection past it) and, once every one is answered or past the deadline, stops and
-- prints THREAD_DONE on stdout; wrk's main thread sleeps out --duration whatever its threads do, so the bench sends it
-- SIGINT when every thread has said so. A run of N requests sends exactly N. Without a quota the
-- run lasts wrk's --duration.
--
-- Each thread prints PROGRESS <thread> <answered> once a second, for the bench's progress line.
--
-- What the bench needs beyond wrk's own figures is collected per thread and written by done() to
-- FG_WRK_OUT as JSON: responses by status, error codes, accepted order ids, completions per second.

local requests_path = os.getenv("FG_WRK_REQUESTS")
local out_path = os.getenv("FG_WRK_OUT")
local quota_text = os.getenv("FG_WRK_QUOTA")
local thread_count = tonumber(os.getenv("FG_WRK_THREADS"))
local timeout_us = tonumber(os.getenv("FG_WRK_TIMEOUT_MS")) * 1000

-- A monotonic clock in µs (LuaJIT's FFI): wrk gives its scripts none, and the run's throughput
-- must span first send to last answer, not wrk's whole runtime (which includes a park).
local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } fg_timespec;
int clock_gettime(int clock_id, fg_timespec *out);
]])
local CLOCK_MONOTONIC = 1
local clock = ffi.new("fg_timespec")
local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000000 + tonumber(clock.tv_nsec) / 1000
end

local threads = {}
local next_thread_id = 0

function setup(thread)
  thread:set("id", next_thread_id)
  next_thread_id = next_thread_id + 1
  table.insert(threads, thread)
end

local mine = {}
local cursor = 0
local quota = nil
sent = 0
-- Requests delay() let go that request() has not built yet: several connections ask delay()
-- before any of them sends, so the quota counts these too. Every send is preceded by a grant.
local granted = 0
answered = 0
statuses = {}
codes = {}
order_ids = {}
per_second = {}
first_sent_us = 0
last_answer_us = 0
-- wrk calls request() once on thread 0's state, before any connection exists, to check what the
-- script builds (its pipelining check): that request is never sent.
local verify_call_pending = nil

function init(args)
  local file = assert(io.open(requests_path, "rb"))
  local data = file:read("*a")
  file:close()
  local index = 0
  local start = 1
  while start <= #data do
    local stop = string.find(data, "\0", start, true)
    if stop == nil then stop = #data + 1 end
    if index % thread_count == id then
      mine[#mine + 1] = string.sub(data, start, stop - 1)
    end
    index = index + 1
    start = stop + 1
  end
  if quota_text ~= nil then quota = tonumber(quota_text) end
  verify_call_pending = id == 0
end

-- A thread is done when all its quota is answered, or sent and the rest past the deadline (wrk
-- never gives up on a request: its connection would wait for it to the end of the run).
finished = false
local function finish()
  if finished then return end
  finished = true
  io.write("THREAD_DONE\n")
  io.flush()
  wrk.thread:stop()
end

-- Only with a quota: a connection past it stops sending; delay() parks it until the deadline has
-- passed for every request (os.time() counts whole seconds, hence the margin). When the park ends,
-- wrk asks request() for the request to send: the thread is done then, the unanswered count as
-- timed out, and the connection sends a probe (GET /healthz) instead of an order, unanswered too as
-- the thread stops at once. A thread whose every connection waits on an unanswered request never
-- gets there: wrk's --duration (the run's hard deadline) ends it, and the run counts as truncated.
local PARK_MS = timeout_us / 1000 + 2000
local PROBE = "GET /healthz HTTP/1.1\r\nHost: floodgate-bench\r\n\r\n"
local all_granted_at = nil
if quota_text ~= nil then
  function delay()
    if sent + granted >= quota then
      all_granted_at = all_granted_at or os.time()
      return PARK_MS
    end
    granted = granted + 1
    return 0
  end
end

-- Every call but wrk's check call is a send: after a grant, or without one when a connection
-- that failed reconnects (wrk does not ask delay() then). Past the quota a connection sends the
-- probe instead: its park ran out (the thread is done), or it reconnected late.
function request()
  if verify_call_pending then
    verify_call_pending = false
    return mine[cursor % #mine + 1]
  end
  if quota ~= nil then
    if granted > 0 then granted = granted - 1 end
    if sent >= quota then
      if all_granted_at ~= nil and (os.time() - all_granted_at) * 1000 >= PARK_MS - 1000 then finish() end
      return PROBE
    end
  end
  if sent == 0 then first_sent_us = now_us() end
  cursor = cursor % #mine + 1
  sent = sent + 1
  return mine[cursor]
end

function response(status, headers, body)
  if finished then return end
  last_answer_us = now_us()
  answered = answered + 1
  statuses[status] = (statuses[status] or 0) + 1
  if status == 202 then
    local order_id = string.match(body, '"orderId":"([^"]+)"')
    if order_id ~= nil then order_ids[#order_ids + 1] = order_id end
  elseif status >= 400 then
    local code = string.match(body, '"code":"([^"]+)"') or "no_error_code"
    codes[code] = (codes[code] or 0) + 1
  end
  local second = os.time()
  if per_second[second] == nil then
    -- Once a second: the bench shows progress from these lines (wrk itself reports at the end).
    io.write("PROGRESS ", id, " ", answered, "\n")
    io.flush()
  end
  per_second[second] = (per_second[second] or 0) + 1
  if quota ~= nil and answered == quota then finish() end
end

-- JSON for the few shapes written here: numbers, strings without quotes or backslashes (statuses,
-- error codes and order ids are all [A-Za-z0-9_-]), tables keyed by strings or numbers.
local function counts_json(counts)
  local parts = {}
  for key, count in pairs(counts) do
    parts[#parts + 1] = string.format('"%s":%d', tostring(key), count)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

local function add_into(total, counts)
  for key, count in pairs(counts) do total[key] = (total[key] or 0) + count end
end

-- The process's own CPU (all threads), from the kernel's accounting, in clock ticks.
local function own_cpu_ticks()
  local file = io.open("/proc/self/stat", "r")
  if file == nil then return -1, -1 end
  local stat = file:read("*a")
  file:close()
  local after_name = string.sub(stat, string.find(stat, ")", 1, true) + 2)
  local fields = {}
  for field in string.gmatch(after_name, "%S+") do fields[#fields + 1] = field end
  return tonumber(fields[12]), tonumber(fields[13])
end

-- A request with no answer counts in the percentiles at the deadline: it took at least that long,
-- and leaving it out would flatter the tail. With a quota every request sent is waited for, so the
-- unanswered are sent minus answered; in a duration run the requests cut at its end are not
-- failures, and wrk's own timeout count stands in (it counts a connection stuck past the deadline
-- once per check, every 2 s, so it errs high). Those requests are the slowest of all: percentile p
-- overall is percentile p × total ÷ answered of the answered, and the deadline above 100.
local function percentile_with_unanswered(latency, p, answered, unanswered)
  if answered == 0 then return timeout_us end
  local rank = p * (answered + unanswered) / answered
  if rank > 100 then return timeout_us end
  -- An answer later than the deadline (wrk waits for it) counts at the deadline too.
  return math.min(latency:percentile(rank), timeout_us)
end

function done(summary, latency, requests)
  local total_statuses, total_codes, total_seconds = {}, {}, {}
  local ids = {}
  local total_sent, total_answered = 0, 0
  local first_us, last_us = nil, 0
  for _, thread in ipairs(threads) do
    local thread_first = thread:get("first_sent_us")
    if thread_first > 0 and (first_us == nil or thread_first < first_us) then first_us = thread_first end
    last_us = math.max(last_us, thread:get("last_answer_us"))
    total_sent = total_sent + thread:get("sent")
    total_answered = total_answered + thread:get("answered")
    add_into(total_statuses, thread:get("statuses"))
    add_into(total_codes, thread:get("codes"))
    add_into(total_seconds, thread:get("per_second"))
    for _, order_id in ipairs(thread:get("order_ids")) do ids[#ids + 1] = '"' .. order_id .. '"' end
  end
  local errors = summary.errors
  local unanswered = errors.timeout
  if quota_text ~= nil then unanswered = total_sent - total_answered end
  local function at(p) return percentile_with_unanswered(latency, p, total_answered, unanswered) end
  local mean, max = timeout_us, timeout_us
  if total_answered > 0 then
    local answered_mean = math.min(latency.mean, timeout_us)
    mean = (answered_mean * total_answered + timeout_us * unanswered) / (total_answered + unanswered)
    max = math.min(latency.max, timeout_us)
  end
  if unanswered > 0 then max = timeout_us end
  -- First send to last answer; wrk's own runtime when nothing was answered.
  local active_us = summary.duration
  if first_us ~= nil and last_us > first_us then active_us = last_us - first_us end
  local user_ticks, system_ticks = own_cpu_ticks()
  local file = assert(io.open(out_path, "w"))
  file:write(string.format(
    '{"durationUs":%d,"activeUs":%d,"sent":%d,"answered":%d,"unanswered":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latencyUs":{"mean":%f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d},' ..
      '"cpuTicks":{"user":%d,"system":%d},' ..
      '"statuses":%s,"codes":%s,"perSecond":%s,"orderIds":[%s]}',
    summary.duration, active_us, total_sent, total_answered, unanswered,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    mean, max, at(50), at(90), at(99), at(99.9),
    user_ticks, system_ticks,
    counts_json(total_statuses), counts_json(total_codes), counts_json(total_seconds),
    table.concat(ids, ",")
  ))
  file:close()
end
