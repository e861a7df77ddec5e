import { request as httpRequest } from "node:http";
import type { Socket as NetSocket } from "node:net";
import { waitFor } from "@roadpulse/devstack";
import { io as connectClient, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { parseSamples, total } from "../ops/support.js";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { HERE, observation } from "../support/devices.js";
import { registerDevice } from "../support/env.js";

/**
 * The abuse cases, tried as an attacker would: from another client address than this machine's own
 * (127.0.0.2 and up: the balancer and the nodes exempt only 127.0.0.1, the local load generator),
 * through nginx, against two node processes with their defaults. Each case asserts that the limit
 * holds and that nothing was changed by what it refused. `fleet-limits.test.ts` shows the other
 * side: a normal fleet trips none of them.
 */

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request through nginx from `from` (a loopback address other than 127.0.0.1). */
function http(
  cluster: TestCluster,
  from: string,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const { port } = new URL(cluster.url);
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        host: "127.0.0.1",
        port,
        method,
        path,
        localAddress: from,
        agent: false,
        headers: { ...(payload ? { "content-type": "application/json" } : {}), ...options.headers },
      },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          body += chunk;
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      },
    );
    request.on("error", reject);
    request.end(payload);
  });
}

const json = (answer: Answer) => JSON.parse(answer.body) as Record<string, unknown>;

interface Person {
  token: string;
  refreshToken: string;
  userId: string;
  email: string;
}

const PASSWORD = "correct horse battery";
let people = 0;

async function signUp(cluster: TestCluster, from: string): Promise<Person> {
  const email = `attacker-${++people}-${Date.now()}@example.test`;
  const answer = await http(cluster, from, "POST", "/api/auth/register", {
    body: { email, password: PASSWORD, displayName: "a" },
  });
  expect(answer.status).toBe(201);
  const body = json(answer) as { token: string; refreshToken: string; user: { id: string } };
  return { token: body.token, refreshToken: body.refreshToken, userId: body.user.id, email };
}

/** A websocket through nginx from `from`; resolves connected, or with the refusal's `err.data`. */
async function socketFrom(
  cluster: TestCluster,
  from: string,
  token: string,
  deviceId: string,
  extra: { origin?: string } = {},
): Promise<Socket | { code: string; message: string }> {
  const socket = connectClient(cluster.url, {
    auth: { token },
    query: { deviceId },
    transports: ["websocket"],
    reconnection: false,
    localAddress: from,
    ...(extra.origin ? { extraHeaders: { Origin: extra.origin } } : {}),
  } as Parameters<typeof connectClient>[1]);
  return await new Promise((resolve) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (error: Error & { data?: { code: string; message: string } }) => {
      socket.close();
      resolve(error.data ?? { code: "transport", message: error.message });
    });
  });
}

function connectedSocket(result: Socket | { code: string }): Socket {
  if (!("connected" in result)) throw new Error(`refused: ${JSON.stringify(result)}`);
  return result;
}

/** A newly registered device of the account, connected from `from`; throws when refused. */
async function newDeviceFrom(cluster: TestCluster, from: string, token: string): Promise<Socket> {
  return connectedSocket(await socketFrom(cluster, from, token, await registerDevice(cluster.url, token)));
}

/** The sum over every node's metrics port of the series of `name` with these labels. */
async function clusterTotal(cluster: TestCluster, name: string, labels: Record<string, string>): Promise<number> {
  let sum = 0;
  for (const node of cluster.nodes) {
    if (!node) continue;
    const text = await (await fetch(`${node.metricsUrl}/metrics`)).text();
    sum += total(parseSamples(text), name, labels);
  }
  return sum;
}

const limitsBitten = (cluster: TestCluster, limit: string) =>
  clusterTotal(cluster, "roadpulse_limits_total", { limit });
/** Client events of one name the nodes handled, whatever the outcome. */
const eventsHandled = (cluster: TestCluster, event: string) =>
  clusterTotal(cluster, "roadpulse_socket_events_total", { event });

