-- Reaps the listed sockets of one node: with mode 'expired' only those whose heartbeat key is gone,
-- with mode 'all' every one of them (used by a node for sockets Redis still lists under it but that
-- it no longer holds). Atomic, so the check ("has this heartbeat expired?") and the removal it
-- justifies are never split by a heartbeat from the owning node. Runs after reap-prelude.lua
-- (presence/reap-scripts.ts joins the two), which defines key(), reap() and T_HEARTBEAT.
--
-- KEYS: [1] presence:node:{nodeId}:sockets
-- ARGV: [1]..[4] the key templates of reap-prelude.lua, [5] mode, 'expired' or 'all',
--       [6]... the socket ids
-- Returns: {reaped, region ids...} (the regions of the sockets reaped)
local onlyExpired = ARGV[5] == 'expired'
local n = 0
for i = 6, #ARGV do
  local sid = ARGV[i]
  if not onlyExpired or redis.call('EXISTS', key(T_HEARTBEAT, sid)) == 0 then
    reap(sid)
    redis.call('SREM', KEYS[1], sid)
    n = n + 1
  end
end
return {n, unpack(regions)}
