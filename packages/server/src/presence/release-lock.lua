-- Releases the reaper lock, but only if it still holds our token: it may have expired and been
-- taken by another node since. Atomic, so no other node can take the lock between the check and
-- the delete (which would then delete its lock).
--
-- KEYS: [1] presence:reaper:lock
-- ARGV: [1] our token (the value we set the lock to)
-- Returns: 1 when the lock was ours and is deleted, else 0
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
