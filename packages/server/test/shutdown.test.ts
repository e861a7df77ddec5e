import { freePort, startNodeProcess } from "@roadpulse/devstack";
import { io as connect } from "socket.io-client";
import { describe, expect, it } from "vitest";
import { testEnv } from "./support/env.js";

describe("graceful shutdown", () => {
  it("closes client sockets and exits 0 on SIGTERM", async () => {
    const env = testEnv();
    const node = await startNodeProcess({
      nodeId: env.NODE_ID ?? "shutdown",
      port: await freePort(),
      env,
      output: "ignore",
    });
    const client = connect(node.url, { transports: ["websocket"], reconnection: false });
    await new Promise<void>((resolve, reject) => {
      client.once("connect", resolve);
      client.once("connect_error", reject);
    });
    const disconnected = new Promise<string>((resolve) => client.once("disconnect", resolve));

    node.service.child.kill("SIGTERM");
    expect(await node.service.exited).toBe(0);
    expect(await disconnected).toMatch(/io server disconnect|transport close/);
    await expect(fetch(`${node.url}/health`)).rejects.toThrow();
  });
});