describe("abuse through nginx, from another address", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster({
      nodes: 2,
      env: { ALLOWED_ORIGINS: "https://app.roadpulse.example", DOCS_ENABLED: "false" },
    });
  });
  afterAll(async () => {
    await cluster?.dispose();
  });

  it("a socket flooding events gets RATE_LIMITED acks, then is disconnected; /health stays up", async () => {
    const attacker = await signUp(cluster, "127.0.0.2");
    const socket = await newDeviceFrom(cluster, "127.0.0.2", attacker.token);
    onTestFinished(() => {
      socket.close();
    });
    const closed = new Promise<string>((resolve) => socket.once("disconnect", (reason) => resolve(reason)));
    const outcomes = { ok: 0, limited: 0, unanswered: 0 };
    const started = performance.now();
    const acks = Array.from({ length: 5_000 }, () =>
      socket
        .timeout(20_000)
        .emitWithAck("location:update", HERE)
        .then((ack: { ok: boolean; error?: { code: string } }) => {
          if (ack.ok) outcomes.ok += 1;
          else if (ack.error?.code === "RATE_LIMITED") outcomes.limited += 1;
        })
        .catch(() => {
          outcomes.unanswered += 1;
        }),
    );
    expect((await http(cluster, "127.0.0.1", "GET", "/health")).status).toBe(200);
    await Promise.all(acks);
    expect(await closed).toBe("io server disconnect");
    const seconds = (performance.now() - started) / 1000;
    // At most the burst (60) and the refill (20/s) while the flood lasted (fewer: at most 32 are
    // handled at once); everything else refused, or cut with the connection.
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(outcomes.ok).toBeLessThanOrEqual(60 + 20 * Math.ceil(seconds));
    expect(outcomes.limited).toBeGreaterThanOrEqual(100);
    expect(outcomes.ok + outcomes.limited + outcomes.unanswered).toBe(5_000);
    expect(await limitsBitten(cluster, "socket_abuse")).toBeGreaterThanOrEqual(1);
  });

  it("a client that stops reading gets short acks: 150 events of 100 KB buffer kilobytes, not megabytes", async () => {
    const attacker = await signUp(cluster, "127.0.0.11");
    const socket = await newDeviceFrom(cluster, "127.0.0.11", attacker.token);
    onTestFinished(() => {
      socket.close();
    });
    // Stop reading: whatever the node answers waits in the node's, nginx's and the kernel's buffers.
    const transport = socket.io.engine.transport as unknown as { ws: { _socket: NetSocket } };
    transport.ws._socket.pause();
    const before = await eventsHandled(cluster, "location:update");
    const acks: string[] = [];
    const answered = Array.from({ length: 150 }, () =>
      socket
        .timeout(60_000)
        .emitWithAck("location:update", { ...HERE, ["k".repeat(100_000)]: 1 })
        .then((ack: unknown) => {
          acks.push(JSON.stringify(ack));
        }),
    );
    // Every event reached a node and was answered there, into buffers nobody reads yet.
    await waitFor(
      "the node to answer all 150",
      async () => (await eventsHandled(cluster, "location:update")) - before >= 150,
    );
    transport.ws._socket.resume();
    await Promise.all(answered);
    // Every one answered (refused: invalid, or past the budget), each in a few hundred bytes.
    expect(acks).toHaveLength(150);
    expect(acks.every((ack) => ack.length < 600)).toBe(true);
    expect(acks.reduce((sum, ack) => sum + ack.length, 0)).toBeLessThan(150 * 600);
    expect(socket.connected).toBe(true);
  });

  it("password guessing waits, even for the right password; a burst of sign-ups is refused", async () => {
    const victim = await signUp(cluster, "127.0.0.3");
    const login = (password: string) =>
      http(cluster, "127.0.0.3", "POST", "/api/auth/login", { body: { email: victim.email, password } });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await login(`wrong guess ${i}`)).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    // Each guess once the wait is over doubles the next wait (1 s, 2 s, 4 s): two more of those.
    for (const wait of ["1 s", "2 s"]) {
      await waitFor(
        `the ${wait} wait to pass`,
        async () => (await login("another wrong guess")).status === 401,
        30_000,
        200,
      );
    }
    // Now 4 s must pass: the right password, at once, is refused all the same.
    const right = await login(PASSWORD);
    expect(right.status).toBe(429);
    expect(Number(right.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(json(right)).toMatchObject({ error: { code: "RATE_LIMITED" } });

    // 60 sign-ups a minute per address, all nodes together.
    const signups = await Promise.all(
      Array.from({ length: 70 }, (_, i) =>
        http(cluster, "127.0.0.4", "POST", "/api/auth/register", {
          body: { email: `burst-${i}-${Date.now()}@example.test`, password: PASSWORD, displayName: "b" },
        }),
      ),
    );
    const refused = signups.filter((answer) => answer.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(10);
    expect(signups.filter((answer) => answer.status === 201).length).toBeLessThanOrEqual(60);
    expect(json(refused[0] as Answer)).toMatchObject({ error: { code: "RATE_LIMITED" } });
  });

  it("a made-up device id, or another account's, is refused; an account's sockets are capped at 20", async () => {
    const [mallory, alice] = [await signUp(cluster, "127.0.0.5"), await signUp(cluster, "127.0.0.5")];
    const alicesDevice = await registerDevice(cluster.url, alice.token);
    for (const id of ["my-made-up-device-01", alicesDevice]) {
      expect(await socketFrom(cluster, "127.0.0.5", mallory.token, id)).toMatchObject({ code: "FORBIDDEN" });
    }
    const upload = await http(cluster, "127.0.0.5", "POST", "/api/observations", {
      body: { observations: [observation(HERE)] },
      headers: { authorization: `Bearer ${mallory.token}`, "x-device-id": alicesDevice },
    });
    expect(upload.status).toBe(403);

    const sockets: Socket[] = [];
    onTestFinished(() => {
      for (const socket of sockets) socket.close();
    });
    for (let i = 0; i < 20; i++) {
      sockets.push(await newDeviceFrom(cluster, "127.0.0.5", mallory.token));
    }
    expect(
      await socketFrom(cluster, "127.0.0.5", mallory.token, await registerDevice(cluster.url, mallory.token)),
    ).toMatchObject({ code: "RATE_LIMITED" });
  });

  it("unauthenticated Engine.IO sessions from one address are bounded", async () => {
    const opened = await Promise.all(
      Array.from({ length: 100 }, () => http(cluster, "127.0.0.6", "GET", "/socket.io/?EIO=4&transport=polling")),
    );
    const accepted = opened.filter((answer) => answer.status === 200).length;
    expect(accepted).toBeLessThanOrEqual(64);
    expect(opened.length - accepted).toBeGreaterThanOrEqual(36);
    expect(await limitsBitten(cluster, "pending_sessions")).toBeGreaterThanOrEqual(36);
  });

  it("a page of another origin gets no socket; headers, errors, /metrics and /docs are closed", async () => {
    const person = await signUp(cluster, "127.0.0.7");
    const deviceId = await registerDevice(cluster.url, person.token);
    expect(
      await socketFrom(cluster, "127.0.0.7", person.token, deviceId, { origin: "http://evil.example" }),
    ).not.toHaveProperty("connected");
    const allowed = connectedSocket(
      await socketFrom(cluster, "127.0.0.7", person.token, deviceId, { origin: "https://app.roadpulse.example" }),
    );
    // A validation error quotes at most a short excerpt of what it was sent.
    const ack = (await allowed.timeout(10_000).emitWithAck("location:update", {
      ...HERE,
      ["x".repeat(100_000)]: 1,
    })) as { ok: boolean; error: { code: string; message: string } };
    allowed.close();
    expect(ack).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED" } });
    expect(ack.error.message.length).toBeLessThan(400);

    const api = await http(cluster, "127.0.0.7", "GET", "/api/users/me", {
      headers: { authorization: `Bearer ${person.token}` },
    });
    expect(api.status).toBe(200);
    expect(api.headers["x-content-type-options"]).toBe("nosniff");
    expect(api.headers["x-frame-options"]).toBeDefined();
    expect(api.headers["content-security-policy"]).toBeDefined();
    expect((await http(cluster, "127.0.0.7", "GET", "/metrics")).status).toBe(404);
    expect((await http(cluster, "127.0.0.7", "GET", "/docs/json")).status).toBe(404);
  });

  it("one account's three devices can neither confirm a pothole nor vote it fixed", async () => {
    const mallory = await signUp(cluster, "127.0.0.10");
    const at = { latitude: 28.8012, longitude: 77.3034 };
    const phones: Socket[] = [];
    onTestFinished(() => {
      for (const phone of phones) phone.close();
    });
    for (let i = 0; i < 3; i++) {
      const phone = await newDeviceFrom(cluster, "127.0.0.10", mallory.token);
      phones.push(phone);
      const ack = await phone.timeout(20_000).emitWithAck("observations:submit", {
        observations: [observation(at, { event: "pothole" })],
      });
      expect(ack).toMatchObject({ ok: true, accepted: 1 });
    }
    const bbox = [at.longitude - 0.001, at.latitude - 0.001, at.longitude + 0.001, at.latitude + 0.001].join(",");
    type Hazard = { id: string; status: string; reports: number; reporters: number };
    const hazard = await waitFor("the three reports counted", async () => {
      const answer = await http(cluster, "127.0.0.10", "GET", `/api/hazards?bbox=${bbox}`);
      const [found] = (json(answer) as { items: Hazard[] }).items;
      return found?.reports === 3 ? found : undefined;
    });
    expect(hazard).toMatchObject({ status: "reported", reporters: 1 });
    for (const phone of phones) {
      const vote = (await phone
        .timeout(20_000)
        .emitWithAck("hazard:vote", { hazardId: hazard.id, stillThere: false })) as {
        hazard: Hazard;
      };
      expect(vote.hazard.status).toBe("reported");
    }
  });

  it("a stolen refresh token used after its owner ends the session for both", async () => {
    const owner = await signUp(cluster, "127.0.0.8");
    const refresh = (token: string) =>
      http(cluster, "127.0.0.9", "POST", "/api/auth/refresh", { body: { refreshToken: token } });
    // The owner's app refreshes as usual, twice; then the thief's copy of the first token comes.
    const once = await refresh(owner.refreshToken);
    const renewed = await refresh((json(once) as { refreshToken: string }).refreshToken);
    expect(renewed.status).toBe(200);
    const stolen = await refresh(owner.refreshToken);
    expect(stolen.status).toBe(401);
    const { token } = json(renewed) as { token: string };
    await waitFor("every node to refuse the session", async () => {
      // Different device ids: nginx hashes them to both nodes.
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          http(cluster, "127.0.0.8", "GET", `/api/users/me?deviceId=probe-${i}-${Date.now()}`, {
            headers: { authorization: `Bearer ${token}` },
          }),
        ),
      );
      expect(new Set(answers.map((answer) => answer.headers["x-node-id"])).size).toBe(2);
      return answers.every((answer) => answer.status === 401);
    });
  });
});
