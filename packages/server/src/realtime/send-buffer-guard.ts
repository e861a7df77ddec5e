import type { NodeContext } from "../context.js";
import type { AppServer } from "./types.js";

/** How often every local connection's outgoing buffer is looked at. */
const CHECK_INTERVAL_MS = 1_000;
/** Packets Engine.IO may hold for one connection (long-polling clients that stop polling). */
const MAX_QUEUED_PACKETS = 10_000;

/** What Engine.IO exposes of a connection's outgoing side (not in its public types). */
interface EngineConnection {
  writeBuffer?: unknown[];
  transport?: { socket?: { bufferedAmount?: number; terminate?: () => void } };
  close(discard?: boolean): void;
}

/**
 * Closes connections whose client stopped reading. Without it a phone that stops reading (or a
 * client doing so on purpose) makes the node buffer every push and ack for it until the ping
 * timeout (up to 45 s), in memory. One node-wide timer: a connection's bytes waiting in its
 * WebSocket (`bufferedAmount`) above `SOCKET_MAX_BUFFERED_BYTES`, or more than 10,000 packets
 * queued for a long-polling client, and it is disconnected (counted as
 * `roadpulse_limits_total{limit="send_buffer"}`). Returns the stop function.
 */
export function guardSendBuffers(io: AppServer, ctx: NodeContext): () => void {
  const maxBytes = ctx.config.socketMaxBufferedBytes;
  const timer = setInterval(() => {
    for (const socket of io.of("/").sockets.values()) {
      const conn = socket.conn as unknown as EngineConnection;
      const bytes = conn.transport?.socket?.bufferedAmount ?? 0;
      const packets = conn.writeBuffer?.length ?? 0;
      if (bytes <= maxBytes && packets <= MAX_QUEUED_PACKETS) continue;
      ctx.metrics.limits.inc({ limit: "send_buffer" });
      ctx.log.warn(
        { userId: socket.data.userId, deviceId: socket.data.deviceId, bytes, packets },
        "connection closed: its client stopped reading",
      );
      socket.disconnect(true);
      // A graceful close would wait for the buffer to drain (and the WebSocket for a close frame
      // from the peer), which a client that does not read never allows: drop the connection.
      conn.close(true);
      conn.transport?.socket?.terminate?.();
    }
  }, CHECK_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
