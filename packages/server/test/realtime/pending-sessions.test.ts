import { waitFor } from "@roadpulse/devstack";
import { io as connectClient } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { connected } from "../support/devices.js";
import { dropDatabase, limitsBitten, register, registerDevice, startTestNode, type TestNode } from "../support/env.js";

/**
 * Engine.IO sessions opened without credentials, per client address. The node sits behind nginx
 * in production, so a client's address arrives in X-Forwarded-For from a trusted (loopback) peer,
 * as these requests send it.
 */
describe("unauthenticated sessions per client address", () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startTestNode({ MAX_PENDING_SESSIONS_PER_ADDRESS: "5" });
  });
  afterAll(async () => {
    await node?.close();
    await dropDatabase(node.env.MONGODB_URI ?? "");
  });

  /** An Engine.IO polling handshake, with no token, as a client at `address` (undefined: this machine). */
  async function handshake(address?: string): Promise<number> {
    const response = await fetch(`${node.url}/socket.io/?EIO=4&transport=polling`, {
      headers: address === undefined ? {} : { "x-forwarded-for": address },
    });
    await response.text();
    return response.status;
  }

  it("are capped: the sixth from one address is refused, another address still gets in", async () => {
    const before = await limitsBitten(node, "pending_sessions");
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push(await handshake("203.0.113.9"));
    expect(statuses).toEqual([200, 200, 200, 200, 200, 403]);
    expect(await handshake("203.0.113.10")).toBe(200);
    expect(await limitsBitten(node, "pending_sessions")).toBe(before + 1);

    // Sessions that never authenticate are closed after the connect timeout (10 s), and with them
    // the address's count: it is a bound, not a ban.
    const refusedAt = Date.now();
    await waitFor("the address to be let in again", async () => (await handshake("203.0.113.9")) === 200, 30_000, 500);
    expect(Date.now() - refusedAt).toBeGreaterThan(5_000);
  });

  it("stop counting once they authenticate: devices behind one address all connect", async () => {
    const token = (await register(node.url, "carrier")).token;
    const devices = [];
    for (let i = 0; i < 8; i++) {
      const device = connectClient(node.url, {
        auth: { token },
        query: { deviceId: await registerDevice(node.url, token) },
        transports: ["polling"],
        reconnection: false,
        extraHeaders: { "x-forwarded-for": "198.51.100.7" },
      });
      onTestFinished(() => {
        device.close();
      });
      devices.push(await connected(device));
    }
    expect(devices.every((device) => device.connected)).toBe(true);
  });

  it("leaves this machine's own clients uncounted", async () => {
    const statuses = [];
    for (let i = 0; i < 7; i++) statuses.push(await handshake());
    expect(statuses.every((status) => status === 200)).toBe(true);
  });
});
