import type { Server as HttpServer, IncomingMessage } from "node:http";
import { Server } from "socket.io";
import type { NodeContext } from "../context.js";
import type { SocketHandlers } from "./features.js";
import { batchWebSocketFlushes } from "./frame-batching.js";
import { installHandshake, refuseConnection } from "./handshake.js";
import { PendingSessions } from "./pending-sessions.js";
import type { AppServer, AppSocket } from "./types.js";

/**
 * Largest Socket.IO message a client may send. The biggest legitimate one is a full
 * `observations:submit` batch: 500 items of up to ~280 bytes when every number is printed at full
 * double precision (JavaScript's default), so 160 KiB; anything larger is refused by Engine.IO
 * before it is parsed.
 */
export const MAX_SOCKET_MESSAGE_BYTES = 160 * 1024;

/** Engine.IO ping cadence; nginx's proxy_read_timeout must stay above the sum of both. */
export const PING_INTERVAL_MS = 25_000;
export const PING_TIMEOUT_MS = 20_000;
/** An Engine.IO session without an authenticated Socket.IO CONNECT this long is closed. */
export const CONNECT_TIMEOUT_MS = 10_000;

export function createSocketServer(httpServer: HttpServer, ctx: NodeContext): AppServer {
  if (!batchWebSocketFlushes())
    ctx.log.warn("Engine.IO's websocket transport is not the expected one: frames are written one by one");
  const pending = new PendingSessions(
    ctx.config.maxPendingSessionsPerAddress,
    CONNECT_TIMEOUT_MS,
    ctx.config.trustProxy,
  );
  const io: AppServer = new Server(httpServer, {
    path: "/socket.io",
    serveClient: false,
    maxHttpBufferSize: MAX_SOCKET_MESSAGE_BYTES,
    pingInterval: PING_INTERVAL_MS,
    pingTimeout: PING_TIMEOUT_MS,
    connectTimeout: CONNECT_TIMEOUT_MS,
    cors: {
      origin: ctx.config.allowedOrigins === "*" ? true : ctx.config.allowedOrigins,
      credentials: false,
    },
    // A browser page from an origin outside the allowlist is refused even without CORS (WebSocket
    // upgrades are not subject to CORS). Devices send no Origin header and pass.
    allowRequest: (request, callback) => {
      const origin = request.headers.origin;
      const allowed =
        origin === undefined || ctx.config.allowedOrigins === "*" || ctx.config.allowedOrigins.includes(origin);
      if (!allowed) return callback("origin not allowed", false);
      if (!pending.admits(request)) {
        ctx.metrics.limits.inc({ limit: "pending_sessions" });
        return callback("too many unauthenticated connections from this address", false);
      }
      callback(null, true);
    },
  });
  io.engine.on("connection", (session: Parameters<PendingSessions["opened"]>[0]) => pending.opened(session));
  // Authenticated: the session no longer counts against its address.
  io.on("connection", (socket) => pending.settled(socket.conn as unknown as Parameters<PendingSessions["settled"]>[0]));
  // Engine.IO answers its own HTTP requests (long-polling, upgrades) without Fastify, so the node id
  // header is added here too: ops can tell which node answered any response through nginx.
  io.engine.on("initial_headers", (headers: Record<string, string>) => {
    headers["X-Node-Id"] = ctx.config.nodeId;
  });
  io.engine.on("headers", (headers: Record<string, string>) => {
    headers["X-Node-Id"] = ctx.config.nodeId;
  });
  installHandshake(io, ctx);
  return io;
}

/**
 * Lets each feature refuse an authenticated socket (`admit`), then attaches every feature's handlers
 * to each connection, before any event is read.
 */
export function attachHandlers(io: AppServer, ctx: NodeContext, handlers: SocketHandlers[]): void {
  io.use(async (socket, next) => {
    for (const feature of handlers) {
      const refusal = (await feature.admit?.(socket)) ?? null;
      if (refusal !== null) return next(refuseConnection(ctx, refusal));
    }
    ctx.metrics.socketEvents.inc({ event: "connect", outcome: "ok" });
    next();
  });
  // One listener for every socket (Socket.IO fires `disconnect` once): no closure per connection.
  const onDisconnect = () => ctx.metrics.connectedSockets.dec();
  io.on("connection", (socket) => {
    ctx.metrics.connectedSockets.inc();
    socket.on("disconnect", onDisconnect);
    for (const feature of handlers) feature.attach(socket);
    releaseHandshake(socket);
  });
}

/**
 * Lets go of what only the handshake needed. Engine.IO keeps the session's first HTTP request (its
 * headers, raw headers, URL and stream state) and Socket.IO's handshake keeps the headers, the query
 * and the access token, all for the life of the connection; nothing reads them after the handshake
 * (installHandshake copied what the handlers need into `socket.data`), and at thousands of
 * connections per node they were a large share of each connection's memory.
 */
function releaseHandshake(socket: AppSocket): void {
  const conn = socket.conn as unknown as { request: (IncomingMessage & { _query?: unknown }) | null };
  const request = conn.request;
  conn.request = null;
  if (request !== null) {
    // Engine.IO's upgrade response object keeps the upgrade request until the TCP connection closes
    // (its close listener); what made the request large goes now.
    request.rawHeaders = [];
    request.headers = {};
    request.url = "";
    request._query = {};
  }
  const handshake = socket.handshake as {
    -readonly [K in keyof typeof socket.handshake]: (typeof socket.handshake)[K];
  };
  handshake.headers = {};
  handshake.query = {};
  handshake.auth = {};
  handshake.url = "";
}
