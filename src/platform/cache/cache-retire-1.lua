-- Retires the versions of a cache entry below a write's version (versioned-entry.ts decideRetire;
-- the two must agree): the key then holds "\1R<version>|" for the TTL, and any fill that read the
-- source before the write (a lower version) loses against it.
-- KEYS[1]: the entry's key
-- ARGV[1]: the write's version   ARGV[2]: the encoded retirement   ARGV[3]: TTL in ms
-- Returns: "retired" = written
--          "current" = the key holds this version already (its value, or this retirement): left as is
--          "newer"   = the key holds a higher version: left as is
local current = redis.call('GET', KEYS[1])
if current then
  local kind, version = string.match(current, '^\1([VAR])(%d+)|')
  if kind then
    version = tonumber(version)
    local mine = tonumber(ARGV[1])
    if version > mine then
      return 'newer'
    end
    if version == mine then
      return 'current'
    end
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 'retired'
