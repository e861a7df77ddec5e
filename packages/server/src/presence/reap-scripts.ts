import { readFileSync } from "node:fs";
import type { Redis } from "ioredis";
import { Keys, KeyTemplates } from "./keys.js";

/**
 * Lua scripts of the reaper, one .lua file each beside this one (KEYS/ARGV contract at the top of
 * each). Each runs atomically inside Redis, so the check ("is this node dead?", "has this heartbeat
 * expired?") and the removal it justifies can never be split by a write from the owning node: a
 * node that comes back to life between the two is never reaped.
 *
 * Key names come from keys.ts (passed in as templates), so the schema still lives in one file. The
 * two reaping scripts share reap-prelude.lua (key templates, reap()), put in front of each here.
 * Read once at load; the build copies the .lua files into dist/.
 */
const lua = (file: string) => readFileSync(new URL(file, import.meta.url), "utf8");
const REAP_PRELUDE = lua("./reap-prelude.lua");
const REAP_DEAD_NODE = `${REAP_PRELUDE}\n${lua("./reap-dead-node.lua")}`;
const REAP_SOCKETS = `${REAP_PRELUDE}\n${lua("./reap-sockets.lua")}`;
const RELEASE_LOCK = lua("./release-lock.lua");

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
