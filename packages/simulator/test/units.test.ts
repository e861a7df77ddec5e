import { describe, expect, it } from "vitest";
import { SharedToken } from "../src/fleet/tokens.js";
import { Histogram } from "../src/metrics/histogram.js";
import { Recorder } from "../src/metrics/recorder.js";
import { evaluate, parseThreshold } from "../src/metrics/thresholds.js";
import { FLEET_FLAGS, fleetOptions, parseFlags, UsageError } from "../src/options.js";
import { growth } from "../src/soak/watch.js";
import { generateNetwork } from "../src/truth/network.js";
import { axis, counts, qualityClass } from "../src/truth/rules.js";

/** The truth network of these tests, but for devices, passes and seed. */
const NETWORK = {
  origin: { latitude: 52.1, longitude: 5.1 },
  roads: 4,
  roadKm: 0.5,
  stretchM: 50,
  potholesPerKm: 4,
  gpsSigmaM: 4,
  roughnessSigma: 0.6,
  bogusShare: 0.05,
  slowShare: 0.2,
  detection: 0.9,
};

describe("fleet flags", () => {
  const parse = (...argv: string[]) => fleetOptions(parseFlags(argv, FLEET_FLAGS));

  it("switches a periodic event off with 'off', and refuses a zero period", () => {
    const locationsOnly = parse("--batch-interval", "off", "--heartbeat-interval", "off");
    expect(locationsOnly).toMatchObject({ batchIntervalMs: 0, heartbeatIntervalMs: 0, locationIntervalMs: 5_000 });
    expect(() => parse("--batch-interval", "0s")).toThrow(UsageError);
    expect(() => parse("--location-interval", "never")).toThrow(UsageError);
  });
});

describe("metrics", () => {
  it("histogram quantiles stay within 2 % of the exact value, and merging workers' deltas adds up", () => {
    const values = Array.from({ length: 10_000 }, (_, i) => 0.5 + (i % 997) * 3.7);
    const a = new Histogram();
    const b = new Histogram();
    for (const [i, v] of values.entries()) (i % 2 === 0 ? a : b).record(v);
    const merged = new Histogram();
    merged.merge(a.drain());
    merged.merge(b.toJSON());
    const sorted = [...values].sort((x, y) => x - y);
    for (const q of [0.5, 0.95, 0.99]) {
      const exact = sorted[Math.ceil(q * sorted.length) - 1] as number;
      expect(Math.abs(merged.quantile(q) - exact) / exact).toBeLessThan(0.02);
    }
    expect(merged.count).toBe(values.length);
    expect(merged.max).toBe(Math.max(...values));
    expect(a.count).toBe(0);
  });

  it("recorder deltas carry counters once and keep gauges as levels", () => {
    const worker = new Recorder();
    const coordinator = new Recorder();
    worker.count("obs.acked", 3);
    worker.gauge("devices.connected", 7);
    coordinator.merge(worker.drain());
    worker.count("obs.acked");
    const second = worker.drain();
    coordinator.merge(second);
    expect(coordinator.counter("obs.acked")).toBe(4);
    expect(second.gauges["devices.connected"]).toBe(7);
  });

  it("thresholds read like k6's and a metric without data breaks its threshold", () => {
    const results = evaluate(
      ["obs_ack_p99<250", "errors==0", "connected>=50", "push_lag_p99<1000"].map(parseThreshold),
      { obs_ack_p99: 249.9, errors: 1, connected: 50, push_lag_p99: Number.NaN },
    );
    expect(results.map((r) => r.ok)).toEqual([true, false, true, false]);
    expect(results[3]?.value).toBeNull();
    expect(() => parseThreshold("p99 < fast")).toThrow(/must look like/);
  });

  it("growth compares the last quarter with the second, ignoring warm-up", () => {
    const flat = Array.from({ length: 100 }, (_, t) => ({ t, value: t < 25 ? t : 100 }));
    const leak = Array.from({ length: 100 }, (_, t) => ({ t, value: 100 + t }));
    expect(growth(flat).pct).toBe(0);
    expect(growth(leak).pct).toBeGreaterThan(30);
  });
});

