import { waitFor } from "@roadpulse/devstack";
import type { HazardSummary } from "@roadpulse/protocol";
import { MongoClient } from "mongodb";
import { afterEach, describe, expect, it } from "vitest";
import type { HazardDoc } from "../../src/store/hazards.js";
import type { ObservationDoc } from "../../src/store/observations.js";
import { connectDevice, dropDatabase, mongoUri, register, startTestNode, uniqueDbName } from "../support/env.js";
import { getJson, observation, spot, storedObservation, submit } from "../support/roads.js";

/** Passes counted in a round, over all hazards. */
function total(passes: ReadonlyMap<string, number>): number {
  return [...passes.values()].reduce((sum, n) => sum + n, 0);
}

/** A stored observation of a device (its account's own), a pothole report with `event`. */
function stored(
  at: { latitude: number; longitude: number },
  device: string,
  recordedAt: Date,
  event?: "pothole",
  receivedAt = recordedAt,
): ObservationDoc {
  return storedObservation({
    at,
    account: `account-of-${device}`,
    device,
    recordedAt,
    receivedAt,
    ...(event ? { event } : {}),
  });
}

describe("passes by hazards, and the share of them that must report one (real Redis and FerretDB)", () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A node on a database of its own, and that database's `hazards` as the test reads it. */
  async function nodeWithStore() {
    const uri = mongoUri(uniqueDbName("passes"));
    const node = await startTestNode({ MONGODB_URI: uri });
    cleanups.push(() => dropDatabase(uri));
    cleanups.push(() => node.close());
    const client = new MongoClient(uri);
    cleanups.push(() => client.close());
    const redis = node.ctx.redis.client as NonNullable<typeof node.ctx.redis.client>;
    /** A hazard's pass total as the nodes share it in Redis; null when none is kept. */
    const passesOf = async (doc: HazardDoc | undefined) => {
      const total = await redis.get(`hazards:passes:${doc?._id.toHexString()}`);
      return total === null ? null : Number(total);
    };
    return { node, hazards: client.db().collection<HazardDoc>("hazards"), passesOf };
  }

  it("confirms a hazard by three accounts only when one in 5 of the devices passing it reported it", async () => {
    const { node, hazards, passesOf } = await nodeWithStore();
    const { hazards: tracker, passes } = node.services.roads;
    // Somewhere in Finland, away from the other tests' places, new for every run.
    const base = { latitude: 61 + Math.random() * 3, longitude: 22 + Math.random() * 6 };
    const start = Date.now() - 30 * 60_000;
    const at = (ms: number) => new Date(start + ms);
    const now = new Date();
    /** One observation per device, devices `from`..`from + count - 1`, around `place`. */
    const drive = (place: { latitude: number; longitude: number }, count: number, ms: number, from = 0) =>
      Array.from({ length: count }, (_, i) =>
        stored(spot(place, ((from + i) % 7) - 3, ((from + i) % 5) - 2), `device-${from + i}`, at(ms)),
      );

    // A place phones report by mistake: one report, then 100 devices drive past without reporting.
    const mistake = spot(base, 0);
    const [opened] = await tracker.applyEvents([stored(mistake, "reporter-1", at(0), "pothole")], now);
    expect(total(await passes.count(drive(mistake, 100, 1_000)))).toBe(100);
    // Two more accounts report it: three accounts, but 3 reports in 100 passes, under one in 5.
    await tracker.applyEvents(
      [
        stored(spot(mistake, 2), "reporter-2", at(2_000), "pothole"),
        stored(spot(mistake, -1, 1), "reporter-3", at(3_000), "pothole"),
      ],
      now,
    );
    expect(await hazards.findOne({ _id: opened?._id })).toMatchObject({ reports: 3, status: "reported" });
    expect(await passesOf(opened)).toBe(100);

    // A device seen near it again within a minute is the same pass; later, another one; 45 m off,
    // none (the road beside it).
    expect(total(await passes.count(drive(mistake, 100, 40_000)))).toBe(0);
    // A round's count answers with the totals of the hazards it passed, and never writes the
    // hazard itself: votes and reports write it at any time, and FerretDB may lose one of two
    // updates of a document at once.
    const unwritten = await hazards.findOne({ _id: opened?._id });
    expect(await passes.count(drive(mistake, 100, 200_000))).toEqual(new Map([[opened?._id.toHexString(), 200]]));
    expect(await hazards.findOne({ _id: opened?._id })).toEqual(unwritten);
    expect(total(await passes.count(drive(spot(mistake, 45), 100, 400_000, 1_000)))).toBe(0);
    expect(await hazards.findOne({ _id: opened?._id })).toMatchObject({ status: "reported" });
    expect(await passesOf(opened)).toBe(200);

    // A real pothole, 1 km on: 20 devices pass it and 4 accounts report it, one in 5.
    const pothole = spot(base, 1_000);
    const [real] = await tracker.applyEvents([stored(pothole, "reporter-1", at(0), "pothole")], now);
    expect(total(await passes.count(drive(pothole, 20, 1_000)))).toBe(20);
    await tracker.applyEvents(
      [2, 3, 4].map((n) => stored(spot(pothole, n - 3, 1), `reporter-${n}`, at(1_000 + n), "pothole")),
      now,
    );
    expect(await hazards.findOne({ _id: real?._id })).toMatchObject({ reports: 4, status: "confirmed" });
    // Confirmed, its count is no longer kept: it can change nothing.
    expect(await passesOf(real)).toBeNull();
    // Confirmed stays confirmed, however many pass it afterwards.
    expect(total(await passes.count(drive(pothole, 200, 100_000, 100)))).toBe(200);
    await tracker.applyEvents([stored(spot(pothole, 1), "reporter-5", at(100_000), "pothole")], now);
    expect(await hazards.findOne({ _id: real?._id })).toMatchObject({ reports: 5, status: "confirmed" });
    // Once the node has settled it confirmed (its aggregator tells it so), its passes are no
    // longer counted or written.
    const settled = (await hazards.findOne({ _id: real?._id })) as HazardDoc;
    passes.noteStatuses([settled]);
    expect(total(await passes.count(drive(pothole, 50, 300_000, 400)))).toBe(0);
    expect(await passesOf(real)).toBe(200);

    // A hazard the node learns of after its devices passed the place: 2 km on, 50 devices pass a
    // place with no hazard (yet), then somebody reports a pothole there (on another node, say).
    const late = spot(base, 2_000);
    const received = () => new Date();
    const before = drive(late, 50, 500_000, 2_000).map((o) => ({ ...o, receivedAt: received() }));
    expect(total(await passes.count(before))).toBe(0);
    const [lateHazard] = await tracker.applyEvents(
      [stored(late, "reporter-1", at(500_500), "pothole", received())],
      now,
    );
    // The node's next round near it finds it: those 50 passes count, and the new one.
    const next = [stored(spot(late, 1), "device-9999", at(501_000), undefined, received())];
    expect(total(await passes.count(next))).toBe(51);
    expect(await passesOf(lateHazard)).toBe(51);

    // A device's observations through the socket are counted by the node's own rounds.
    const account = await register(node.url, "passer");
    const socket = await connectDevice(node.url, account.token);
    cleanups.push(() => socket.close());
    const ack = await submit(socket, [observation({ ...spot(mistake, 3), recordedAt: new Date().toISOString() })]);
    expect(ack.ok).toBe(true);
    await waitFor("the socket's pass counted", async () => ((await passesOf(opened)) ?? 0) >= 201);
  });

  it("judges a hazard its round opened with the devices that passed it meanwhile", async () => {
    const { node, hazards, passesOf } = await nodeWithStore();
    const place = { latitude: 61 + Math.random() * 3, longitude: 22 + Math.random() * 6 };
    const device = async (name: string) => {
      const account = await register(node.url, name);
      const socket = await connectDevice(node.url, account.token);
      cleanups.push(() => socket.close());
      return socket;
    };
    // A rush: 16 devices drive over a place with no pothole, then 3 of the next ones (3 accounts)
    // report one there by mistake, possibly all in one round, which opens the hazard.
    const passers = await Promise.all(Array.from({ length: 16 }, (_, i) => device(`passer-${i}`)));
    const reporters = await Promise.all([1, 2, 3].map((i) => device(`reporter-${i}`)));
    const at = (north: number) => ({ ...spot(place, north), recordedAt: new Date().toISOString() });
    for (const [i, socket] of passers.entries()) expect((await submit(socket, [observation(at(i % 5))])).ok).toBe(true);
    const acks = await Promise.all(
      reporters.map((socket, i) => submit(socket, [observation(at(i)), observation({ ...at(i), event: "pothole" })])),
    );
    expect(acks.every((ack) => ack.ok)).toBe(true);
    await waitFor("the three reports counted", async () => {
      const found = (await hazards.findOne({})) ?? undefined;
      return (found?.reports ?? 0) >= 3 && ((await passesOf(found)) ?? 0) >= 19;
    });
    // Its status is settled once the round's passes are counted: wait for that too.
    await node.services.roads.aggregator.idle();
    const doc = (await hazards.findOne({})) as HazardDoc;
    // 19 devices passed (the reporters too), 3 reported: under one in 5, so not confirmed.
    expect(doc).toMatchObject({ reports: 3, status: "reported" });
    expect(await passesOf(doc)).toBe(19);
    expect(doc.reporters).toHaveLength(3);
    // Reads say so too, though its three accounts alone would confirm it.
    const box = [place.longitude - 0.01, place.latitude - 0.01, place.longitude + 0.01, place.latitude + 0.01].join(
      ",",
    );
    const read = await getJson<{ items: HazardSummary[] }>(`${node.url}/api/hazards?bbox=${box}`);
    expect(read.body.items.map((h) => [h.reporters, h.status])).toEqual([[3, "reported"]]);
  });
});
