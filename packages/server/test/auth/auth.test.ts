import { MongoClient } from "mongodb";
import { io as connect, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { adminCli, dropDatabase, register, registerDevice, startTestNode, type TestNode } from "../support/env.js";

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function countUsers(uri: string): Promise<number> {
  const client = new MongoClient(uri);
  try {
    return await client.db().collection("users").countDocuments();
  } finally {
    await client.close();
  }
}

describe("accounts and authentication", () => {
  let node: TestNode;
  let uri: string;
  beforeAll(async () => {
    node = await startTestNode();
    uri = node.env.MONGODB_URI ?? "";
  });
  afterAll(async () => {
    await node.close();
    await dropDatabase(uri);
  });

  it("registers, logs in and answers /api/users/me; stores only a salted slow hash", async () => {
    const created = await post(`${node.url}/api/auth/register`, {
      email: "Ana@Example.test",
      password: "correct horse battery",
      displayName: "Ana",
    });
    expect(created.status).toBe(201);
    expect(created.body.user).toMatchObject({ email: "ana@example.test", displayName: "Ana", role: "user" });
    expect(typeof created.body.token).toBe("string");

    const login = await post(`${node.url}/api/auth/login`, {
      email: "ana@example.test",
      password: "correct horse battery",
    });
    expect(login.status).toBe(200);
    const me = await fetch(`${node.url}/api/users/me`, { headers: { authorization: `Bearer ${login.body.token}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ email: "ana@example.test" });

    const client = new MongoClient(uri);
    try {
      const stored = await client.db().collection("users").findOne({ email: "ana@example.test" });
      expect(stored?.passwordHash).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
      expect(JSON.stringify(stored)).not.toContain("correct horse battery");
    } finally {
      await client.close();
    }
  });

  it("never makes an admin by registering; the operator's command does, from the next login", async () => {
    const credentials = { email: "boss@example.test", password: "correct horse battery" };
    const boss = await post(`${node.url}/api/auth/register`, { ...credentials, displayName: "Boss" });
    expect(boss.body.user).toMatchObject({ role: "user" });

    expect(await adminCli(uri, "grant", "BOSS@example.test")).toEqual({
      code: 0,
      stdout: "boss@example.test is now an admin (from their next login)\n",
      stderr: "",
    });
    const login = await post(`${node.url}/api/auth/login`, credentials);
    expect(login.body.user).toMatchObject({ role: "admin" });

    expect(await adminCli(uri, "revoke", "boss@example.test")).toMatchObject({ code: 0 });
    expect((await post(`${node.url}/api/auth/login`, credentials)).body.user).toMatchObject({ role: "user" });

    const nobody = await adminCli(uri, "grant", "nobody@example.test");
    expect(nobody).toMatchObject({ code: 1, stderr: "no account is registered with nobody@example.test\n" });
    expect((await adminCli(uri, "promote", "boss@example.test")).code).toBe(2);
  });

  it("makes an account that keeps guessing wait, on every node, even with the right password", async () => {
    const other = await startTestNode({ MONGODB_URI: uri });
    onTestFinished(() => other.close());
    const account = await register(node.url, "guessed");
    const wrong = { email: account.email, password: "not the password" };
    for (let i = 0; i < 5; i++) expect((await post(`${node.url}/api/auth/login`, wrong)).status).toBe(401);

    // The sixth attempt, on another node and with the right password, must wait.
    const right = { email: account.email, password: account.password };
    const response = await fetch(`${other.url}/api/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(right),
    });
    expect(response.status).toBe(429);
    const retryAfter = Number(response.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(await response.json()).toEqual({
      error: { code: "RATE_LIMITED", message: `Too many failed logins for this account; retry in ${retryAfter} s` },
    });

    // Once the wait is over the right password gets in, and the slate is clean again.
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000 + 100));
    expect((await post(`${other.url}/api/auth/login`, right)).status).toBe(200);
    expect((await post(`${node.url}/api/auth/login`, wrong)).status).toBe(401);
    expect((await post(`${node.url}/api/auth/login`, right)).status).toBe(200);
  });

  it("backs off guesses at an unknown email the same way, so the answer reveals no account", async () => {
    const nobody = { email: "nobody-here@example.test", password: "whatever it is" };
    for (let i = 0; i < 5; i++) expect((await post(`${node.url}/api/auth/login`, nobody)).status).toBe(401);
    expect((await post(`${node.url}/api/auth/login`, nobody)).status).toBe(429);
  });

  it("refuses a second account with the same email, whatever its case", async () => {
    await register(node.url, "twin").then(async (account) => {
      const again = await post(`${node.url}/api/auth/register`, {
        email: account.email.toUpperCase(),
        password: "another password",
        displayName: "Twin",
      });
      expect(again.status).toBe(409);
      expect(again.body).toEqual({ error: { code: "CONFLICT", message: "This email is already registered" } });
    });
  });

  it("refuses wrong passwords and unknown emails alike", async () => {
    const account = await register(node.url, "locked");
    const wrong = await post(`${node.url}/api/auth/login`, { email: account.email, password: "not it at all" });
    const unknown = await post(`${node.url}/api/auth/login`, { email: "nobody@example.test", password: "whatever" });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
  });

  it.each([
    ["an operator instead of an email", { email: { $gt: "" }, password: "x" }, 400, "VALIDATION_FAILED"],
    [
      "an operator instead of a password",
      { email: "a@example.test", password: { $ne: null } },
      400,
      "VALIDATION_FAILED",
    ],
    [
      "an unknown field",
      { email: "a@example.test", password: "xxxxxxxxx", displayName: "A", admin: true },
      400,
      "VALIDATION_FAILED",
    ],
    [
      "a number where a string belongs",
      { email: 42, password: "xxxxxxxxx", displayName: "A" },
      400,
      "VALIDATION_FAILED",
    ],
    ["a short password", { email: "a@example.test", password: "short", displayName: "A" }, 400, "VALIDATION_FAILED"],
    ["a non-email", { email: "not-an-email", password: "xxxxxxxxx", displayName: "A" }, 400, "VALIDATION_FAILED"],
    ["broken JSON", '{"email":', 400, "BAD_REQUEST"],
    [
      "a 1 MB body",
      { email: "a@example.test", password: "x".repeat(1_000_000), displayName: "A" },
      413,
      "PAYLOAD_TOO_LARGE",
    ],
  ])("answers %s with a clear error and stores nothing", async (_what, body, status, code) => {
    const before = await countUsers(uri);
    const path = typeof body === "object" && body !== null && "displayName" in body ? "register" : "login";
    const result = await post(`${node.url}/api/auth/${path}`, body);
    expect(result.status).toBe(status);
    expect(result.body).toEqual({ error: { code, message: expect.any(String) } });
    expect(JSON.stringify(result.body)).not.toMatch(/at .*\.(js|ts):\d+/);
    expect(await countUsers(uri)).toBe(before);
  });

  it("refuses /api/users/me without a valid token", async () => {
    for (const authorization of [undefined, "Bearer nope", "Basic abc", `Bearer ${"a".repeat(5000)}`]) {
      const response = await fetch(`${node.url}/api/users/me`, {
        headers: authorization ? { authorization } : {},
      });
      expect(response.status).toBe(401);
    }
  });

  describe("Socket.IO handshake", () => {
    function open(auth: Record<string, unknown>, deviceId = "device-0001"): Socket {
      return connect(node.url, { auth, query: { deviceId }, transports: ["websocket"], reconnection: false });
    }
    function outcome(socket: Socket): Promise<{ connected: boolean; data?: unknown }> {
      return new Promise((resolve) => {
        socket.once("connect", () => resolve({ connected: true }));
        socket.once("connect_error", (error: Error & { data?: unknown }) =>
          resolve({ connected: false, data: error.data }),
        );
      });
    }

    it("accepts a valid token and refuses everything else with connect_error", async () => {
      const account = await register(node.url, "socket");
      const good = open({ token: account.token }, await registerDevice(node.url, account.token));
      expect(await outcome(good)).toEqual({ connected: true });
      good.close();

      for (const auth of [{}, { token: "forged.jwt.value" }, { token: { $gt: "" } }, { token: 12 }]) {
        const bad = open(auth);
        expect(await outcome(bad)).toEqual({
          connected: false,
          data: { code: "UNAUTHORIZED", message: expect.any(String) },
        });
        bad.close();
      }
      const noDevice = open({ token: account.token }, "x");
      expect(await outcome(noDevice)).toMatchObject({ connected: false, data: { code: "BAD_REQUEST" } });
      noDevice.close();
    });

    it("takes only device ids the server issued to the token's account", async () => {
      const [owner, other] = await Promise.all([register(node.url, "owner"), register(node.url, "other")]);
      const issued = await fetch(`${node.url}/api/devices`, {
        method: "POST",
        headers: { authorization: `Bearer ${owner.token}` },
      });
      expect(issued.status).toBe(201);
      const { deviceId } = (await issued.json()) as { deviceId: string };
      expect(deviceId).toMatch(/^[A-Za-z0-9._:-]{8,128}$/);
      expect(await registerDevice(node.url, owner.token)).not.toBe(deviceId);
      expect((await fetch(`${node.url}/api/devices`, { method: "POST" })).status).toBe(401);

      const [nonce, tag] = deviceId.split(".") as [string, string];
      const flipped = `${tag.slice(0, -1)}${tag.endsWith("A") ? "B" : "A"}`;
      // Made up, another account's, its tag moved to another nonce, or one bit off: all refused.
      for (const [token, id] of [
        [owner.token, "my-own-phone-0001"],
        [other.token, deviceId],
        [owner.token, `other-nonce.${tag}`],
        [owner.token, `${nonce}.${flipped}`],
      ] as const) {
        const socket = open({ token }, id);
        expect(await outcome(socket)).toEqual({
          connected: false,
          data: { code: "FORBIDDEN", message: expect.stringContaining("POST /api/devices") },
        });
        socket.close();
      }
      const mine = open({ token: owner.token }, deviceId);
      expect(await outcome(mine)).toEqual({ connected: true });
      mine.close();
    });

    it("refuses a token signed with another secret", async () => {
      const other = await startTestNode({ JWT_SECRET: "some-other-secret-of-32-chars!!", MONGODB_URI: uri });
      try {
        const foreign = await register(other.url, "foreign");
        const socket = open({ token: foreign.token });
        expect(await outcome(socket)).toMatchObject({ connected: false });
        socket.close();
      } finally {
        await other.close();
      }
    });
  });
});
