import { randomUUID } from "node:crypto";
import { waitFor } from "@roadpulse/devstack";
import { MongoClient, ObjectId } from "mongodb";
import ngeohash from "ngeohash";
import { afterEach, describe, expect, it } from "vitest";
import type { HazardDoc } from "../../src/store/hazards.js";
import type { ObservationDoc } from "../../src/store/observations.js";
import { connectDevice, dropDatabase, mongoUri, register, startTestNode, uniqueDbName } from "../support/env.js";
import { observation, submit } from "../support/roads.js";

/** `north` and `east` metres from `base`. */
function spot(base: { latitude: number; longitude: number }, north: number, east = 0) {
  return {
    latitude: base.latitude + north / 111_195,
    longitude: base.longitude + east / (111_195 * Math.cos((base.latitude * Math.PI) / 180)),
  };
}

/** A stored observation as ingest hands it to the aggregator; a pothole report with `event`. */
function stored(
  at: { latitude: number; longitude: number },
  device: string,
  recordedAt: Date,
  event?: "pothole",
): ObservationDoc {
  return {
    _id: randomUUID(),
    userId: `account-of-${device}`,
    deviceId: device,
    ...at,
    recordedAt,
    receivedAt: recordedAt,
    roughness: 3,
    speed: 15,
    ...(event === undefined ? {} : { event }),
    segmentId: "s",
    region: ngeohash.encode(at.latitude, at.longitude, 5),
    counted: true,
    batch: new ObjectId(),
  };
}

describe("passes by hazards, and the share of them that must report one (real Redis and FerretDB)", () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("confirms a hazard by three accounts only when they reported 5 % of the devices passing it", async () => {
    const uri = mongoUri(uniqueDbName("passes"));
    const node = await startTestNode({ MONGODB_URI: uri });
    cleanups.push(() => dropDatabase(uri));
    cleanups.push(() => node.close());
    const client = new MongoClient(uri);
    cleanups.push(() => client.close());
    const hazards = client.db().collection<HazardDoc>("hazards");
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
    expect(await passes.count(drive(mistake, 100, 1_000))).toBe(100);
    // Two more accounts report it: three accounts, but 3 reports in 100 passes, under 5 %.
    await tracker.applyEvents(
      [
        stored(spot(mistake, 2), "reporter-2", at(2_000), "pothole"),
        stored(spot(mistake, -1, 1), "reporter-3", at(3_000), "pothole"),
      ],
      now,
    );
    expect(await hazards.findOne({ _id: opened?._id })).toMatchObject({ reports: 3, passes: 100, status: "reported" });

    // A device seen near it again within a minute is the same pass; later, another one; 45 m off,
    // none (the road beside it).
    expect(await passes.count(drive(mistake, 100, 40_000))).toBe(0);
    expect(await passes.count(drive(mistake, 100, 200_000))).toBe(100);
    expect(await passes.count(drive(spot(mistake, 45), 100, 400_000, 1_000))).toBe(0);
    expect(await hazards.findOne({ _id: opened?._id })).toMatchObject({ passes: 200, status: "reported" });

    // A real pothole, 1 km on: 20 devices pass it and 4 accounts report it, 20 %.
    const pothole = spot(base, 1_000);
    const [real] = await tracker.applyEvents([stored(pothole, "reporter-1", at(0), "pothole")], now);
    expect(await passes.count(drive(pothole, 20, 1_000))).toBe(20);
    await tracker.applyEvents(
      [2, 3, 4].map((n) => stored(spot(pothole, n - 3, 1), `reporter-${n}`, at(1_000 + n), "pothole")),
      now,
    );
    expect(await hazards.findOne({ _id: real?._id })).toMatchObject({ reports: 4, passes: 20, status: "confirmed" });
    // Confirmed stays confirmed, however many pass it afterwards.
    expect(await passes.count(drive(pothole, 200, 100_000, 100))).toBe(200);
    await tracker.applyEvents([stored(spot(pothole, 1), "reporter-5", at(100_000), "pothole")], now);
    expect(await hazards.findOne({ _id: real?._id })).toMatchObject({ passes: 220, status: "confirmed" });

    // A device's observations through the socket are counted by the node's own rounds.
    const account = await register(node.url, "passer");
    const socket = await connectDevice(node.url, account.token);
    cleanups.push(() => socket.close());
    const ack = await submit(socket, [observation({ ...spot(mistake, 3), recordedAt: new Date().toISOString() })]);
    expect(ack.ok).toBe(true);
    await waitFor("the socket's pass counted", async () => {
      const doc = await hazards.findOne({ _id: opened?._id });
      return (doc?.passes ?? 0) >= 201 ? doc : undefined;
    });
  });
});
