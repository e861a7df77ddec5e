import type { DeviceIds } from "./auth/device-ids.js";
import type { RefreshFamilies } from "./auth/refresh-families.js";
import type { TokenService } from "./auth/tokens.js";
import type { Config } from "./config.js";
import type { Logger } from "./log.js";
import type { Metrics } from "./metrics/registry.js";
import type { RedisConnection } from "./redis/connection.js";
import type { MongoConnection } from "./store/mongo.js";

/** Lifecycle flags that several parts of a node read. */
export interface NodeState {
  /** Set when shutdown begins: health answers 503 so balancers stop sending traffic. */
  draining: boolean;
  /** Set once Socket.IO is attached and accepting connections. */
  socketsActive: boolean;
}

/** What a node's parts share: built once in node.ts and handed to routes and handlers. */
export interface NodeContext {
  config: Config;
  log: Logger;
  redis: RedisConnection;
  mongo: MongoConnection;
  metrics: Metrics;
  state: NodeState;
  tokens: TokenService;
  /** Issues and verifies the device ids bound to an account (auth/device-ids.ts). */
  devices: DeviceIds;
  /** Login sessions' refresh generations and revocations in Redis (auth/refresh-families.ts). */
  refreshFamilies: RefreshFamilies;
  /**
   * The node's idea of "now". Time-based rules (observation age, hazard expiry and fix votes) read
   * it instead of `new Date()`, so tests can move time without waiting.
   */
  clock: () => Date;
}
