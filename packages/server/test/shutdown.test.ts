import { freePort, startNodeProcess } from "@roadpulse/devstack";
import { describe, expect, it, onTestFinished } from "vitest";
import { connectDevice, register, testEnv } from "./support/env.js";

describe("graceful shutdown", () => {
  it("closes client sockets and exits 0 on SIGTERM", async () => {
    const env = testEnv();
    const node = await startNodeProcess({
      nodeId: env.NODE_ID ?? "shutdown",
      port: await freePort(),
      env,
      output: "ignore",
    });
    // Whatever happens below, no node process outlives the test.
    onTestFinished(async () => void (await node.service.kill()));
    const account = await register(node.url, "shutdown");
    const client = await connectDevice(node.url, account.token);
    const disconnected = new Promise<string>((resolve) => client.once("disconnect", resolve));

    node.service.child.kill("SIGTERM");
    expect(await node.service.exited).toBe(0);
    expect(await disconnected).toMatch(/io server disconnect|transport close/);
    await expect(fetch(`${node.url}/health`)).rejects.toThrow();
  });
});
