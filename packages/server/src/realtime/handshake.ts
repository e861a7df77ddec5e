import { DEVICE_ID_PATTERN } from "@roadpulse/protocol";
import type { NodeContext } from "../context.js";
import { EventBudget } from "./event-budget.js";
import type { AppServer } from "./types.js";

const DEVICE_ID = new RegExp(DEVICE_ID_PATTERN);
/** The window in which `SOCKET_ABUSE_DISCONNECT_AFTER` refused events close a connection. */
const ABUSE_WINDOW_MS = 10_000;

/**
 * Refuses every connection without a valid JWT in `auth.token`: the client gets `connect_error`
 * with `{code, message}` in `err.data` and no handler ever sees it. Each handshake is counted as
 * event `connect` in `roadpulse_socket_events_total` (outcome `ok` or `rejected`), so a wave of bad
 * tokens or device ids shows on the dashboard next to the other events.
 */
export function installHandshake(io: AppServer, ctx: NodeContext): void {
  const limits = {
    ratePerSecond: ctx.config.socketEventsPerSecond,
    burst: ctx.config.socketEventBurst,
    disconnectAfter: ctx.config.socketAbuseDisconnectAfter,
    windowMs: ABUSE_WINDOW_MS,
    maxInFlight: ctx.config.socketMaxInFlight,
  };
  io.use(async (socket, next) => {
    const auth = socket.handshake.auth as Record<string, unknown>;
    const claims = await ctx.tokens.verify(auth.token);
    if (claims === null) {
      const error = new Error("unauthorized") as Error & { data?: unknown };
      error.data = { code: "UNAUTHORIZED", message: "A valid token is required in auth.token" };
      ctx.metrics.socketEvents.inc({ event: "connect", outcome: "rejected" });
      return next(error);
    }
    const deviceId = socket.handshake.query.deviceId;
    if (typeof deviceId !== "string" || !DEVICE_ID.test(deviceId)) {
      const error = new Error("bad device id") as Error & { data?: unknown };
      error.data = { code: "BAD_REQUEST", message: "query deviceId must be 8-128 letters, digits or . _ : -" };
      ctx.metrics.socketEvents.inc({ event: "connect", outcome: "rejected" });
      return next(error);
    }
    // A made-up id, or one issued to another account, would let one account speak as many devices.
    if (!ctx.devices.verify(claims.userId, deviceId)) {
      const error = new Error("unknown device") as Error & { data?: unknown };
      error.data = { code: "FORBIDDEN", message: "This device id was not issued to this account: POST /api/devices" };
      ctx.metrics.socketEvents.inc({ event: "connect", outcome: "rejected" });
      return next(error);
    }
    const userAgent = socket.handshake.headers["user-agent"];
    socket.data = {
      userId: claims.userId,
      role: claims.role,
      deviceId,
      userAgent: typeof userAgent === "string" ? userAgent.slice(0, 200) : "unknown",
      connectedAt: new Date().toISOString(),
      budget: new EventBudget(limits, performance.now()),
    };
    // Counted `ok` once the features admitted it too (io.ts).
    next();
  });
}
