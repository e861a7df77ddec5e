import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo, Socket as TcpSocket } from "node:net";
import { Server } from "socket.io";
import { type Socket as ClientSocket, io as connect } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchWebSocketFlushes } from "../../src/realtime/frame-batching.js";

/**
 * A burst of packets to one websocket (a round of road updates) leaves in a few writes, not one
 * write per frame, and the client gets every packet, in order, whether it was emitted to the
 * socket or broadcast to a room (Socket.IO pre-encodes broadcast frames).
 */
describe("websocket flushes are written at once", () => {
  let http: HttpServer;
  let server: Server;
  let client: ClientSocket;
  /** The server side's TCP socket of the one client, with its writes counted. */
  let writes = 0;
  let tcp: TcpSocket | undefined;

  beforeAll(async () => {
    expect(batchWebSocketFlushes()).toBe(true);
    http = createServer();
    server = new Server(http, { transports: ["websocket"] });
    server.engine.on("connection", (engineSocket: { transport: { socket: { _socket: TcpSocket } } }) => {
      tcp = engineSocket.transport.socket._socket;
      const write = tcp._write.bind(tcp);
      const writev = tcp._writev?.bind(tcp);
      tcp._write = (...args: Parameters<TcpSocket["_write"]>) => {
        writes += 1;
        write(...args);
      };
      if (writev) {
        tcp._writev = (...args: Parameters<NonNullable<TcpSocket["_writev"]>>) => {
          writes += 1;
          writev(...args);
        };
      }
    });
    server.on("connection", (socket) => socket.join("region:test"));
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const { port } = http.address() as AddressInfo;
    client = connect(`http://127.0.0.1:${port}`, { transports: ["websocket"], reconnection: false });
    await new Promise<void>((resolve, reject) => {
      client.once("connect", resolve);
      client.once("connect_error", reject);
    });
  });
  afterAll(async () => {
    client?.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const burst = async (emit: (i: number) => void) => {
    const received: number[] = [];
    const all = new Promise<void>((resolve) => {
      const onUpdate = (payload: { i: number }) => {
        received.push(payload.i);
        if (received.length === 300) {
          client.off("update", onUpdate);
          resolve();
        }
      };
      client.on("update", onUpdate);
    });
    writes = 0;
    for (let i = 0; i < 300; i++) emit(i);
    await all;
    expect(received).toEqual(Array.from({ length: 300 }, (_, i) => i));
    return writes;
  };

  it("sends 300 packets emitted to a socket in one tick in a few writes, all of them in order", async () => {
    const [socket] = await server.fetchSockets();
    // One write for the first packet (the socket was idle), then one for everything that queued
    // behind it; a few more if the kernel took the data in parts. Without batching: 300.
    expect(await burst((i) => socket?.emit("update", { i, segment: "x".repeat(200) }))).toBeLessThanOrEqual(5);
  });

  it("does the same for packets broadcast to a room", async () => {
    expect(await burst((i) => server.to("region:test").emit("update", { i }))).toBeLessThanOrEqual(5);
  });
});
