import { type Ack, type AckError, ErrorCodes } from "@roadpulse/protocol";
import type { ValidateFunction } from "ajv";
import type { NodeContext } from "../context.js";
import { AppError, boundedMessage, excerpt, isStorageUnavailable } from "../errors.js";
import type { AppSocket } from "./types.js";

export type Acknowledge = (response: Ack) => void;

export function ackError(code: string, message: string): AckError {
  return { ok: false, error: { code, message: boundedMessage(message) } };
}

/** Describes the first schema violation in words a client developer can act on. */
export function describeValidation(validate: ValidateFunction): string {
  const first = validate.errors?.[0];
  if (!first) return "payload is invalid";
  const where = first.instancePath === "" ? "payload" : excerpt(first.instancePath.slice(1).replaceAll("/", "."));
  if (first.keyword === "additionalProperties") {
    return `${where} has an unknown field "${excerpt(String(first.params.additionalProperty))}"`;
  }
  return `${where} ${first.message ?? "is invalid"}`;
}

/** A Socket.IO event listener shared by every connection: Socket.IO calls it with the socket as `this`. */
export type EventListener = (this: AppSocket, payload: unknown, ack: unknown) => void;

/**
 * Builds the listener of a client→server event that always answers through its acknowledgement:
 * the payload is validated against the protocol schema first (a bad one gets `ok:false` and reaches
 * no handler), handler errors become `{ok:false,error}`, never an unanswered emit. Events sent
 * without an ack callback cannot be answered and are dropped unprocessed, so a client never
 * mistakes silence for success. Built once per feature and registered on every socket
 * (`socket.on(event, listener)`): a closure per socket and event would cost every connection
 * memory for the life of the connection.
 */
export function eventListener<P, R extends object>(
  ctx: NodeContext,
  event: string,
  validate: ValidateFunction<P>,
  handler: (socket: AppSocket, payload: P) => Promise<R | AckError>,
): EventListener {
  return function listener(this: AppSocket, payload: unknown, ack: unknown): void {
    void answer(this, ctx, event, payload, ack, validate, handler);
  };
}

async function answer<P, R extends object>(
  socket: AppSocket,
  ctx: NodeContext,
  event: string,
  payload: unknown,
  ack: unknown,
  validate: ValidateFunction<P>,
  handler: (socket: AppSocket, payload: P) => Promise<R | AckError>,
): Promise<void> {
  // Every event spends from the connection's budget, answered or not: unanswerable ones are work too.
  const verdict = socket.data.budget.take(performance.now());
  if (typeof ack !== "function" && verdict === "ok") return;
  const started = process.hrtime.bigint();
  const respond = (response: Ack, outcome: "ok" | "rejected" | "error" | "rate_limited") => {
    if (typeof ack === "function") (ack as Acknowledge)(response);
    ctx.metrics.socketEvents.inc({ event, outcome });
    ctx.metrics.ackDuration.observe({ event }, Number(process.hrtime.bigint() - started) / 1e9);
  };
  if (verdict !== "ok") {
    ctx.metrics.limits.inc({ limit: "socket_events" });
    respond(ackError(ErrorCodes.RateLimited, "Too many events on this connection; slow down"), "rate_limited");
    if (verdict === "abuse") {
      // Told once, then dropped: socket.io-client does not reconnect after a server disconnect.
      ctx.metrics.limits.inc({ limit: "socket_abuse" });
      ctx.log.warn(
        { userId: socket.data.userId, deviceId: socket.data.deviceId },
        "connection closed: it kept sending past its event budget",
      );
      socket.disconnect(true);
    }
    return;
  }
  if (typeof ack !== "function") return;
  if (!socket.data.budget.begin()) {
    ctx.metrics.limits.inc({ limit: "socket_in_flight" });
    respond(
      ackError(ErrorCodes.RateLimited, "Too many events waiting for an answer on this connection; wait for their acks"),
      "rate_limited",
    );
    return;
  }
  try {
    if (!validate(payload)) {
      respond(ackError(ErrorCodes.ValidationFailed, describeValidation(validate)), "rejected");
      return;
    }
    const result = await handler(socket, payload);
    if ("ok" in result && result.ok === false) respond(result as AckError, "rejected");
    else respond({ ok: true, ...result }, "ok");
  } catch (error) {
    if (isStorageUnavailable(error)) {
      respond(ackError(ErrorCodes.StorageUnavailable, "Storage is unavailable; keep the data and retry"), "error");
    } else if (error instanceof AppError) {
      respond(ackError(error.code, error.message), "rejected");
    } else {
      ctx.log.error({ err: error, event }, "event handler failed");
      respond(ackError(ErrorCodes.Internal, "Internal error"), "error");
    }
  } finally {
    socket.data.budget.end();
  }
}
