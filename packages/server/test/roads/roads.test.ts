import { waitFor } from "@roadpulse/devstack";
import type { HazardSummary, SegmentSummary } from "@roadpulse/protocol";
import { MongoClient, ObjectId } from "mongodb";
import ngeohash from "ngeohash";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EXPIRY_MS } from "../../src/domain/hazard-rules.js";
import { segmentKey } from "../../src/domain/segment-key.js";
import { Keys } from "../../src/presence/keys.js";
import { connectDevice, dropDatabase, register, startTestNode, type TestNode } from "../support/env.js";
import { collect, emitWithAck, getJson, locate, observation, offset, submit } from "../support/roads.js";

const DAY = 24 * 3600 * 1000;

/** `minLon,minLat,maxLon,maxLat` around a point, `margin` degrees each way. */
function boxAround(at: { latitude: number; longitude: number }, margin: number): string {
  return [at.longitude - margin, at.latitude - margin, at.longitude + margin, at.latitude + margin]
    .map((v) => v.toFixed(6))
    .join(",");
}

describe("road data end to end (socket API, real FerretDB)", () => {
  let node: TestNode;
  let uri: string;
  let token: string;
  let clockShift = 0;
  const sockets: ClientSocket[] = [];
  const now = () => new Date(Date.now() + clockShift);

  beforeAll(async () => {
    node = await startTestNode({ ML_SERVICE_TOKEN: "ml-token-0123456789abcdef" }, { clock: now });
    uri = node.env.MONGODB_URI ?? "";
    token = (await register(node.url, "roads")).token;
  });
  afterEach(() => {
    clockShift = 0;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await node.close();
    await dropDatabase(uri);
  });

  /** A phone of the test's shared account (or of `as`), registered as the app does at first start. */
  async function device(_name: string, as = token): Promise<ClientSocket> {
    const socket = await connectDevice(node.url, as);
    sockets.push(socket);
    return socket;
  }

  /** A phone of an account of its own: another person. */
  async function person(name: string): Promise<ClientSocket> {
    return await device(name, (await register(node.url, name)).token);
  }

  /**
   * Runs `write` while another node holds the fold lock for 1.5 s (taken between this node's
   * rounds), and requires its answer to come only once that hold lapsed: the lock was set before
   * the hold's start is read, so it lapsed before start + 1.5 s, less a round trip.
   */
  async function afterAnotherNodesHold<T>(write: () => Promise<T>): Promise<T> {
    const redis = node.ctx.redis.client as NonNullable<typeof node.ctx.redis.client>;
    const holdMs = 1_500;
    const heldAt = await waitFor("the fold lock, between this node's rounds", async () =>
      (await redis.set(Keys.foldLock, "another-node", "PX", holdMs, "NX")) === "OK" ? performance.now() : undefined,
    );
    const answer = await write();
    expect(performance.now() - heldAt).toBeGreaterThanOrEqual(holdMs - 100);
    return answer;
  }

  async function segment(id: string, until: (s: SegmentSummary) => boolean): Promise<SegmentSummary> {
    return await waitFor(`segment ${id}`, async () => {
      const { status, body } = await getJson<SegmentSummary>(`${node.url}/api/segments/${id}`);
      return status === 200 && until(body) ? body : undefined;
    });
  }

  it("turns counted samples into class and confidence, confident only with 3 samples from 2 devices", async () => {
    const at = offset(0, 0);
    const id = segmentKey(at.latitude, at.longitude, 90);
    const watcher = await device("seg-watch");
    await locate(watcher, at);
    const updates = collect<SegmentSummary>(watcher, "segment:updated");

    const one = await device("seg-one");
    const two = await device("seg-two");
    const ack = await submit(one, [
      observation({ ...at, roughness: 4.5 }),
      observation({ ...at, roughness: 5.5, heading: 270 }), // the other direction: same road axis
      observation({ ...at, roughness: 40, speed: 2 }), // crawling: stored, not counted
      observation({ ...at, roughness: 40, speed: undefined }), // no speed: stored, not counted
    ]);
    expect(ack).toMatchObject({ ok: true, accepted: 4 });
    const early = await segment(id, (s) => s.samples === 4);
    expect(early).toMatchObject({
      count: 2,
      devices: 1,
      meanIri: 5,
      class: "poor",
      confident: false,
      smoothness: null,
    });

    await submit(two, [observation({ ...at, roughness: 5 })]);
    const settled = await segment(id, (s) => s.count === 3);
    expect(settled).toMatchObject({ samples: 5, devices: 2, class: "poor", confident: true, smoothness: "bad" });
    expect(settled.meanIri).toBeCloseTo(5, 12);
    expect(settled.confidence).toBeCloseTo((1.645 * 0.5) / Math.sqrt(3), 12);

    // One coalesced update per segment per round, ending with the confident state.
    await waitFor("the live update", () => updates.some((u) => u.id === id && u.confident));
    expect(updates.filter((u) => u.id === id)).toHaveLength(2);
    // A crossing road in the same cell is another segment.
    await submit(two, [observation({ ...at, heading: 0, roughness: 1 })]);
    expect(await segment(id.replace(".ew", ".ns"), (s) => s.count === 1)).toMatchObject({ class: "good" });
  });

  it("clusters pothole events within 15 m and confirms at 3 accounts; a neighbouring region hears it", async () => {
    const at = offset(5_000, 0);
    const region = ngeohash.encode(at.latitude, at.longitude, node.ctx.config.regionPrecision);
    // A device whose own region is a neighbour of the hazard's region, and one far away.
    const neighbourRegion = ngeohash.neighbors(region)[2] as string;
    const neighbourCentre = ngeohash.decode(neighbourRegion);
    const neighbour = await device("haz-neighbour");
    expect(await locate(neighbour, neighbourCentre)).toBe(neighbourRegion);
    const far = await device("haz-far");
    await locate(far, offset(20_000, 0));
    const heard = collect<HazardSummary>(neighbour, "hazard:updated");
    const farHeard = collect<HazardSummary>(far, "hazard:updated");

    const reporters = await Promise.all(["haz-a", "haz-b", "haz-c"].map(person));
    const first = await submit(reporters[0] as ClientSocket, [observation({ ...offset(5_000, 0), event: "pothole" })]);
    expect(first).toMatchObject({ ok: true, accepted: 1 });
    const opened = await waitFor("the hazard to open", () => heard.find((h) => h.status === "reported"));
    expect(opened).toMatchObject({ type: "pothole", reporters: 1, reports: 1 });

    // Same person again, 10 m away: joins, still one reporter. A bump, and a pothole 40 m off: new hazards.
    await submit(reporters[0] as ClientSocket, [
      observation({ ...offset(5_010, 0), event: "pothole" }),
      observation({ ...offset(5_000, 0), event: "bump" }),
      observation({ ...offset(5_040, 0), event: "pothole" }),
    ]);
    await submit(reporters[1] as ClientSocket, [observation({ ...offset(5_000, 12), event: "pothole" })]);
    await waitFor("two reporters on the hazard", () => heard.some((h) => h.id === opened.id && h.reporters === 2));
    expect(heard.filter((h) => h.id === opened.id).every((h) => h.status === "reported")).toBe(true);

    await submit(reporters[2] as ClientSocket, [observation({ ...offset(4_995, -5), event: "pothole" })]);
    const confirmed = await waitFor("confirmation", () =>
      heard.find((h) => h.id === opened.id && h.status === "confirmed"),
    );
    expect(confirmed).toMatchObject({ reporters: 3, reports: 4 });
    expect(farHeard).toEqual([]);

    const box = boxAround(at, 0.01);
    const all = await getJson<{ items: HazardSummary[] }>(`${node.url}/api/hazards?bbox=${box}`);
    expect(all.body.items.map((h) => [h.type, h.status]).sort()).toEqual([
      ["bump", "reported"],
      ["pothole", "confirmed"],
      ["pothole", "reported"],
    ]);
    const onlyConfirmed = await getJson<{ items: HazardSummary[] }>(
      `${node.url}/api/hazards?bbox=${box}&status=confirmed`,
    );
    expect(onlyConfirmed.body.items.map((h) => h.id)).toEqual([opened.id]);
  });

  it("marks a hazard fixed when 2 accounts say it is gone with no newer sighting", async () => {
    const at = offset(8_000, 0);
    const [a, b, c] = await Promise.all(["fix-a", "fix-b", "fix-c"].map(person));
    await submit(a as ClientSocket, [observation({ ...at, event: "bump" })]);
    const box = boxAround(at, 0.001);
    const hazard = await waitFor("the bump", async () => {
      const { body } = await getJson<{ items: HazardSummary[] }>(`${node.url}/api/hazards?bbox=${box}`);
      return body.items[0];
    });
    type VoteAck = { ok: boolean; hazard?: HazardSummary; error?: { code: string } };
    const vote = (socket: ClientSocket, stillThere: boolean) =>
      emitWithAck<VoteAck>(socket, "hazard:vote", { hazardId: hazard.id, stillThere });

    expect((await vote(b as ClientSocket, false)).hazard?.status).toBe("reported");
    // A newer sighting outweighs the earlier "gone" vote…
    clockShift = 1_000;
    expect((await vote(c as ClientSocket, true)).hazard).toMatchObject({ status: "reported", reporters: 2 });
    clockShift = 2_000;
    expect((await vote(a as ClientSocket, false)).hazard?.status).toBe("reported");
    // …so the earlier vote of b no longer counts: b saying "gone" again, after the sighting, makes two.
    clockShift = 3_000;
    expect((await vote(b as ClientSocket, false)).hazard?.status).toBe("fixed");
    const fixed = await getJson<{ items: HazardSummary[] }>(`${node.url}/api/hazards?bbox=${box}&status=fixed`);
    expect(fixed.body.items.map((h) => h.id)).toEqual([hazard.id]);

    expect(await vote(a as ClientSocket, true)).toMatchObject({ ok: true, hazard: { status: "fixed" } });
    const unknown = await emitWithAck<VoteAck>(a as ClientSocket, "hazard:vote", {
      hazardId: "0123456789abcdef01234567",
      stillThere: true,
    });
    expect(unknown).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    for (const bad of [
      { hazardId: { $gt: "" }, stillThere: true },
      { hazardId: hazard.id },
      { hazardId: "x", stillThere: 1 },
    ]) {
      expect(await emitWithAck<VoteAck>(a as ClientSocket, "hazard:vote", bad)).toMatchObject({
        ok: false,
        error: { code: "VALIDATION_FAILED" },
      });
    }
  });

  it("writes a vote between rounds: while another node holds the fold lock, the vote waits", async () => {
    const at = offset(12_500, 0);
    const [a, b] = await Promise.all(["lock-a", "lock-b"].map(person));
    await submit(a as ClientSocket, [observation({ ...at, event: "bump" })]);
    const box = boxAround(at, 0.001);
    const hazard = await waitFor("the bump", async () => {
      const { body } = await getJson<{ items: HazardSummary[] }>(`${node.url}/api/hazards?bbox=${box}`);
      return body.items[0];
    });
    // A round folding reports into this hazard meanwhile could lose them, or the vote, on FerretDB.
    const ack = await afterAnotherNodesHold(() =>
      emitWithAck<{ ok: boolean; hazard?: HazardSummary }>(b as ClientSocket, "hazard:vote", {
        hazardId: hazard.id,
        stillThere: true,
      }),
    );
    expect(ack).toMatchObject({ ok: true, hazard: { id: hazard.id, reporters: 2 } });
  });

  it("counts one account once, however many devices it registers: no confirming or fixing alone", async () => {
    const at = offset(9_500, 0);
    const account = await register(node.url, "one-person");
    const phones = await Promise.all(["p1", "p2", "p3"].map((name) => device(name, account.token)));
    for (const phone of phones) {
      expect(await submit(phone, [observation({ ...at, event: "pothole" })])).toMatchObject({ ok: true, accepted: 1 });
    }
    const box = boxAround(at, 0.001);
    const hazard = await waitFor("the three reports counted", async () => {
      const { body } = await getJson<{ items: HazardSummary[] }>(`${node.url}/api/hazards?bbox=${box}`);
      return body.items[0]?.reports === 3 ? body.items[0] : undefined;
    });
    expect(hazard).toMatchObject({ status: "reported", reporters: 1 });

    // Two others confirm it; then the one account votes "gone" from each of its phones, over and over.
    const [other1, other2] = await Promise.all(["o1", "o2"].map(person));
    for (const other of [other1, other2])
      await submit(other as ClientSocket, [observation({ ...at, event: "pothole" })]);
    await waitFor("confirmation by three accounts", async () => {
      const { body } = await getJson<{ items: HazardSummary[] }>(
        `${node.url}/api/hazards?bbox=${box}&status=confirmed`,
      );
      return body.items.find((h) => h.id === hazard.id);
    });
    type VoteAck = { ok: boolean; hazard?: HazardSummary };
    for (let round = 1; round <= 3; round++) {
      clockShift = round * 1_000;
      for (const phone of phones) {
        const ack = await emitWithAck<VoteAck>(phone, "hazard:vote", { hazardId: hazard.id, stillThere: false });
        expect(ack.hazard?.status).toBe("confirmed");
      }
    }
    const stored = await new MongoClient(uri).connect().then(async (client) => {
      try {
        return await client
          .db()
          .collection("hazards")
          .findOne({ _id: new ObjectId(hazard.id) });
      } finally {
        await client.close();
      }
    });
    expect(Object.keys(stored?.fixVotes ?? {})).toEqual([account.userId]);
    // A second person saying "gone" makes two: fixed.
    clockShift = 4_000;
    const ack = await emitWithAck<VoteAck>(other1 as ClientSocket, "hazard:vote", {
      hazardId: hazard.id,
      stillThere: false,
    });
    expect(ack.hazard?.status).toBe("fixed");
  });

  it("expires a hazard 90 days after its last sighting; a later event opens a new one", async () => {
    const at = offset(11_000, 0);
    const watcher = await device("exp-watch");
    await locate(watcher, at);
    const heard = collect<HazardSummary>(watcher, "hazard:updated");
    const reporter = await device("exp-a");
    await submit(reporter, [observation({ ...at, event: "pothole" })]);
    const opened = await waitFor("the hazard", () => heard[0]);
    const box = boxAround(at, 0.001);

    clockShift = EXPIRY_MS - 60_000;
    expect(
      (await getJson<{ items: HazardSummary[] }>(`${node.url}/api/hazards?bbox=${box}&status=reported`)).body.items,
    ).toHaveLength(1);
    clockShift = EXPIRY_MS + DAY;
    const expired = await getJson<{ items: HazardSummary[] }>(`${node.url}/api/hazards?bbox=${box}&status=expired`);
    expect(expired.body.items.map((h) => [h.id, h.status])).toEqual([[opened.id, "expired"]]);
    expect(
      (await getJson<{ items: unknown[] }>(`${node.url}/api/hazards?bbox=${box}&status=reported`)).body.items,
    ).toEqual([]);

    // The sweep stores the transition once and announces it (other tests' hazards expire too).
    expect(await node.services.roads.hazards.expireDue()).toBeGreaterThanOrEqual(1);
    expect(await node.services.roads.hazards.expireDue()).toBe(0);
    await waitFor("the expiry announcement", () => heard.some((h) => h.id === opened.id && h.status === "expired"));

    await submit(reporter, [observation({ ...at, event: "pothole" }, now())]);
    const reopened = await waitFor("a new hazard", () => heard.find((h) => h.id !== opened.id));
    expect(reopened.status).toBe("reported");
  });

  it("places a hazard at the centroid of its reports, not at its first one", async () => {
    const truth = offset(7_000, 0);
    const listener = await device("pos-listener");
    await locate(listener, truth);
    const heard = collect<HazardSummary>(listener, "hazard:updated");
    // The first report is 6 m off; four more devices report around the pothole.
    const reports = [offset(7_006, 0), offset(6_998, 3), offset(6_999, -3), offset(7_000, 2), offset(6_997, -2)];
    for (const [i, at] of reports.entries()) {
      const reporter = await device(`pos-${i}`);
      expect(await submit(reporter, [observation({ ...at, event: "pothole" })])).toMatchObject({ ok: true });
      await waitFor(`report ${i + 1} folded in`, () => heard.some((h) => h.reports === i + 1));
    }
    const hazard = heard.find((h) => h.reports === reports.length) as HazardSummary;
    expect(new Set(heard.map((h) => h.id)).size).toBe(1);
    const metresOff = (h: { latitude: number; longitude: number }) =>
      Math.hypot(
        (h.latitude - truth.latitude) * 111_195,
        (h.longitude - truth.longitude) * 111_195 * Math.cos((truth.latitude * Math.PI) / 180),
      );
    expect(metresOff(hazard)).toBeLessThan(1.5);
    const stored = await getJson<{ items: HazardSummary[] }>(`${node.url}/api/hazards?bbox=${boxAround(truth, 0.001)}`);
    expect(stored.body.items.map((h) => [h.id, h.latitude, h.longitude])).toEqual([
      [hazard.id, hazard.latitude, hazard.longitude],
    ]);
  });

  it("serves segments by bbox and geohash with pagination, exports GeoJSON and CSV, and daily history", async () => {
    const socket = await device("read");
    const points = Array.from({ length: 5 }, (_, i) => offset(14_000, i * 50));
    await submit(
      socket,
      points.map((p, i) => observation({ ...p, roughness: i + 1 })),
    );
    const ids = points.map((p) => segmentKey(p.latitude, p.longitude, 90)).sort();
    for (const id of ids) await segment(id, (s) => s.count === 1);
    const lats = points.map((p) => p.latitude);
    const lons = points.map((p) => p.longitude);
    // Exactly as a map client spells it (`map.getBounds().toBBoxString()`): every double in full.
    const box = [
      Math.min(...lons) - 0.000512345678901,
      Math.min(...lats) - 0.000512345678901,
      Math.max(...lons) + 0.000512345678901,
      Math.max(...lats) + 0.000512345678901,
    ].join(",");
    expect(box.length).toBeGreaterThan(64);

    const seen: string[] = [];
    let after: string | null = null;
    do {
      const query: string = `bbox=${box}&limit=2${after ? `&after=${after}` : ""}`;
      const res = await getJson<{ items: SegmentSummary[]; next: string | null }>(`${node.url}/api/segments?${query}`);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((s) => s.id));
      after = res.body.next;
    } while (after !== null);
    expect(seen).toEqual(ids);

    const prefix = (ids[0] as string).slice(0, 6);
    const byGeohash = await getJson<{ items: SegmentSummary[] }>(
      `${node.url}/api/segments?geohash=${prefix}&limit=500`,
    );
    expect(byGeohash.body.items.every((s) => s.id.startsWith(prefix))).toBe(true);
    expect(byGeohash.body.items.length).toBeGreaterThan(0);

    const geojson = await fetch(`${node.url}/api/export/segments.geojson?bbox=${box}&limit=3`);
    expect(geojson.headers.get("content-type")).toContain("application/geo+json");
    expect(geojson.headers.get("link")).toMatch(/rel="next"/);
    const collection = (await geojson.json()) as { type: string; features: Array<Record<string, unknown>> };
    expect(collection.type).toBe("FeatureCollection");
    expect(collection.features).toHaveLength(3);
    expect(collection.features[0]).toMatchObject({ type: "Feature", geometry: { type: "Point" } });

    const csv = await fetch(`${node.url}/api/export/segments.csv?bbox=${box}`);
    expect(csv.headers.get("content-type")).toContain("text/csv");
    const lines = (await csv.text()).trim().split("\n");
    expect(lines[0]).toBe(
      "id,latitude,longitude,axis,samples,count,devices,meanIri,class,confidence,confident,smoothness,lastObservedAt",
    );
    expect(lines.slice(1).map((l) => l.split(",")[0])).toEqual(ids);

    const region = ngeohash.encode(points[0]?.latitude ?? 0, points[0]?.longitude ?? 0, 5);
    const today = now().toISOString().slice(0, 10);
    const daily = await getJson<{ items: Array<Record<string, unknown>> }>(
      `${node.url}/api/analytics/daily?region=${region}&from=${today}&to=${today}`,
    );
    expect(daily.status).toBe(200);
    expect(daily.body.items[0]).toMatchObject({
      day: today,
      observations: expect.any(Number),
      potholes: expect.any(Number),
    });
  });

  it.each([
    ["an operator in a query key", "/api/segments?bbox[$gt]="],
    ["an unknown parameter", "/api/segments?geohash=u3bu&admin=1"],
    ["both bbox and geohash", "/api/segments?geohash=u3bu&bbox=12,55,12.1,55.1"],
    ["neither", "/api/segments"],
    ["a box that is too large", "/api/segments?bbox=12,55,13,56"],
    ["a box of too large an area", "/api/segments?bbox=12,55,12.9,55.9"],
    ["a box too long on one side", "/api/segments?bbox=12,55,13.5,55.01"],
    ["a box upside down", "/api/segments?bbox=12.1,55,12,55.1"],
    ["a box outside the world", "/api/hazards?bbox=179.9,89.9,180.1,90.1"],
    ["text where the box goes", "/api/hazards?bbox=everything"],
    ["NaN in the box", "/api/hazards?bbox=NaN,1,2,3"],
    ["an unknown status", "/api/hazards?bbox=12,55,12.1,55.1&status=gone"],
    ["a limit above the hard limit", "/api/segments?geohash=u3bu&limit=501"],
    ["a negative limit", "/api/segments?geohash=u3bu&limit=-1"],
    ["a bad cursor", "/api/segments?geohash=u3bu&after=%7B%22%24gt%22%3A%22%22%7D"],
    ["a bad segment id", "/api/segments/not-a-key"],
    ["a bad region", "/api/analytics/daily?region=u3b&from=2026-01-01&to=2026-01-02"],
    ["a reversed range", "/api/analytics/daily?region=u3but&from=2026-01-02&to=2026-01-01"],
    ["a range over a year", "/api/analytics/daily?region=u3but&from=2024-01-01&to=2026-01-01"],
    ["a non-date", "/api/analytics/daily?region=u3but&from=2026-13-45&to=2026-01-01"],
  ])("refuses %s with a clear 400", async (_what, path) => {
    const { status, body } = await getJson(`${node.url}${path}`);
    expect(status).toBe(400);
    expect(body).toEqual({ error: { code: "VALIDATION_FAILED", message: expect.any(String) } });
  });

  it("answers 404 for a segment without data", async () => {
    expect((await getJson(`${node.url}/api/segments/u3butzzz.x`)).status).toBe(404);
  });

  it("stores ML scores on segments behind the service token and pushes them live", async () => {
    const at = offset(17_000, 0);
    const id = segmentKey(at.latitude, at.longitude, 90);
    const socket = await device("ml");
    await locate(socket, at);
    await submit(socket, [observation({ ...at })]);
    await segment(id, (s) => s.samples === 1);
    const updates = collect<SegmentSummary>(socket, "segment:updated");
    const post = (body: unknown, auth = "Bearer ml-token-0123456789abcdef") =>
      fetch(`${node.url}/api/ml/segment-scores`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: auth },
        body: JSON.stringify(body),
      });
    const scores = {
      scores: [
        { segmentId: id, score: 0.8, model: "rough-v2" },
        { segmentId: "u3butzzz.x", score: 0.1, model: "rough-v2" },
      ],
    };
    expect((await post(scores, "Bearer wrong")).status).toBe(401);
    expect((await post(scores, "")).status).toBe(401);
    expect((await post({ scores: [{ segmentId: id, score: 2, model: "m" }] })).status).toBe(400);
    expect((await post({ scores: [{ segmentId: { $gt: "" }, score: 0.5, model: "m" }] })).status).toBe(400);
    const stored = await post(scores);
    expect(stored.status).toBe(200);
    expect(await stored.json()).toEqual({ updated: 1, unknown: ["u3butzzz.x"] });
    expect((await segment(id, (s) => s.ml !== null)).ml).toMatchObject({ score: 0.8, model: "rough-v2" });
    await waitFor("the live ML update", () => updates.some((u) => u.id === id && u.ml?.model === "rough-v2"));

    // While another node holds the fold lock (a round folding into segments), a score waits for
    // it: written meanwhile, its rewrite of the segment could undo that round's counts on FerretDB.
    const rescored = await afterAnotherNodesHold(() =>
      post({ scores: [{ segmentId: id, score: 0.3, model: "rough-v3" }] }),
    );
    expect(rescored.status).toBe(200);
    expect((await segment(id, (s) => s.ml?.model === "rough-v3")).ml).toMatchObject({ score: 0.3 });
  });

  it("refuses the ML hook on a node without a service token", async () => {
    const other = await startTestNode({ MONGODB_URI: uri });
    try {
      const response = await fetch(`${other.url}/api/ml/segment-scores`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer anything-at-all-here" },
        body: JSON.stringify({ scores: [{ segmentId: "u3butzxb.ew", score: 0.5, model: "m" }] }),
      });
      expect(response.status).toBe(403);
    } finally {
      await other.close();
    }
  });
});
