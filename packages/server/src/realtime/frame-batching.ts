import { createRequire } from "node:module";

/**
 * One write per flush, not one per frame.
 *
 * Engine.IO's websocket transport sends each packet of a flush as its own WebSocket frame, and ws
 * writes each frame to the TCP socket at once, which costs one `writev` system call per frame. A
 * socket collects packets while its previous write is in flight, so a burst of road updates (a
 * round of aggregation publishes hundreds of segments at once) reaches each socket as one flush of
 * tens of packets: tens of system calls per socket, which profiled as a third of a node's CPU time
 * under a fleet. Corking the TCP socket for the duration of a flush of several packets makes
 * Node.js write all of its frames with one `writev`. The frames, their order and the WebSocket
 * protocol are unchanged; a flush of one packet is left alone (ws already writes a frame's header
 * and payload together).
 *
 * This wraps the `send` method of the websocket transport class of the Engine.IO that socket.io
 * itself loads, once per process. If that class does not have the expected shape (another
 * Engine.IO version), nothing is changed and `false` is returned.
 */
export function batchWebSocketFlushes(): boolean {
  const fromSocketIo = createRequire(createRequire(import.meta.url).resolve("socket.io"));
  const engine = fromSocketIo("engine.io") as { transports?: Record<string, { prototype: unknown }> };
  const proto = engine.transports?.websocket?.prototype as WebSocketTransport | undefined;
  if (!proto || typeof proto.send !== "function") return false;
  if (proto[BATCHED]) return true;
  const send = proto.send;
  proto.send = function batchedSend(this: WebSocketTransport, packets: unknown[]): void {
    const tcp = packets.length > 1 ? this.socket?._socket : undefined;
    if (!tcp || typeof tcp.cork !== "function" || tcp.destroyed) {
      send.call(this, packets);
      return;
    }
    tcp.cork();
    try {
      send.call(this, packets);
    } finally {
      tcp.uncork();
    }
  };
  proto[BATCHED] = true;
  return true;
}

const BATCHED = Symbol.for("roadpulse.batchedWebSocketFlushes");

/** The parts of Engine.IO's websocket transport this relies on. */
interface WebSocketTransport {
  send(packets: unknown[]): void;
  socket?: { _socket?: { cork(): void; uncork(): void; destroyed?: boolean } };
  [BATCHED]?: boolean;
}
