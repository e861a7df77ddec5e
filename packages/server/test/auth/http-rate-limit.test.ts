import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropDatabase, register, startTestNode, type TestNode } from "../support/env.js";

/**
 * HTTP rate limits per client address, shared by every node through Redis. Behind nginx a
 * client's address arrives in X-Forwarded-For from a trusted (loopback) peer, as sent here.
 */
describe("HTTP rate limits", () => {
  let first: TestNode;
  let second: TestNode;
  beforeAll(async () => {
    const limits = {
      AUTH_RATE_LIMIT_PER_MINUTE: "3",
      HTTP_RATE_LIMIT_PER_MINUTE: "5",
      ACCOUNT_RATE_LIMIT_PER_MINUTE: "4",
    };
    first = await startTestNode(limits);
    second = await startTestNode({ ...limits, MONGODB_URI: first.env.MONGODB_URI ?? "" });
  });
  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
    await dropDatabase(first.env.MONGODB_URI ?? "");
  });

  function registerAs(node: TestNode, address: string, name: string): Promise<Response> {
    return fetch(`${node.url}/api/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-for": address },
      body: JSON.stringify({ email: `${name}@example.test`, password: "correct horse battery", displayName: name }),
    });
  }

  it("give one address one budget of registrations, whichever node it reaches", async () => {
    const statuses = [
      (await registerAs(first, "203.0.113.30", "ra1")).status,
      (await registerAs(second, "203.0.113.30", "ra2")).status,
      (await registerAs(first, "203.0.113.30", "ra3")).status,
    ];
    expect(statuses).toEqual([201, 201, 201]);
    const refused = await registerAs(second, "203.0.113.30", "ra4");
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await refused.json()).toEqual({
      error: { code: "RATE_LIMITED", message: `Too many requests; retry in ${retryAfter} s` },
    });
    // Nothing was created for the refused request; another address still registers.
    const login = await fetch(`${first.url}/api/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "ra4@example.test", password: "correct horse battery" }),
    });
    expect(login.status).toBe(401);
    expect((await registerAs(first, "203.0.113.31", "rb1")).status).toBe(201);
  });

  it("cap anonymous requests per address, and an account's requests from any address", async () => {
    const anonymous = (node: TestNode) =>
      fetch(`${node.url}/api/hazards?bbox=77.1,28.6,77.2,28.7`, {
        headers: { "x-forwarded-for": "203.0.113.40" },
      }).then((response) => response.status);
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push(await anonymous(i % 2 === 0 ? first : second));
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);

    // An account's budget follows it across addresses and nodes; a forged token buys nothing.
    const account = await register(first.url, "reader");
    const me = (node: TestNode, address: string, token = account.token) =>
      fetch(`${node.url}/api/users/me`, {
        headers: { authorization: `Bearer ${token}`, "x-forwarded-for": address },
      }).then((response) => response.status);
    const mine = [];
    for (let i = 0; i < 5; i++) mine.push(await me(i % 2 === 0 ? first : second, `198.51.100.${i + 1}`));
    expect(mine).toEqual([200, 200, 200, 200, 429]);
    const forged = [];
    for (let i = 0; i < 6; i++) forged.push(await me(first, "203.0.113.41", `forged.${i}.token`));
    expect(forged).toEqual([401, 401, 401, 401, 401, 429]);
    // Another person behind the same address as the first is not held back by them.
    const other = await register(first.url, "neighbour");
    expect(await me(second, "198.51.100.1", other.token)).toBe(200);
  });

  it("never limit /health, the metrics or this machine's own clients", async () => {
    const account = await register(first.url, "prober");
    for (let i = 0; i < 10; i++) {
      const headers = { "x-forwarded-for": "203.0.113.40" };
      expect((await fetch(`${first.url}/health`, { headers })).status).toBe(200);
      expect((await fetch(`${first.metricsUrl}/metrics`, { headers })).status).toBe(200);
    }
    // Loopback (this test's own calls without X-Forwarded-For) is not limited.
    for (let i = 0; i < 8; i++) {
      const own = await fetch(`${first.url}/api/users/me`, { headers: { authorization: `Bearer ${account.token}` } });
      expect(own.status).toBe(200);
    }
  });
});
