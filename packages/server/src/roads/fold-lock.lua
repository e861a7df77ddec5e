-- Extends or releases the cluster-wide fold lock, but only while it still holds the caller's
-- token: a holder whose lock expired and went to another node can neither free nor prolong the new
-- holder's lock. Atomic, so the lock cannot change hands between the check and the action.
--
-- KEYS: [1] roads:fold:lock (Keys.foldLock)
-- ARGV: [1] the holder's token; [2] "release", or a new time to live in ms (extend)
-- Returns: 1 if it acted, else 0
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'release' then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
