import { waitFor } from "@roadpulse/devstack";
import type { HazardSummary, RegionSyncAck } from "@roadpulse/protocol";
import type { Socket } from "socket.io-client";
import { describe, expect, it, onTestFinished } from "vitest";
import { connected, emitAck, HERE, NEXT_DOOR, observation, openDevice } from "../support/devices.js";
import { nodePerFile, register, registerDevice } from "../support/env.js";

/** Two potholes in the cell next to the listener's: each is confirmed by three accounts. */
const POTHOLES = [HERE, { latitude: HERE.latitude + 0.0009, longitude: HERE.longitude }];
const AWAY_MS = 20_000;

/**
 * A device that comes back after a while asks what changed around it (`region:sync`) and gets
 * every segment and hazard change it missed, whichever node it reaches (they are read from the
 * store), bounded in size.
 */
describe("catch-up after reconnect (region:sync)", () => {
  const theNode = nodePerFile();

  async function device(name: string): Promise<Socket> {
    const account = await register(theNode().url, name);
    const socket = await connected(
      openDevice(theNode().url, account.token, await registerDevice(theNode().url, account.token)),
    );
    onTestFinished(() => {
      socket.close();
    });
    return socket;
  }

  it("gives a device away for 20 s every hazard confirmed near it meanwhile", async () => {
    const listener = await device("listener");
    expect((await emitAck(listener, "location:update", NEXT_DOOR)).ok).toBe(true);
    const first = (await emitAck(listener, "region:sync", { since: new Date().toISOString() })) as Ack;
    expect(first).toMatchObject({ ok: true, complete: true });
    const cursor = first.until;
    const heardLive: HazardSummary[] = [];
    listener.on("hazard:updated", (hazard: HazardSummary) => heardLive.push(hazard));

    listener.disconnect();
    const leftAt = Date.now();

    // Meanwhile, next door, three people report both potholes; a watcher there sees them confirmed.
    const watcher = await device("watcher");
    expect((await emitAck(watcher, "location:update", HERE)).ok).toBe(true);
    const seen = new Map<string, HazardSummary>();
    watcher.on("hazard:updated", (hazard: HazardSummary) => seen.set(hazard.id, hazard));
    const reporters = await Promise.all([1, 2, 3].map((i) => device(`reporter-${i}`)));
    for (const [i, reporter] of reporters.entries()) {
      const batch = POTHOLES.map((at) =>
        observation({ latitude: at.latitude + i * 0.00002, longitude: at.longitude }, { event: "pothole" }),
      );
      expect(await emitAck(reporter, "observations:submit", { observations: batch })).toMatchObject({ accepted: 2 });
      // Reports of one pothole come seconds apart on the road: each is folded in before the next.
      await waitFor(`report ${i + 1} to be folded in`, () => [...seen.values()].some((h) => h.reports === i + 1));
    }
    await waitFor("both potholes confirmed", () => confirmed(seen).length === 2);
    expect(Date.now() - leftAt).toBeLessThan(AWAY_MS);
    await new Promise((resolve) => setTimeout(resolve, AWAY_MS - (Date.now() - leftAt)));

    listener.connect();
    await connected(listener);
    expect((await emitAck(listener, "location:update", NEXT_DOOR)).ok).toBe(true);
    const sync = (await emitAck(listener, "region:sync", { since: cursor })) as Ack;
    expect(sync).toMatchObject({ ok: true, complete: true });
    expect(heardLive).toEqual([]);
    const synced = new Map(sync.hazards.map((hazard) => [hazard.id, hazard]));
    for (const hazard of confirmed(seen)) {
      expect(synced.get(hazard.id)).toMatchObject({ id: hazard.id, status: "confirmed", reports: 3 });
    }
    // The road segments the reports fell on, too.
    expect(sync.segments.length).toBeGreaterThan(0);
    expect(new Date(sync.until).getTime()).toBeGreaterThan(new Date(cursor).getTime());

    // Bounded: one item per kind at most, and the answer says it is not the whole story.
    const bounded = (await emitAck(listener, "region:sync", { since: cursor, limit: 1 })) as Ack;
    expect(bounded).toMatchObject({ ok: true, complete: false });
    expect(bounded.hazards.length).toBeLessThanOrEqual(1);

    // From the last answer on, what was confirmed 20 s ago does not come back again: only changes
    // within the few seconds of overlap before the cursor could.
    const after = (await emitAck(listener, "region:sync", { since: sync.until })) as Ack;
    expect(after).toMatchObject({ ok: true, complete: true });
    const overlapStart = new Date(sync.until).getTime() - 5_000;
    for (const item of [...after.hazards, ...after.segments]) {
      expect(new Date(item.updatedAt).getTime()).toBeGreaterThanOrEqual(overlapStart);
    }
    expect(after.hazards.map((hazard) => hazard.id)).not.toContain(confirmed(seen)[0]?.id);
  });

  it("answers a crowd catching up at once in part, and the rest STORAGE_UNAVAILABLE, at once", async () => {
    // A fleet back together (a node restarted, a store outage over): many catch-ups in one moment.
    const crowd: Socket[] = [];
    for (const name of ["crowd-a", "crowd-b"]) {
      const account = await register(theNode().url, name);
      for (let i = 0; i < 12; i++) {
        const socket = await connected(
          openDevice(theNode().url, account.token, await registerDevice(theNode().url, account.token)),
        );
        onTestFinished(() => {
          socket.close();
        });
        expect((await emitAck(socket, "location:update", HERE)).ok).toBe(true);
        crowd.push(socket);
      }
    }
    const since = new Date(Date.now() - 60_000).toISOString();
    const refused: Socket[] = [];
    // Each burst leaves the test in one tick; until one of them has more catch-ups in flight than a
    // node reads at once, all are answered (a few bursts at most, unless nothing is bounded).
    for (let burst = 0; burst < 5 && refused.length === 0; burst++) {
      const answers = await Promise.all(crowd.map((socket) => emitAck(socket, "region:sync", { since })));
      for (const [i, answer] of answers.entries()) {
        if (answer.ok) {
          expect(answer).toMatchObject({ complete: true });
          continue;
        }
        expect(answer).toMatchObject({ error: { code: "STORAGE_UNAVAILABLE" } });
        refused.push(crowd[i] as Socket);
      }
      expect(refused.length).toBeLessThan(crowd.length);
    }
    expect(refused.length).toBeGreaterThan(0);
    // Refused, not broken: asked again on its own, each gets its answer.
    for (const socket of refused) {
      expect(await emitAck(socket, "region:sync", { since })).toMatchObject({ ok: true, complete: true });
    }
  });

  it("refuses a device that has not said where it is, and a malformed cursor, changing nothing", async () => {
    const fresh = await device("fresh");
    expect(await emitAck(fresh, "region:sync", { since: new Date().toISOString() })).toMatchObject({
      ok: false,
      error: { code: "BAD_REQUEST" },
    });
    expect((await emitAck(fresh, "location:update", HERE)).ok).toBe(true);
    for (const payload of [{}, { since: "yesterday" }, { since: new Date().toISOString(), limit: 501 }, { since: 5 }]) {
      expect(await emitAck(fresh, "region:sync", payload)).toMatchObject({
        ok: false,
        error: { code: "VALIDATION_FAILED" },
      });
    }
  });
});

type Ack = { ok: true } & RegionSyncAck;

function confirmed(hazards: Map<string, HazardSummary>): HazardSummary[] {
  return [...hazards.values()].filter((hazard) => hazard.status === "confirmed");
}
