import { waitFor } from "@roadpulse/devstack";
import { io as connectClient, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { dropDatabase, limitsBitten, register, registerDevice, startTestNode, type TestNode } from "../support/env.js";

/** Connects one device of the account; resolves with the socket, or the refusal's `err.data`. */
async function attempt(node: TestNode, token: string): Promise<Socket | { code: string; message: string }> {
  const socket = connectClient(node.url, {
    auth: { token },
    query: { deviceId: await registerDevice(node.url, token) },
    transports: ["websocket"],
    reconnection: false,
  });
  return await new Promise((resolve) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (error: Error & { data?: { code: string; message: string } }) => {
      socket.close();
      resolve(error.data ?? { code: "none", message: error.message });
    });
  });
}

/**
 * One account's connections are capped across the cluster (MAX_SOCKETS_PER_ACCOUNT, default 20):
 * each connection has its own event budget, so an account opening many would multiply its budget.
 */
describe("connections per account", () => {
  let first: TestNode;
  let second: TestNode;
  beforeAll(async () => {
    first = await startTestNode();
    second = await startTestNode({ MONGODB_URI: first.env.MONGODB_URI ?? "" });
  });
  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
    await dropDatabase(first.env.MONGODB_URI ?? "");
  });

  it("are capped at 20 whichever nodes they reach, and free again once one closes", async () => {
    const account = await register(first.url, "many-sockets");
    const sockets: Socket[] = [];
    onTestFinished(() => {
      for (const socket of sockets) socket.close();
    });
    for (let i = 0; i < 20; i++) {
      const opened = await attempt(i % 2 === 0 ? first : second, account.token);
      if (!(opened instanceof Object && "connected" in opened)) throw new Error(`connection ${i + 1} refused`);
      sockets.push(opened);
    }
    const bittenBefore =
      (await limitsBitten(first, "sockets_per_account")) + (await limitsBitten(second, "sockets_per_account"));
    for (const node of [first, second]) {
      expect(await attempt(node, account.token)).toEqual({
        code: "RATE_LIMITED",
        message: expect.stringContaining("MAX_SOCKETS_PER_ACCOUNT"),
      });
    }
    const bittenAfter =
      (await limitsBitten(first, "sockets_per_account")) + (await limitsBitten(second, "sockets_per_account"));
    expect(bittenAfter - bittenBefore).toBe(2);
    // Another account is not affected.
    const other = await attempt(second, (await register(second.url, "someone-else")).token);
    expect(other).toHaveProperty("connected", true);
    (other as Socket).close();

    // One closes: its session leaves user:{id}:sessions, and a new device gets in.
    sockets.shift()?.close();
    const again = await waitFor("a free place for the account", async () => {
      const result = await attempt(first, account.token);
      return "connected" in result ? result : undefined;
    });
    sockets.push(again);
    expect(again.connected).toBe(true);
  });
});
