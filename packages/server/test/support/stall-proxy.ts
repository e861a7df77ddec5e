import { createServer, type Server, Socket } from "node:net";

/** Commands a stalled store still answers: its protocol layer, not its storage engine, serves them. */
const ANSWERED_WHILE_STALLED = new Set(["hello", "ismaster", "ping", "buildinfo", "endsessions"]);
const OP_MSG = 2013;
const HEADER_BYTES = 16;

/**
 * The name of the command in one MongoDB wire message: the first key of the OP_MSG body section
 * (header 16 bytes, flag bits 4, section kind 1, BSON length 4, element type 1, then the key).
 */
function commandName(message: Buffer): string | null {
  if (message.readInt32LE(12) !== OP_MSG || message.length < HEADER_BYTES + 11) return null;
  if (message[HEADER_BYTES + 4] !== 0) return null;
  const keyStart = HEADER_BYTES + 4 + 1 + 4 + 1;
  const keyEnd = message.indexOf(0, keyStart);
  return keyEnd < 0 ? null : message.toString("utf8", keyStart, keyEnd).toLowerCase();
}

/**
 * A TCP proxy in front of a MongoDB-compatible server that can imitate a stalled store: while
 * stalled it passes `hello`/`ping` (the server's protocol layer keeps answering them) and holds
 * every other command of a connection, in order, until `resume()`; what it holds then goes on.
 */
export class StallProxy {
  #stalled = false;
  readonly #held = new Map<Socket, { upstream: Socket; messages: Buffer[] }>();
  readonly #sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<StallProxy> {
    let proxy: StallProxy | undefined;
    const server = createServer((client) => proxy?.connect(client, targetPort));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("proxy has no port");
    proxy = new StallProxy(server, address.port);
    return proxy;
  }

  stall(): void {
    this.#stalled = true;
  }

  resume(): void {
    this.#stalled = false;
    for (const [client, { upstream, messages }] of this.#held) {
      for (const message of messages) upstream.write(message);
      this.#held.delete(client);
    }
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private connect(client: Socket, targetPort: number): void {
    const upstream = new Socket();
    upstream.connect(targetPort, "127.0.0.1");
    this.#sockets.add(client).add(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.#held.delete(client);
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
    let pending = Buffer.alloc(0);
    client.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
        const length = pending.readInt32LE(0);
        this.forward(client, upstream, pending.subarray(0, length));
        pending = pending.subarray(length);
      }
    });
  }

  private forward(client: Socket, upstream: Socket, message: Buffer): void {
    const held = this.#held.get(client);
    // Once a connection holds a message, everything after it waits too: order is kept.
    if (held !== undefined) {
      held.messages.push(Buffer.from(message));
      return;
    }
    const name = commandName(message);
    if (this.#stalled && (name === null || !ANSWERED_WHILE_STALLED.has(name))) {
      this.#held.set(client, { upstream, messages: [Buffer.from(message)] });
      return;
    }
    upstream.write(message);
  }
}
