import { Accounts } from "./auth/accounts.js";
import { LoginBackoff } from "./auth/login-backoff.js";
import { LoginSessions } from "./auth/login-sessions.js";
import { authRoutes } from "./auth/routes.js";
import { SessionRecords } from "./auth/session-records.js";
import type { NodeContext } from "./context.js";
import type { ApiRoutes } from "./http/app.js";
import { NodeStatusBoard } from "./ops/node-status.js";
import { opsRoutes } from "./ops/routes.js";
import { OpsService } from "./ops/service.js";
import { opsSocketHandlers } from "./ops/socket.js";
import type { PresencePublisher } from "./presence/broadcaster.js";
import { presenceRoutes } from "./presence/routes.js";
import { PresenceService } from "./presence/service.js";
import { presenceSocketHandlers } from "./presence/socket.js";
import type { Publish } from "./publish.js";
import type { SocketHandlers } from "./realtime/features.js";
import { buildRoads, type Roads } from "./roads/index.js";
import { startRoadJobs } from "./roads/jobs.js";
import { analyticsRoutes } from "./roads/routes/analytics.js";
import { exportRoutes } from "./roads/routes/export.js";
import { hazardRoutes } from "./roads/routes/hazards.js";
import { mlRoutes } from "./roads/routes/ml.js";
import { observationRoutes } from "./roads/routes/observations.js";
import { segmentRoutes } from "./roads/routes/segments.js";
import { roadSocketHandlers } from "./roads/socket.js";
import { UsersRepository } from "./store/users.js";

/** The services of one node, built once (node.ts) and handed to every route, handler and job. */
export interface NodeServices {
  accounts: Accounts;
  presence: PresenceService;
  roads: Roads;
  ops: OpsService;
}

/**
 * How the services reach devices, given by the transport: `publish` for a region's devices on every
 * node, `presence` for presence counts (which also go to this node's newcomers only).
 */
export interface Delivery {
  publish: Publish;
  presence: PresencePublisher;
  /** This node's Socket.IO connections now (the ops map's node list). */
  connections: () => number;
}

export function buildServices(ctx: NodeContext, delivery: Delivery): NodeServices {
  const presence = new PresenceService(ctx, delivery.presence);
  return {
    accounts: buildAccounts(ctx),
    presence,
    roads: buildRoads(ctx, delivery.publish),
    ops: new OpsService(ctx, presence, new NodeStatusBoard(ctx, delivery.connections)),
  };
}

function buildAccounts(ctx: NodeContext): Accounts {
  const users = new UsersRepository(ctx.mongo.db, ctx.metrics);
  const sessions = new LoginSessions(
    ctx.tokens,
    ctx.refreshFamilies,
    new SessionRecords(ctx.mongo.db, ctx.metrics),
    users,
    ctx.config.refreshTokenTtlSeconds * 1000,
    ctx.log,
    ctx.metrics,
  );
  return new Accounts(users, sessions, new LoginBackoff(ctx.redis));
}

/** Every feature's HTTP routes, mounted under /api. */
export function apiRoutes(ctx: NodeContext, services: NodeServices): ApiRoutes[] {
  const { accounts, presence, roads, ops } = services;
  return [
    authRoutes(ctx, accounts),
    presenceRoutes(ctx, presence),
    observationRoutes(ctx, roads),
    segmentRoutes(roads),
    hazardRoutes(ctx, roads),
    analyticsRoutes(roads),
    exportRoutes(roads),
    mlRoutes(ctx, roads),
    opsRoutes(ctx, ops),
  ];
}

/** Every feature's Socket.IO handlers, attached to each authenticated connection. */
export function socketHandlers(ctx: NodeContext, services: NodeServices): SocketHandlers[] {
  return [
    presenceSocketHandlers(ctx, services.presence),
    roadSocketHandlers(ctx, services.roads),
    opsSocketHandlers(ctx, services.ops),
  ];
}

/** Starts the services' background work; returns the stoppers, to run in reverse order. */
export function startJobs(ctx: NodeContext, services: NodeServices): Array<() => Promise<void>> {
  services.presence.start();
  services.ops.board.start();
  return [() => services.presence.stop(), startRoadJobs(ctx, services.roads), () => services.ops.board.stop()];
}
