import { freePort, startNodeProcess } from "@roadpulse/devstack";
import { describe, expect, it, onTestFinished } from "vitest";
import { connectDevice, dropDatabase, register, startTestNode, testEnv } from "../support/env.js";

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
    const client = await connectDevice(node.url, account.token, { reconnection: true });
    const disconnected = new Promise<string>((resolve) => client.once("disconnect", resolve));

    node.service.child.kill("SIGTERM");
    expect(await node.service.exited).toBe(0);
    // Closed, not dismissed: the client reconnects by itself (to another node, behind nginx).
    expect(await disconnected).toBe("transport close");
    expect(client.active).toBe(true);
    client.close();
    await expect(fetch(`${node.url}/health`)).rejects.toThrow();
  });

  it("disconnects only its own sockets: devices on the other nodes stay connected", async () => {
    const staying = await startTestNode();
    const uri = staying.env.MONGODB_URI ?? "";
    onTestFinished(async () => {
      await staying.close();
      await dropDatabase(uri);
    });
    const leaving = await startTestNode({ MONGODB_URI: uri });
    const account = await register(staying.url, "neighbour");
    const survivor = await connectDevice(staying.url, account.token);
    onTestFinished(() => void survivor.close());
    const disconnects: string[] = [];
    survivor.on("disconnect", (reason) => disconnects.push(reason));
    const leaver = await connectDevice(leaving.url, account.token, { reconnection: true });
    const left = new Promise<string>((resolve) => leaver.once("disconnect", resolve));

    await leaving.close();
    expect(await left).toBe("transport close");
    expect(leaver.active).toBe(true);
    leaver.close();
    // The survivor still gets answers over its connection: it was never dropped.
    const ack = (await survivor.timeout(10_000).emitWithAck("heartbeat", {})) as { ok: boolean };
    expect(ack.ok).toBe(true);
    expect(disconnects).toEqual([]);
  });
});
