-- Stores a versioned cache entry unless the key holds a higher version (versioned-entry.ts
-- decideFill; the two must agree). Entries start with "\1", a kind letter (V value, A absent,
-- R retired), the version and "|"; anything else under the key counts as no entry.
-- A fill that reaches the server after its landing deadline is not stored, whatever the key holds:
-- the retirement it had to lose against may have expired (Cache.fill in cache.ts).
-- KEYS[1]: the entry's key
-- ARGV[1]: the entry's version   ARGV[2]: the encoded entry   ARGV[3]: TTL in ms
-- ARGV[4]: the landing deadline, ms since the epoch on the server's clock ("" = none)
-- Returns: "stored"  = written
--          "current" = the key already holds a value (or absent marker) at this version: left as is
--          "newer"   = the key holds a higher version (a later value, or a write's retirement)
--          "late"    = the server's clock is past the landing deadline: not written
if ARGV[4] ~= '' then
  local time = redis.call('TIME')
  local nowMs = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  if nowMs > tonumber(ARGV[4]) then
    return 'late'
  end
end
local current = redis.call('GET', KEYS[1])
if current then
  local kind, version = string.match(current, '^\1([VAR])(%d+)|')
  if kind then
    version = tonumber(version)
    local mine = tonumber(ARGV[1])
    if version > mine then
      return 'newer'
    end
    if version == mine and kind ~= 'R' then
      return 'current'
    end
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 'stored'
