import { DEVICE_ID_PATTERN, ErrorCodes } from "@roadpulse/protocol";
import type { NodeContext } from "../context.js";
import { AppError } from "../errors.js";
import { EventBudget } from "./event-budget.js";
import type { AppServer } from "./types.js";

const DEVICE_ID = new RegExp(DEVICE_ID_PATTERN);
/** The window in which `SOCKET_ABUSE_DISCONNECT_AFTER` refused events close a connection. */
const ABUSE_WINDOW_MS = 10_000;

/**
 * The `connect_error` a refused handshake gets (`{code, message}` in `err.data`; `name` as the
 * error's own message), counted as event `connect` with outcome `rejected`.
 */
export function refuseConnection(ctx: NodeContext, refusal: AppError, name = refusal.message): Error {
  const error = new Error(name) as Error & { data?: unknown };
  error.data = { code: refusal.code, message: refusal.message };
  ctx.metrics.socketEvents.inc({ event: "connect", outcome: "rejected" });
  return error;
}

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
      return next(
        refuseConnection(
          ctx,
          new AppError(ErrorCodes.Unauthorized, "A valid token is required in auth.token"),
          "unauthorized",
        ),
      );
    }
    const deviceId = socket.handshake.query.deviceId;
    if (typeof deviceId !== "string" || !DEVICE_ID.test(deviceId)) {
      const message = "query deviceId must be 8-128 letters, digits or . _ : -";
      return next(refuseConnection(ctx, new AppError(ErrorCodes.BadRequest, message), "bad device id"));
    }
    // A made-up id, or one issued to another account, would let one account speak as many devices.
    const refusal = ctx.devices.refusal(claims.userId, deviceId);
    if (refusal !== null) return next(refuseConnection(ctx, refusal, "unknown device"));
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
