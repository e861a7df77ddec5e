import type { Redis } from "ioredis";
import { Keys, KeyTemplates } from "./keys.js";

/**
 * Lua scripts of the reaper. Each runs atomically inside Redis, so the check ("is this node dead?",
 * "has this heartbeat expired?") and the removal it justifies can never be split by a write from the
 * owning node: a node that comes back to life between the two is never reaped.
 *
 * Key names come from keys.ts (passed in as templates), so the schema still lives in one file.
 */

const REAP_ONE = `
local T_SESSION, T_USER, T_HEARTBEAT, T_REGION = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local function key(template, id)
  return (string.gsub(template, '{}', function() return id end))
end
local regions = {}
local function reap(sid)
  local raw = redis.call('GET', key(T_SESSION, sid))
  if raw then
    local ok, s = pcall(cjson.decode, raw)
    if ok and type(s) == 'table' then
      if type(s.userId) == 'string' then redis.call('SREM', key(T_USER, s.userId), sid) end
      if type(s.currentRegionId) == 'string' then
        redis.call('SREM', key(T_REGION, s.currentRegionId), sid)
        regions[#regions + 1] = s.currentRegionId
      end
    end
  end
  redis.call('DEL', key(T_SESSION, sid), key(T_HEARTBEAT, sid))
end
`;

/**
 * KEYS: node alive key, node sockets set, set of nodes. ARGV: 4 templates, node id, batch size.
 * Returns {-1} when the node is alive, else {reaped, region ids...}.
 */
const REAP_DEAD_NODE = `${REAP_ONE}
if redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end
local sids = redis.call('SPOP', KEYS[2], tonumber(ARGV[6]))
for _, sid in ipairs(sids) do reap(sid) end
if redis.call('SCARD', KEYS[2]) == 0 then redis.call('SREM', KEYS[3], ARGV[5]) end
return {#sids, unpack(regions)}
`;

/**
 * KEYS: node sockets set. ARGV: 4 templates, mode, then socket ids. Mode "expired" reaps only the
 * sockets whose heartbeat key is gone; mode "all" reaps every listed socket (used by a node for
 * sockets Redis still lists under it but that it no longer holds). Returns {reaped, region ids...}.
 */
const REAP_SOCKETS = `${REAP_ONE}
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
`;

/** Deletes the lock only if it still holds our token (it may have expired and been taken since). */
const RELEASE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

type Reply = Array<number | string>;

interface ReaperCommands {
  roadpulseReapDeadNode(...args: Array<string | number>): Promise<Reply>;
  roadpulseReapSockets(...args: Array<string | number>): Promise<Reply>;
  roadpulseReleaseLock(key: string, token: string): Promise<number>;
}

const TEMPLATES = [KeyTemplates.session, KeyTemplates.userSessions, KeyTemplates.heartbeat, KeyTemplates.regionMembers];

export interface ReapResult {
  reaped: number;
  regionIds: string[];
}

function parse(reply: Reply): ReapResult {
  const [count, ...regions] = reply;
  return { reaped: Number(count), regionIds: regions.map(String) };
}

/** The scripts, registered on one ioredis client (EVALSHA, with EVAL on a cold script cache). */
export class ReapScripts {
  readonly #client: Redis & ReaperCommands;

  constructor(redis: Redis) {
    redis.defineCommand("roadpulseReapDeadNode", { numberOfKeys: 3, lua: REAP_DEAD_NODE });
    redis.defineCommand("roadpulseReapSockets", { numberOfKeys: 1, lua: REAP_SOCKETS });
    redis.defineCommand("roadpulseReleaseLock", { numberOfKeys: 1, lua: RELEASE_LOCK });
    this.#client = redis as Redis & ReaperCommands;
  }

  /** Reaps up to `batch` sockets of a dead node; `null` when the node turned out to be alive. */
  async reapDeadNode(nodeId: string, batch: number): Promise<ReapResult | null> {
    const reply = await this.#client.roadpulseReapDeadNode(
      Keys.nodeAlive(nodeId),
      Keys.nodeSockets(nodeId),
      Keys.nodes,
      ...TEMPLATES,
      nodeId,
      batch,
    );
    return reply[0] === -1 ? null : parse(reply);
  }

  /** Reaps the listed sockets of a node: all of them, or only those whose heartbeat expired. */
  async reapSockets(nodeId: string, socketIds: string[], mode: "expired" | "all"): Promise<ReapResult> {
    if (socketIds.length === 0) return { reaped: 0, regionIds: [] };
    return parse(await this.#client.roadpulseReapSockets(Keys.nodeSockets(nodeId), ...TEMPLATES, mode, ...socketIds));
  }

  async releaseLock(token: string): Promise<boolean> {
    return (await this.#client.roadpulseReleaseLock(Keys.reaperLock, token)) === 1;
  }
}
