-- Reaps a batch of the sockets of a node that died without cleaning up, unless the node is alive
-- after all. Atomic, so the check ("is this node dead?") and the removal it justifies are never
-- split by a write from the owning node: a node that comes back to life between the two is never
-- reaped. Runs after reap-prelude.lua (presence/reap-scripts.ts joins the two), which defines reap().
--
-- KEYS: [1] presence:node:{nodeId}:alive, [2] presence:node:{nodeId}:sockets, [3] presence:nodes
-- ARGV: [1]..[4] the key templates of reap-prelude.lua, [5] node id, [6] most sockets to reap
-- Returns: {-1} when the node is alive, else {reaped, region ids...} (the regions of the sockets
--          reaped); the node leaves presence:nodes once its socket set is empty
if redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end
local sids = redis.call('SPOP', KEYS[2], tonumber(ARGV[6]))
for _, sid in ipairs(sids) do reap(sid) end
if redis.call('SCARD', KEYS[2]) == 0 then redis.call('SREM', KEYS[3], ARGV[5]) end
return {#sids, unpack(regions)}
