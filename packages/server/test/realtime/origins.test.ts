import { io as connectClient } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropDatabase, register, registerDevice, startTestNode, type TestNode } from "../support/env.js";

/** What a browser page's connection gets, by the Origin it sends, over either transport. */
async function attempt(
  url: string,
  token: string,
  transport: "polling" | "websocket",
  origin?: string,
): Promise<"connected" | string> {
  const socket = connectClient(url, {
    auth: { token },
    query: { deviceId: await registerDevice(url, token) },
    transports: [transport],
    reconnection: false,
    timeout: 10_000,
    ...(origin === undefined ? {} : { extraHeaders: { Origin: origin } }),
  });
  try {
    return await new Promise((resolve) => {
      socket.once("connect", () => resolve("connected"));
      socket.once("connect_error", (error) => resolve(error.message));
    });
  } finally {
    socket.close();
  }
}

describe("browser origins", () => {
  let node: TestNode;
  let token: string;
  beforeAll(async () => {
    node = await startTestNode({ ALLOWED_ORIGINS: "https://ops.example.org" });
    token = (await register(node.url, "origins")).token;
  });
  afterAll(async () => {
    await node?.close();
    await dropDatabase(node.env.MONGODB_URI ?? "");
  });

  it.each(["polling", "websocket"] as const)("refuses a page from another origin over %s", async (transport) => {
    expect(await attempt(node.url, token, transport, "http://evil.example")).not.toBe("connected");
  });

  it.each(["polling", "websocket"] as const)("lets a page from an allowed origin in over %s", async (transport) => {
    expect(await attempt(node.url, token, transport, "https://ops.example.org")).toBe("connected");
  });

  it("lets a device in: it sends no Origin", async () => {
    expect(await attempt(node.url, token, "websocket")).toBe("connected");
  });
});
