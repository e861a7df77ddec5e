-- Writes the whole state of one socket: its session JSON, its heartbeat, its user's set, its region
-- set (leaving the regions it moved out of in the same step) and its owner node's socket set, every
-- TTL refreshed. Atomic like a MULTI, so no reader (nor the reaper) ever sees a socket half written
-- or in its new region and its old one at once, yet one command instead of ten (see
-- presence/upsert-script.ts, which loads it and builds every key name from presence/keys.ts).
--
-- KEYS: [1] session:{socketId}, [2] heartbeat:{socketId}, [3] user:{userId}:sessions,
--       [4] presence:node:{ownerId}:sockets, then [5] region:{id}:members of the current region
--       when ARGV[6] is '1', then region:{id}:members of each region left (any number of them)
-- ARGV: [1] session JSON, [2] session TTL in seconds (also of the user, owner and region sets),
--       [3] now (epoch ms, the heartbeat's value), [4] heartbeat TTL in seconds, [5] socket id,
--       [6] '1' when the socket has a current region, else '0'
-- Returns: 1
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
redis.call('SADD', KEYS[3], ARGV[5])
redis.call('EXPIRE', KEYS[3], ARGV[2])
redis.call('SADD', KEYS[4], ARGV[5])
redis.call('EXPIRE', KEYS[4], ARGV[2])
local left = 5
if ARGV[6] == '1' then
  redis.call('SADD', KEYS[5], ARGV[5])
  redis.call('EXPIRE', KEYS[5], ARGV[2])
  left = 6
end
for i = left, #KEYS do
  redis.call('SREM', KEYS[i], ARGV[5])
end
return 1
