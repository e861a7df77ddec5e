import { randomBytes } from "node:crypto";
import type { Server as HttpServer } from "node:http";
import { createServer, type Server, Socket } from "node:net";
import type { Server as IoServer } from "socket.io";
import type { Logger } from "../log.js";

/**
 * How the primary of a node with WORKERS > 1 hands each TCP connection to a worker.
 *
 * The primary reads a new connection only until it has the request line (an Engine.IO request
 * names its session there, `?sid=…`), stops reading it, and sends the socket and the bytes it
 * read to a worker. The worker replays those bytes into its HTTP server and reads the rest of the
 * connection itself.
 *
 * Stopping the read before the hand-over is the point of this module. When Node sends a socket to
 * another process it keeps the sender's handle open, and reading, until the receiver acknowledges
 * it, and it drops whatever that handle reads meanwhile. A WebSocket client answers the worker's
 * `101` and Engine.IO open packet at once with its Socket.IO CONNECT packet; whenever the primary
 * had not yet processed the acknowledgement, it read that packet and dropped it, and the device
 * waited for an answer that never came (`pnpm bench handover`: 5 of 3,000 fresh connections).
 * `@socket.io/sticky`, used before, never stops the primary's read.
 *
 * Routing: a worker names its Engine.IO sessions `<cluster worker id>.<random>` (see
 * `acceptHandedOverConnections`), so the primary reads the worker straight from the `sid`; no
 * table that a worker's "session opened" message could reach too late. A request without a
 * session (a new device, the HTTP API) goes to the ready worker with the fewest open sessions.
 */

const CONNECTION = "roadpulse:connection";
const SESSION = "roadpulse:session";

/** The request line must fit in this many bytes; Node's own header limit is 16 KiB. */
const MAX_REQUEST_LINE_BYTES = 8 * 1024;
/** A connection that has not sent its request line by then is closed (Node's `headersTimeout`). */
const REQUEST_LINE_TIMEOUT_MS = 60_000;

interface ConnectionMessage {
  type: typeof CONNECTION;
  /** The bytes the primary read before the hand-over, base64 (the IPC channel carries JSON). */
  head: string;
}
interface SessionMessage {
  type: typeof SESSION;
  opened: boolean;
}

/** What the primary needs of a worker: `cluster.Worker` and `ChildProcess` both fit. */
export interface HandoverTarget {
  send(
    message: ConnectionMessage,
    sendHandle: Socket,
    options: { keepOpen: boolean },
    callback: (error: Error | null) => void,
  ): boolean;
}

interface WorkerState {
  target: HandoverTarget;
  ready: boolean;
  sessions: number;
}

/** The session id a worker gives its Engine.IO sessions. */
export function sessionIdFor(workerId: number, random: string): string {
  return `${workerId}.${random}`;
}

/** The worker id a request line names through its `sid`, if any. */
export function workerIdOfRequestLine(requestLine: string): number | undefined {
  const match = /[?&]sid=(\d+)\./.exec(requestLine);
  return match ? Number(match[1]) : undefined;
}

/**
 * Node keeps reading a socket it sends to another process until the receiver acknowledges it, and
 * drops what it reads then (see the module comment). Stopping the handle's read leaves those bytes
 * in the kernel for the worker. `socket.pause()` alone is not enough: it stops `data` events, not
 * the read. The stream layer still believes the handle reads, so it never restarts it.
 */
function stopReading(socket: Socket): boolean {
  const handle = (socket as unknown as { _handle?: { readStop?: () => number } | null })._handle;
  if (typeof handle?.readStop !== "function") return false;
  return handle.readStop() === 0;
}

/** In the primary: accepts the node's connections and hands each one to a worker. */
export class ConnectionHandover {
  readonly server: Server;
  readonly #workers = new Map<number, WorkerState>();
  readonly #log: Logger;
  #nextTieBreak = 0;
  /** Counters for the debug log and tests. */
  readonly stats = { accepted: 0, handedOver: 0, bySession: 0, refused: 0, failed: 0 };

