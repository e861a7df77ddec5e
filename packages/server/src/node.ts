import cluster from "node:cluster";
import type { AddressInfo } from "node:net";
import { ServerEvents } from "@roadpulse/protocol";
import type { FastifyInstance } from "fastify";
import { DeviceIds } from "./auth/device-ids.js";
import { RefreshFamilies } from "./auth/refresh-families.js";
import { TokenService } from "./auth/tokens.js";
import { acceptHandedOverConnections } from "./cluster/handover.js";
import { joinClusterMetrics } from "./cluster/metrics-ipc.js";
import { announceWorkerReady } from "./cluster/ready.js";
import type { Config } from "./config.js";
import type { NodeContext } from "./context.js";
import { createApp, mountApi } from "./http/app.js";
import { createLogger, type Logger } from "./log.js";
import { watchBackends } from "./metrics/backends.js";
import { Metrics } from "./metrics/registry.js";
import { type MetricsServer, startMetricsServer } from "./metrics/server.js";
import { mapPageRoutes } from "./ops/routes.js";
import { pushNodesToObservers } from "./ops/socket.js";
import { attachRedisAdapter } from "./realtime/adapter.js";
import type { SocketHandlers } from "./realtime/features.js";
import { attachHandlers, createSocketServer } from "./realtime/io.js";
import { localSender, socketPublisher } from "./realtime/publish.js";
import { guardSendBuffers } from "./realtime/send-buffer-guard.js";
import type { AppServer } from "./realtime/types.js";
import { RedisConnection } from "./redis/connection.js";
import { apiRoutes, buildServices, type NodeServices, socketHandlers, startJobs } from "./services.js";
import { MongoConnection } from "./store/mongo.js";
import { VERSION } from "./version.js";

export interface RunningNode {
  ctx: NodeContext;
  services: NodeServices;
  app: FastifyInstance;
  io: AppServer;
  /** The port actually bound (useful with PORT=0). */
  port: number;
  /** The metrics listener's port (METRICS_PORT); null in a worker: its primary serves the node's. */
  metricsPort: number | null;
  /** Graceful stop: drain, disconnect sockets, close clients. Idempotent. */
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Socket.IO handlers besides the features' own (tests of the ack machinery). */
  extraHandlers?: (ctx: NodeContext) => SocketHandlers[];
  /**
   * `worker`: a cluster worker of a node with WORKERS > 1: it does not listen itself but takes the
   * connections its primary hands over (cluster/handover.ts), and reports metrics node-wide.
   */
  mode?: "listen" | "worker";
  /** Replaces the wall clock (tests of time-based rules). */
  clock?: () => Date;
}

/**
 * Starts one node: backing services first (neither being down stops the start: the node comes up
 * degraded and heals), then HTTP and Socket.IO on one port.
 */
export async function startNode(config: Config, options: StartOptions = {}): Promise<RunningNode> {
  const log = options.log ?? createLogger(config.nodeId, config.logLevel);
  const redis = new RedisConnection(config.redisUrl, log, `roadpulse:${config.nodeId}`, {
    commandTimeoutMs: config.redisCommandTimeoutMs,
  });
  const mongo = new MongoConnection(
    config.mongodbUri,
    config.mongodbDbName,
    `roadpulse:${config.nodeId}`,
    log,
    config.mongodbTimeoutMs,
  );
  // Login sessions' revocations are read by every token check, so they exist before the tokens.
  const refreshFamilies = new RefreshFamilies(redis, config.refreshTokenTtlSeconds * 1000);
  const ctx: NodeContext = {
    config,
    log,
    redis,
    mongo,
    metrics: new Metrics(config.nodeId, VERSION),
    state: { draining: false, socketsActive: false },
    tokens: new TokenService(
      config.jwtSecret,
      { accessSeconds: config.accessTokenTtlSeconds, refreshSeconds: config.refreshTokenTtlSeconds },
      (sessionId) => refreshFamilies.isRevoked(sessionId),
    ),
    refreshFamilies,
    devices: new DeviceIds(config.jwtSecret),
    clock: options.clock ?? (() => new Date()),
  };
  if (config.redisUrl === null) log.warn("REDIS_URL=off: running without Redis");
  await Promise.all([redis.waitUntilReady(3_000), mongo.start()]);
  const stopWatchingBackends = watchBackends(ctx);

  // The HTTP server exists from here on; Socket.IO shares it, and the services publish through it.
  const app = await createApp(ctx);
  const io = createSocketServer(app.server, ctx);
  const stopAdapter = attachRedisAdapter(io, ctx);
  const publish = socketPublisher(io);
  const toLocalSockets = localSender(io);
  const services = buildServices(ctx, {
    publish,
    presence: {
      toRegion: (regionId, count) => publish(regionId, ServerEvents.PresenceUpdated, { regionId, count }),
      // This node's own sockets: no need to ask the other nodes through the adapter.
      toSockets: (socketIds, regionId, count) =>
        toLocalSockets(socketIds, ServerEvents.PresenceUpdated, { regionId, count }),
    },
    connections: () => io.of("/").sockets.size,
  });
  await mountApi(app, apiRoutes(ctx, services));
  await app.register(mapPageRoutes(ctx));
  attachHandlers(io, ctx, [...socketHandlers(ctx, services), ...(options.extraHandlers?.(ctx) ?? [])]);
  const jobStoppers = [...startJobs(ctx, services), pushNodesToObservers(io, services.ops)];
  const stopSendBufferGuard = guardSendBuffers(io, ctx);

  // Sockets go first: open WebSockets would otherwise hold the HTTP server open.
  app.addHook("preClose", async () => {
    ctx.state.draining = true;
    ctx.state.socketsActive = false;
    stopSendBufferGuard();
    // Each device's connection is closed (after what is queued for it is written), not told to
    // disconnect: socket.io-client treats "io server disconnect" as final and stays offline until
    // its app reconnects by hand, while a closed transport makes it reconnect by itself, through
    // nginx, to a node still up (a scale-in, a rolling deploy). Only this node's sockets:
    // `io.disconnectSockets` would go through the Redis adapter to every node of the cluster.
    for (const socket of io.of("/").sockets.values()) socket.conn.close();
    await new Promise<void>((resolve) => io.close(() => resolve()));
  });

  let port = config.port;
  let metrics: MetricsServer | null = null;
  if (options.mode === "worker") {
    await app.ready();
    acceptHandedOverConnections(app.server, io, cluster.worker?.id ?? 0);
    joinClusterMetrics(ctx.metrics.registry);
    announceWorkerReady();
    log.info({ instance: config.instanceId, version: VERSION }, "RoadPulse worker ready");
  } else {
    await app.listen({ port: config.port, host: config.host });
    port = (app.server.address() as AddressInfo).port;
    const registry = ctx.metrics.registry;
    metrics = await startMetricsServer(config.metricsHost, config.metricsPort, registry.contentType, () =>
      registry.metrics(),
    );
    log.info({ port, metricsPort: metrics.port, version: VERSION }, "RoadPulse node listening");
  }
  ctx.state.socketsActive = true;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      ctx.state.draining = true;
      await app.close();
      for (const stop of jobStoppers.reverse()) await stop();
      await stopAdapter();
      stopWatchingBackends();
      await Promise.allSettled([redis.close(), mongo.close(), metrics?.close()]);
      log.info("RoadPulse node stopped");
    })();
    return closing;
  };
  return { ctx, services, app, io, port, metricsPort: metrics?.port ?? null, close };
}
