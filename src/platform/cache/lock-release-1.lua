-- Releases a load lock only if the caller still holds it (its token), so a holder whose lock
-- expired cannot delete the next holder's lock.
-- KEYS[1]: the lock key   ARGV[1]: the holder's token
-- Returns: 1 = released, 0 = not held by this token
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
