import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RedisInstance, startRedisServer, waitFor } from "@roadpulse/devstack";
import { Redis } from "ioredis";
import { SignJWT } from "jose";
import { io as connect } from "socket.io-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  adminCli,
  dropDatabase,
  registerDevice,
  startTestNode,
  TEST_JWT_SECRET,
  type TestNode,
  uniqueDbName,
} from "../support/env.js";

interface Tokens {
  token: string;
  refreshToken: string;
  expiresIn: number;
  user: { id: string; role: string };
}

async function post(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function me(node: TestNode, token: string): Promise<number> {
  const response = await fetch(`${node.url}/api/users/me`, { headers: { authorization: `Bearer ${token}` } });
  await response.arrayBuffer();
  return response.status;
}

/** Whether a device of the account gets a socket with this access token. */
async function socketWith(node: TestNode, token: string, deviceId: string): Promise<string> {
  const socket = connect(node.url, {
    auth: { token },
    query: { deviceId },
    transports: ["websocket"],
    reconnection: false,
  });
  try {
    return await new Promise((resolve) => {
      socket.once("connect", () => resolve("connected"));
      socket.once("connect_error", (error: Error & { data?: { code: string } }) => resolve(error.data?.code ?? "?"));
    });
  } finally {
    socket.close();
  }
}

const PASSWORD = "correct horse battery";

/**
 * Login sessions: short-lived access tokens, refresh tokens that rotate on every use, a reused
 * refresh token ending its session, logout revoking it: on every node at once (Redis), and
 * surviving Redis restarted empty (the durable record in `login_sessions`).
 */
describe("access and refresh tokens", () => {
  let redis: RedisInstance;
  let first: TestNode;
  let second: TestNode;
  beforeAll(async () => {
    // A Redis of this file's own: one test empties it.
    redis = await startRedisServer({ dir: join(tmpdir(), uniqueDbName("refresh-redis")), output: "ignore" });
    first = await startTestNode({ REDIS_URL: redis.url, ACCESS_TOKEN_TTL_SECONDS: "10" });
    second = await startTestNode({
      REDIS_URL: redis.url,
      ACCESS_TOKEN_TTL_SECONDS: "10",
      MONGODB_URI: first.env.MONGODB_URI ?? "",
    });
  });
  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
    await dropDatabase(first?.env.MONGODB_URI ?? "");
    await redis?.stop();
  });

  let accounts = 0;
  async function signUp(): Promise<Tokens & { email: string }> {
    const email = `session-${++accounts}-${Date.now()}@example.test`;
    const created = await post(`${first.url}/api/auth/register`, { email, password: PASSWORD, displayName: "s" });
    expect(created.status).toBe(201);
    return { ...(created.body as unknown as Tokens), email };
  }
  const refresh = (node: TestNode, refreshToken: unknown) => post(`${node.url}/api/auth/refresh`, { refreshToken });

  it("gives a short-lived access token and a refresh token that rotates, on any node", async () => {
    const session = await signUp();
    expect(session).toMatchObject({ expiresIn: 10, token: expect.any(String), refreshToken: expect.any(String) });
    const renewed = await refresh(second, session.refreshToken);
    expect(renewed.status).toBe(200);
    const next = renewed.body as unknown as Tokens;
    expect(next.user.id).toBe(session.user.id);
    expect(next.refreshToken).not.toBe(session.refreshToken);
    expect(await me(first, next.token)).toBe(200);
    // The next refresh takes the new refresh token, on the other node.
    expect((await refresh(first, next.refreshToken)).status).toBe(200);

    // Each kind of token is refused where the other belongs.
    expect(await me(first, session.refreshToken)).toBe(401);
    expect((await refresh(first, session.token)).status).toBe(401);
    expect((await refresh(first, "x.y.z")).status).toBe(401);
    expect((await refresh(first, { $gt: "" })).status).toBe(400);
  });

  it("lets an access token expire, and a refresh brings a working one", async () => {
    const session = await signUp();
    expect(await me(first, session.token)).toBe(200);
    await waitFor("the 10 s access token to expire", async () => (await me(first, session.token)) === 401, 30_000, 500);
    const renewed = (await refresh(first, session.refreshToken)).body as unknown as Tokens;
    expect(await me(second, renewed.token)).toBe(200);
  });

  it("ends the whole session, on every node, when a refresh token is used twice", async () => {
    const session = await signUp();
    const deviceId = await registerDevice(first.url, session.token);
    const other = (await post(`${first.url}/api/auth/login`, { email: session.email, password: PASSWORD }))
      .body as unknown as Tokens;
    const stolen = session.refreshToken;
    const once = (await refresh(first, stolen)).body as unknown as Tokens;
    const rotated = (await refresh(second, once.refreshToken)).body as unknown as Tokens;

    // The old token comes back (a thief's copy, or the victim's after the thief used it).
    const replay = await refresh(second, stolen);
    expect(replay.status).toBe(401);
    expect(replay.body).toEqual({ error: { code: "UNAUTHORIZED", message: expect.stringContaining("used before") } });
    // Everything of that session is dead at once: the newer refresh token and every access token.
    expect((await refresh(first, rotated.refreshToken)).status).toBe(401);
    for (const node of [first, second]) {
      expect(await me(node, rotated.token)).toBe(401);
      expect(await me(node, session.token)).toBe(401);
      expect(await socketWith(node, rotated.token, deviceId)).toBe("UNAUTHORIZED");
    }
    // The account's other login is untouched.
    expect(await me(second, other.token)).toBe(200);
    expect(await socketWith(second, other.token, deviceId)).toBe("connected");
    expect((await refresh(second, other.refreshToken)).status).toBe(200);
  });

  it("logs out: the session's refresh and access tokens stop working on every node", async () => {
    const session = await signUp();
    const deviceId = await registerDevice(first.url, session.token);
    expect((await post(`${first.url}/api/auth/logout`, { refreshToken: "forged" })).status).toBe(401);
    const out = await fetch(`${second.url}/api/auth/logout`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refreshToken: session.refreshToken }),
    });
    expect(out.status).toBe(204);
    expect((await refresh(first, session.refreshToken)).status).toBe(401);
    for (const node of [first, second]) {
      expect(await me(node, session.token)).toBe(401);
      expect(await socketWith(node, session.token, deviceId)).toBe("UNAUTHORIZED");
    }
  });

  it("keeps live sessions and revocations when Redis restarts empty", async () => {
    const live = await signUp();
    const gone = await signUp();
    expect((await post(`${first.url}/api/auth/logout`, { refreshToken: gone.refreshToken })).status).toBe(204);
    const client = new Redis(redis.url);
    try {
      await client.flushall();
    } finally {
      client.disconnect();
    }
    const renewed = await refresh(second, live.refreshToken);
    expect(renewed.status).toBe(200);
    expect(await me(first, (renewed.body as unknown as Tokens).token)).toBe(200);
    expect((await refresh(first, gone.refreshToken)).status).toBe(401);
    // Rotation goes on from there: once the session moved on, the first token is reuse again.
    expect((await refresh(first, (renewed.body as unknown as Tokens).refreshToken)).status).toBe(200);
    expect((await refresh(first, live.refreshToken)).status).toBe(401);
  });

  it("lets a client whose answer was lost retry with the token it just used, once the session moved on no more", async () => {
    const session = await signUp();
    const first1 = await refresh(first, session.refreshToken);
    expect(first1.status).toBe(200);
    // The answer never arrived (a node died, the network dropped): the app sends the same token again.
    const retry = await refresh(second, session.refreshToken);
    expect(retry.status).toBe(200);
    const tokens = retry.body as unknown as Tokens;
    expect(await me(first, tokens.token)).toBe(200);
    // The session goes on from the retry's tokens; the token two rotations back ends it.
    expect((await refresh(first, tokens.refreshToken)).status).toBe(200);
    expect((await refresh(first, session.refreshToken)).status).toBe(401);
    expect(await me(second, tokens.token)).toBe(401);
  });

  it("reads the role again at each refresh, and refuses tokens that name no session", async () => {
    const session = await signUp();
    expect((await adminCli(first.env.MONGODB_URI ?? "", "grant", session.email)).code).toBe(0);
    const renewed = (await refresh(first, session.refreshToken)).body as unknown as Tokens;
    expect(renewed.user.role).toBe("admin");
    const presence = async (token: string) => {
      const response = await fetch(`${first.url}/api/regions/ttngkc/presence`, {
        headers: { authorization: `Bearer ${token}` },
      });
      return (await response.json()) as Record<string, unknown>;
    };
    expect(await presence(session.token)).not.toHaveProperty("members");
    expect(await presence(renewed.token)).toHaveProperty("members");

    // A token of the old kind (a month long, no session): signed with the right secret, refused.
    const legacy = await new SignJWT({ role: "admin" })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(session.user.id)
      .setIssuer("roadpulse")
      .setAudience("roadpulse-api")
      .setIssuedAt()
      .setExpirationTime("30d")
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    expect(await me(first, legacy)).toBe(401);
  });
});

describe("token lifetimes", () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("default to 15 minutes for access tokens", async () => {
    const node = await startTestNode();
    cleanups.push(() => dropDatabase(node.env.MONGODB_URI ?? ""));
    cleanups.push(() => node.close());
    const created = await post(`${node.url}/api/auth/register`, {
      email: `lifetime-${Date.now()}@example.test`,
      password: PASSWORD,
      displayName: "l",
    });
    expect(created.body.expiresIn).toBe(900);
  });
});
