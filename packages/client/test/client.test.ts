import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "@roadpulse/devstack";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { pauseStore, startTestCluster, type TestCluster } from "../../server/test/support/cluster.js";
import { FileStorage } from "../src/file-storage.js";
import { type CallReport, LoginSession, RoadPulseClient, type TokenSource } from "../src/index.js";

const HERE = { latitude: 28.7037, longitude: 77.2079 };

/** Observations of a drive east along one road, recorded now. */
function drive(count: number, from = 0) {
  return Array.from({ length: count }, (_, i) => ({
    latitude: HERE.latitude,
    longitude: HERE.longitude + (from + i) * 0.00005,
    recordedAt: new Date().toISOString(),
    roughness: 3 + (i % 5) * 0.5,
    speed: 12,
    heading: 90,
  }));
}

/**
 * The SDK against a real cluster (two node processes behind nginx, 10 s access tokens): batches
 * queued while a device's node is dead, and across a restart of the app, all end up stored exactly
 * once; the session renews its tokens by itself, so reconnections long after login still get in.
 */
describe("@roadpulse/client against a cluster", () => {
  let cluster: TestCluster;
  let mongo: MongoClient;
  const dir = mkdtempSync(join(tmpdir(), "roadpulse-client-"));
  beforeAll(async () => {
    cluster = await startTestCluster({ nodes: 2, env: { ACCESS_TOKEN_TTL_SECONDS: "10" } });
    mongo = await MongoClient.connect(cluster.mongoUri);
  });
  afterAll(async () => {
    await mongo?.close();
    await cluster?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  async function session(): Promise<LoginSession> {
    const login = await LoginSession.register(cluster.url, {
      email: `sdk-${randomBytes(4).toString("hex")}@example.test`,
      password: "correct horse battery staple",
      displayName: "sdk",
    });
    onTestFinished(() => login.close());
    return login;
  }

  async function stored(ids: string[]): Promise<number> {
    return await mongo
      .db()
      .collection("observations")
      .countDocuments({ _id: { $in: ids as never[] } });
  }

  it("keeps batches through its node's death and past several token lifetimes; each is stored once", async () => {
    const login = await session();
    const deviceId = await login.registerDevice();
    const client = await RoadPulseClient.connect({ url: cluster.url, session: login, deviceId, ackTimeoutMs: 5_000 });
    onTestFinished(() => client.close());
    await waitFor("the client to connect", () => client.connected);
    const ids: string[] = [];
    const settled: Array<{ observations: number; error?: unknown }> = [];
    client.on("batch:settled", (batch) => settled.push(batch));
    const submit = async (from: number) => {
      const batch = drive(5, from).map((o) => ({ ...o, id: globalThis.crypto.randomUUID() }));
      ids.push(...batch.map((o) => o.id));
      await client.submit(batch);
    };
    for (let i = 0; i < 10; i++) await submit(i * 5);
    await waitFor("the first batches acked", () => settled.length === 10, 30_000);

    // The node serving the device dies; the app keeps submitting meanwhile.
    const response = await fetch(`${cluster.url}/health?deviceId=${encodeURIComponent(deviceId)}`);
    const nodeId = response.headers.get("x-node-id");
    const victim = [0, 1].find((i) => cluster.node(i).nodeId === nodeId) as number;
    await cluster.kill(victim);
    await waitFor("the client to notice", () => !client.connected, 20_000);
    for (let i = 10; i < 20; i++) await submit(i * 5);
    expect(client.queued).toBeGreaterThan(0);

    // Back through nginx to the other node, after the 10 s access token has been renewed.
    await new Promise((resolve) => setTimeout(resolve, 12_000));
    await waitFor("the client to reconnect", () => client.connected, 30_000);
    await waitFor("every batch acked", () => settled.length === 20 && client.queued === 0, 60_000);
    expect(settled.filter((batch) => batch.error !== undefined)).toEqual([]);
    expect(await stored(ids)).toBe(ids.length);
    expect((await client.heartbeat()).serverTime).toBeTruthy();
  });

  it("resends what an app closed with, from its storage, at its next start", async () => {
    const login = await session();
    const deviceId = await login.registerDevice();
    const storage = new FileStorage(join(dir, "queue.json"));
    const offline = await RoadPulseClient.connect({ url: "http://127.0.0.1:9", session: login, deviceId, storage });
    const batch = drive(5).map((o) => ({ ...o, id: globalThis.crypto.randomUUID() }));
    await offline.submit(batch);
    await offline.submit(batch.slice(0, 2)); // the same ids again: stored once all the same
    offline.close();
    expect((await storage.load()).length).toBe(2);

    const restarted = await RoadPulseClient.connect({ url: cluster.url, session: login, deviceId, storage });
    onTestFinished(() => restarted.close());
    expect(restarted.queued).toBe(2);
    await waitFor("the queue to drain", () => restarted.queued === 0, 30_000);
    expect(await storage.load()).toEqual([]);
    expect(await stored(batch.map((o) => o.id))).toBe(5);
  });

  it("says why a refused device cannot connect", async () => {
    const login = await session();
    const client = await RoadPulseClient.connect({ url: cluster.url, session: login, deviceId: "made-up-device-id" });
    onTestFinished(() => client.close());
    const errors: string[] = [];
    client.on("error", (error) => errors.push(error.code));
    await waitFor("the refusal", () => errors.length > 0, 20_000);
    expect(errors[0]).toBe("FORBIDDEN");
    expect(client.connected).toBe(false);
  });

  it("reports every attempt to call:settled, shares one token source between devices, passes socket options", async () => {
    const login = await session();
    // Two devices of one account reading one token source (a LoginSession is one too).
    const shared: TokenSource = {
      get token() {
        return login.token;
      },
      refresh: () => login.refresh(),
    };
    const clients = await Promise.all(
      [0, 1].map(async (i) =>
        RoadPulseClient.connect({
          url: cluster.url,
          session: shared,
          deviceId: await login.registerDevice(),
          socket: {
            transports: i === 0 ? ["websocket"] : ["polling"],
            reconnectionDelayMax: 2_000,
            query: { app: "t" },
          },
        }),
      ),
    );
    for (const client of clients) onTestFinished(() => client.close());
    const [device, other] = clients as [RoadPulseClient, RoadPulseClient];
    await waitFor("both devices to connect", () => device.connected && other.connected);
    expect(other.socket.io.engine.transport.name).toBe("polling");
    expect(device.socket.io.opts.reconnectionDelayMax).toBe(2_000);

    const reports: CallReport[] = [];
    device.on("call:settled", (report) => reports.push(report));
    const settled: Array<{ ids: string[]; accepted?: number }> = [];
    device.on("batch:settled", ({ batch, ack }) =>
      settled.push({ ids: batch.observations.map((o) => o.id), accepted: ack?.accepted }),
    );
    await device.submit(drive(3));
    expect(device.inFlight).toBe(1);
    await waitFor("the batch acked", () => settled.length === 1);
    expect(settled[0]?.accepted).toBe(3);
    const submitted = reports.find((r) => r.event === "observations:submit");
    expect(submitted).toMatchObject({ attempt: 1, outcome: "ok" });
    expect(submitted?.batch?.observations.map((o) => o.id)).toEqual(settled[0]?.ids);
    expect(submitted?.ms).toBeGreaterThan(0);

    // A call cut by the loss of the connection fails as NETWORK, not as a timeout.
    const location = device.location({ ...HERE, speed: 10, heading: 90 });
    device.socket.disconnect();
    await expect(location).rejects.toMatchObject({ code: "NETWORK" });
    expect(reports.at(-1)).toMatchObject({ event: "location:update", outcome: "interrupted" });
    expect((await other.heartbeat()).serverTime).toBeTruthy();
  });
});

/**
 * Catch-up after a reconnect while the store does not answer: the device keeps sending its
 * locations (Redis serves them), and retries its catch-up with a later one, backing off, instead of
 * asking the struggling store again at every location (a fleet back together did that).
 */
describe("@roadpulse/client catching up while the store is away", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    // A store of this file's own (it is paused with SIGSTOP); reads give up after 1 s.
    cluster = await startTestCluster({ nodes: 1, store: "sqlite", env: { MONGODB_TIMEOUT_MS: "1000" } });
  });
  afterAll(async () => {
    await cluster?.dispose();
  });

  it("retries a failed catch-up with later locations, backing off", async () => {
    const login = await LoginSession.register(cluster.url, {
      email: `sdk-sync-${randomBytes(4).toString("hex")}@example.test`,
      password: "correct horse battery staple",
      displayName: "sdk",
    });
    onTestFinished(() => login.close());
    const device = await RoadPulseClient.connect({
      url: cluster.url,
      session: login,
      deviceId: await login.registerDevice(),
      socket: { reconnectionDelayMax: 1_000 },
    });
    onTestFinished(() => device.close());
    const syncs: CallReport[] = [];
    let cursorSet = false;
    device.on("call:settled", (report) => {
      if (report.event === "region:sync") syncs.push(report);
      // The first connection's heartbeat sets the cursor: once back, the device is due a catch-up.
      if (report.event === "heartbeat" && report.outcome === "ok") cursorSet = true;
    });
    await waitFor("the device to connect and hold a cursor", () => device.connected && cursorSet);
    device.socket.disconnect().connect();
    await waitFor("the device to reconnect", () => device.connected);

    const resume = pauseStore(cluster);
    const here = { ...HERE, speed: 10, heading: 90 };

    // 12 s of locations, 5 a second: the first one starts a catch-up, which fails (the store does
    // not answer within its deadline). Retried at the next location, that was a try every 1–2 s.
    const until = Date.now() + 12_000;
    while (Date.now() < until) {
      expect((await device.location(here)).regionId).toBeTruthy();
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(syncs.length).toBeGreaterThanOrEqual(1);
    expect(syncs.every((report) => report.outcome !== "ok")).toBe(true);
    // Backing off 2.5–5 s after the first failure, 5–10 s after the second, 10–20 s after the
    // third: at most 3 tries in 12 s, however fast each fails.
    expect(syncs.length).toBeLessThanOrEqual(3);

    // The store is back: the next try, with a later location, catches up.
    resume();
    await waitFor(
      "the catch-up to succeed",
      async () => {
        await device.location(here);
        return syncs.at(-1)?.outcome === "ok";
      },
      30_000,
      500,
    );
  });
});