describe("truth", () => {
  it("uses the documented rules: class limits, speed gate, four axes", () => {
    expect([1.99, 2, 3.99, 4, 6, 6.01].map(qualityClass)).toEqual([
      "good",
      "fair",
      "fair",
      "poor",
      "poor",
      "very_poor",
    ]);
    expect([15 / 3.6 - 0.01, 15 / 3.6, 160 / 3.6, 160 / 3.6 + 0.1].map(counts)).toEqual([false, true, true, false]);
    expect([0, 22.4, 22.6, 90, 135, 180, 270, 337.6].map(axis)).toEqual([
      "ns",
      "ns",
      "ne",
      "ew",
      "nw",
      "ns",
      "ew",
      "ns",
    ]);
  });

  // Ids are fresh UUIDs and times follow the clock; positions, roughness, speeds and events repeat.
  it("generates a reproducible network with every class, potholes, bogus reports and slow samples", () => {
    const options = { ...NETWORK, devices: 6, passes: 2, seed: 7 };
    const a = generateNetwork(options);
    const b = generateNetwork(options);
    const strip = (t: typeof a) => [...t.drives.values()].flat().map(({ id: _id, recordedAt: _at, ...o }) => o);
    expect(strip(a)).toEqual(strip(b));
    const classes = new Set([...a.segments.values()].filter((s) => s.n > 0).map((s) => qualityClass(s.trueSum / s.n)));
    expect(classes).toEqual(new Set(["good", "fair", "poor", "very_poor"]));
    expect(a.potholes.length).toBe(8);
    expect(a.bogusReports).toBeGreaterThan(0);
    const all = [...a.drives.values()].flat();
    expect(all.some((o) => (o.speed ?? 0) * 3.6 < 15)).toBe(true);
    expect(new Set(all.map((o) => o.id)).size).toBe(all.length);
    expect(all.filter((o) => o.event === "pothole").length).toBeGreaterThan(a.bogusReports);
  });

  it("sends each bogus report while its device drives that place, in the order it drove", () => {
    const truth = generateNetwork({ ...NETWORK, devices: 40, passes: 1, seed: 11 });
    const metres = (p: { latitude: number; longitude: number }, q: { latitude: number; longitude: number }) =>
      Math.hypot(
        (p.latitude - q.latitude) * 111_195,
        (p.longitude - q.longitude) * 111_195 * Math.cos((52.1 * Math.PI) / 180),
      );
    let bogus = 0;
    for (const list of truth.drives.values()) {
      const times = list.map((o) => Date.parse(o.recordedAt));
      expect(times).toEqual([...times].sort((x, y) => x - y));
      list.forEach((o, i) => {
        if (o.event !== "pothole" || truth.potholes.some((p) => metres(p, o) < 40)) return;
        bogus += 1;
        // The device's own observation just before it: half a second earlier, a few metres away.
        const before = list[i - 1] as (typeof list)[number];
        expect(Date.parse(o.recordedAt) - Date.parse(before.recordedAt)).toBe(500);
        expect(metres(o, before)).toBeLessThan(40);
      });
    }
    expect(bogus).toBe(truth.bogusReports);
  });
});

describe("an account's token shared by its devices", () => {
  it("a refused device waits for the keeper's next token, or a while when none comes", async () => {
    const shared = new SharedToken("first", 200);
    const waiting = [shared.refresh(), shared.refresh()];
    // One wait for every device of the account.
    expect(waiting[0]).toBe(waiting[1]);
    shared.set("second");
    await Promise.all(waiting);
    expect(shared.token).toBe("second");
    const started = performance.now();
    await shared.refresh();
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    expect(shared.token).toBe("second");
  });
});
