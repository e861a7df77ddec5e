import { describe, expect, it } from "vitest";
import { PresenceBroadcaster } from "../../src/presence/broadcaster.js";
import type { RegionPush } from "../../src/presence/store.js";

/** A broadcaster over a table of counts, recording what it reads and what it sends. */
function harness(table: Record<string, RegionPush>) {
  const reads: string[][] = [];
  const sent: string[] = [];
  const broadcaster = new PresenceBroadcaster(
    60_000,
    async (regionIds) => {
      reads.push([...regionIds].sort());
      return new Map(regionIds.flatMap((id) => (table[id] ? [[id, table[id]] as const] : [])));
    },
    {
      toRegion: (regionId, count) => sent.push(`room ${regionId}=${count}`),
      toSockets: (socketIds, regionId, count) => sent.push(`${[...socketIds].sort().join(",")} ${regionId}=${count}`),
    },
    (error) => {
      throw error;
    },
  );
  return { broadcaster, reads, sent };
}

describe("presence broadcaster", () => {
  it.each([
    {
      what: "many moves in one region: one read, one message to its room",
      table: { r1: { count: 3, changed: true } },
      moves: (b: PresenceBroadcaster) => {
        for (const socket of ["s1", "s2", "s3"]) b.arrive("r1", socket);
        b.mark("r1", "r1");
      },
      reads: [["r1"]],
      sent: ["room r1=3"],
    },
    {
      what: "a count that did not change: nothing to the room, the newcomer alone is told",
      table: { r1: { count: 1, changed: false }, r2: { count: 0, changed: true } },
      moves: (b: PresenceBroadcaster) => {
        b.mark("r1");
        b.arrive("r1", "new");
        b.mark("r2");
      },
      reads: [["r1", "r2"]],
      sent: ["new r1=1", "room r2=0"],
    },
    {
      what: "a newcomer that moved on before the flush is not told about the region it left",
      table: { r1: { count: 2, changed: false }, r2: { count: 1, changed: false } },
      moves: (b: PresenceBroadcaster) => {
        b.arrive("r1", "passing");
        b.arrive("r1", "staying");
        b.depart("r1", "passing");
        b.arrive("r2", "passing");
      },
      reads: [["r1", "r2"]],
      sent: ["staying r1=2", "passing r2=1"],
    },
    {
      what: "unchanged and nobody new: nothing at all",
      table: { r1: { count: 4, changed: false } },
      moves: (b: PresenceBroadcaster) => b.mark("r1", null),
      reads: [["r1"]],
      sent: [],
    },
  ])("$what", async ({ table, moves, reads, sent }) => {
    const run = harness(table as Record<string, RegionPush>);
    moves(run.broadcaster);
    await run.broadcaster.flush();
    // A second flush with nothing marked reads and sends nothing.
    await run.broadcaster.flush();
    expect(run.reads).toEqual(reads);
    expect(run.sent).toEqual(sent);
  });
});
