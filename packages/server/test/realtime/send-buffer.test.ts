import type { Socket as NetSocket } from "node:net";
import { waitFor } from "@roadpulse/devstack";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { connectDevice, dropDatabase, limitsBitten, register, startTestNode, type TestNode } from "../support/env.js";

describe("a client that stops reading", () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startTestNode({ SOCKET_MAX_BUFFERED_BYTES: String(1024 * 1024) });
  });
  afterAll(async () => {
    await node?.close();
    await dropDatabase(node.env.MONGODB_URI ?? "");
  });

  it("is disconnected once what waits for it passes the bound, instead of being buffered", async () => {
    const device = await connectDevice(node.url, (await register(node.url, "sleeper")).token);
    onTestFinished(() => {
      device.close();
    });
    const server = node.io.of("/").sockets.get(device.id as string);
    expect(server).toBeDefined();
    const gone = new Promise<string>((resolve) => server?.once("disconnect", resolve));
    const before = await limitsBitten(node, "send_buffer");

    // The phone stops reading its connection: what the node sends piles up on the node's side.
    const transport = device.io.engine.transport as unknown as { ws: { _socket: NetSocket } };
    transport.ws._socket.pause();
    const update = "x".repeat(100_000);
    for (let i = 0; i < 400; i++) server?.emit("bulk", update);

    expect(await gone).toBe("server namespace disconnect");
    await waitFor(
      "the bound to be counted",
      async () => (await limitsBitten(node, "send_buffer")) === before + 1,
      5_000,
    );
  });
});