  constructor(log: Logger) {
    this.#log = log;
    // Paused: nothing is read from a connection but what `#accept` asks for.
    this.server = createServer({ pauseOnConnect: true }, (socket) => this.#accept(socket));
  }

  /** A worker exists; it is handed nothing until `ready`. */
  add(id: number, target: HandoverTarget): void {
    this.#workers.set(id, { target, ready: false, sessions: 0 });
  }

  /** The worker takes connections from now on. */
  ready(id: number): void {
    const state = this.#workers.get(id);
    if (state) state.ready = true;
  }

  remove(id: number): void {
    this.#workers.delete(id);
  }

  /** A message from a worker; true when it was one of the hand-over's own. */
  onMessage(id: number, message: unknown): boolean {
    if ((message as SessionMessage | null)?.type !== SESSION) return false;
    const state = this.#workers.get(id);
    if (state) state.sessions = Math.max(0, state.sessions + ((message as SessionMessage).opened ? 1 : -1));
    return true;
  }

  #accept(socket: Socket): void {
    this.stats.accepted++;
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => socket.destroy(), REQUEST_LINE_TIMEOUT_MS);
    timer.unref();
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      const head = chunks.length === 1 ? chunk : Buffer.concat(chunks);
      const lineEnd = head.indexOf("\r\n");
      if (lineEnd === -1 && size < MAX_REQUEST_LINE_BYTES) return;
      // Nothing more is read here: the rest of the request, and all that follows, is the worker's.
      socket.off("data", onData);
      socket.off("end", onEnd);
      clearTimeout(timer);
      socket.pause();
      if (!stopReading(socket)) this.#log.warn("could not stop reading a connection before its hand-over");
      // A too long request line is handed over as it is: the worker's HTTP server answers it.
      const requestLine = lineEnd === -1 ? "" : head.subarray(0, lineEnd).toString("latin1");
      this.#handOver(socket, head, requestLine);
    };
    const onEnd = () => {
      clearTimeout(timer);
      socket.destroy();
    };
    socket.on("data", onData);
    socket.on("end", onEnd);
    // A reset before the hand-over only concerns this connection.
    socket.on("error", () => socket.destroy());
    socket.resume();
  }

  #handOver(socket: Socket, head: Buffer, requestLine: string): void {
    const sessionWorker = workerIdOfRequestLine(requestLine);
    const owner = sessionWorker === undefined ? undefined : this.#workers.get(sessionWorker);
    let id = owner ? sessionWorker : undefined;
    if (id === undefined) id = this.#leastLoaded();
    const state = id === undefined ? undefined : this.#workers.get(id);
    if (id === undefined || !state) {
      this.stats.refused++;
      socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    if (owner) this.stats.bySession++;
    const workerId = id;
    this.#log.debug({ worker: workerId, bySession: owner !== undefined, bytes: head.length }, "connection handed over");
    try {
      state.target.send({ type: CONNECTION, head: head.toString("base64") }, socket, { keepOpen: false }, (error) =>
        this.#sent(workerId, socket, error),
      );
      this.stats.handedOver++;
    } catch (error) {
      this.#sent(workerId, socket, error as Error);
    }
  }

  #sent(workerId: number, socket: Socket, error: Error | null): void {
    if (!error) return;
    this.stats.failed++;
    this.#log.warn({ worker: workerId, err: error }, "could not hand a connection to a worker");
    socket.destroy();
  }

  /** The ready worker with the fewest open sessions; ties go round in turn. */
  #leastLoaded(): number | undefined {
    const ready = [...this.#workers].filter(([, state]) => state.ready);
    if (ready.length === 0) return undefined;
    const start = this.#nextTieBreak++ % ready.length;
    let best: [number, WorkerState] | undefined;
    for (let i = 0; i < ready.length; i++) {
      const candidate = ready[(start + i) % ready.length];
      if (candidate && (!best || candidate[1].sessions < best[1].sessions)) best = candidate;
    }
    return best?.[0];
  }
}

/**
 * In a worker: takes the connections the primary hands over into `httpServer`, names Engine.IO
 * sessions after this worker (so the primary routes their later requests here) and reports open
 * sessions for the primary's balancing.
 */
export function acceptHandedOverConnections(httpServer: HttpServer, io: IoServer, workerId: number): void {
  // As unguessable as Engine.IO's own ids (15 random bytes), behind the worker id.
  io.engine.generateId = () => sessionIdFor(workerId, randomBytes(15).toString("base64url"));
  process.on("message", (message: unknown, handle: unknown) => {
    if ((message as ConnectionMessage | null)?.type !== CONNECTION) return;
    // No socket: the client closed the connection while it was being handed over.
    if (!(handle instanceof Socket)) return;
    httpServer.emit("connection", handle);
    // Replayed before anything the worker reads itself: those reads come in a later event loop turn.
    handle.emit("data", Buffer.from((message as ConnectionMessage).head, "base64"));
    handle.resume();
  });
  const report = (opened: boolean) => process.send?.({ type: SESSION, opened } satisfies SessionMessage, () => {});
  io.engine.on("connection", (conn: { once(event: "close", listener: () => void): unknown }) => {
    report(true);
    conn.once("close", () => report(false));
  });
}
