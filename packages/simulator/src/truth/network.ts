import { randomUUID } from "node:crypto";
import type { Observation } from "@roadpulse/protocol";
import { CLASSES, counts, type QualityClass, segmentKey } from "./rules.js";

export interface NetworkOptions {
  origin: { latitude: number; longitude: number };
  roads: number;
  roadKm: number;
  stretchM: number;
  devices: number;
  passes: number;
  potholesPerKm: number;
  gpsSigmaM: number;
  roughnessSigma: number;
  bogusShare: number;
  slowShare: number;
  /** Probability that a device passing over a pothole reports it. */
  detection: number;
  seed: number;
}

export interface Pothole {
  latitude: number;
  longitude: number;
  /** Distinct devices that reported it: the rules confirm it from 3. */
  reporters: Set<string>;
}

export interface Truth {
  bbox: [number, number, number, number];
  /** Per segment key: counted samples and the sum of their true IRI. */
  segments: Map<string, { n: number; trueSum: number; samples: number }>;
  potholes: Pothole[];
  bogusReports: number;
  drives: Map<string, Observation[]>;
  observations: number;
}

/** A small deterministic generator (mulberry32), so `--seed` reproduces a network. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const M_PER_DEG = 111_195;
const HEADINGS = [90, 0, 45, 135];
/** A true IRI well inside each class, so a class boundary is not decided by rounding. */
const CLASS_IRI: Record<QualityClass, [number, number]> = {
  good: [0.9, 1.6],
  fair: [2.5, 3.5],
  poor: [4.4, 5.6],
  very_poor: [7, 10],
};

/** One drive of a device along one road. */
interface Visit {
  road: number;
  startMs: number;
  /** Metres per second, one observation per second. */
  speed: number;
  forward: boolean;
  heading: number;
}

/**
 * A road network with known ground truth: `roads` straight roads in several directions, side by side
 * 400 m apart, cut into stretches of `stretchM` with a true IRI of every class in turn, potholes at
 * known places, and the drives of `devices` devices doing `passes` passes over every road (both ways)
 * with GPS noise, roughness noise, slow passes under the speed gate, and a share of bogus pothole
 * reports, each from a single device, made while it drives a place with no pothole. The truth of a segment is computed
 * from what was sent, by the documented rules: the true IRI of its counted samples.
 */
export function generateNetwork(o: NetworkOptions): Truth {
  const random = rng(o.seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const cosLat = Math.cos((o.origin.latitude * Math.PI) / 180);
  const lengthM = o.roadKm * 1000;
  const at = (road: number, alongM: number, northM = 0, eastM = 0) => {
    const heading = ((HEADINGS[road % HEADINGS.length] as number) * Math.PI) / 180;
    const north = Math.floor(road / HEADINGS.length) * (lengthM + 400) + alongM * Math.cos(heading) + northM;
    const east = road * 400 + alongM * Math.sin(heading) + eastM;
    return {
      latitude: o.origin.latitude + north / M_PER_DEG,
      longitude: o.origin.longitude + east / (M_PER_DEG * cosLat),
    };
  };
  const stretches = Math.ceil(lengthM / o.stretchM);
  const iri: number[][] = [];
  const potholeAlong: number[][] = [];
  const potholes: Pothole[][] = [];
  for (let r = 0; r < o.roads; r++) {
    const offset = Math.floor(random() * CLASSES.length);
    iri.push(
      Array.from({ length: stretches }, (_, s) => {
        const [lo, hi] = CLASS_IRI[CLASSES[(s + offset) % CLASSES.length] as QualityClass];
        return lo + random() * (hi - lo);
      }),
    );
    const wanted = Math.round(o.roadKm * o.potholesPerKm);
    const along: number[] = [];
    for (let tries = 0; along.length < wanted && tries < 1000; tries++) {
      const x = 20 + random() * (lengthM - 40);
      if (along.every((y) => Math.abs(y - x) > 60)) along.push(x);
    }
    potholeAlong.push(along);
    potholes.push(along.map((x) => ({ ...at(r, x), reporters: new Set<string>() })));
  }
  const round6 = (v: number) => Number(v.toFixed(6));
  const segments: Truth["segments"] = new Map();
  const drives = new Map<string, Observation[]>();
  const start = Date.now() - 20 * 60_000;
  let realReports = 0;
  const emit = (
    list: Observation[],
    road: number,
    x: number,
    t: number,
    speed: number,
    heading: number,
    event?: "pothole",
  ) => {
    const p = at(road, x, gauss() * o.gpsSigmaM, gauss() * o.gpsSigmaM);
    const trueIri = iri[road]?.[Math.min(stretches - 1, Math.floor(x / o.stretchM))] ?? 0;
    const obs: Observation = {
      id: randomUUID(),
      latitude: round6(p.latitude),
      longitude: round6(p.longitude),
      recordedAt: new Date(t).toISOString(),
      roughness: Number(Math.max(0, trueIri + gauss() * o.roughnessSigma).toFixed(2)),
      speed: Number(speed.toFixed(1)),
      // GPS heading noise of a few degrees, as on a phone; 0–360 as the API wants it.
      heading: Number(((((heading + gauss() * 4) % 360) + 360) % 360).toFixed(1)),
      ...(event ? { event } : {}),
    };
    const key = segmentKey(obs.latitude, obs.longitude, obs.heading as number);
    const seg = segments.get(key) ?? { n: 0, trueSum: 0, samples: 0 };
    seg.samples += 1;
    if (counts(speed)) {
      seg.n += 1;
      seg.trueSum += trueIri;
    }
    segments.set(key, seg);
    list.push(obs);
  };
  /** Each device's drives along a road: where and when it was, for its bogus reports. */
  const visits = new Map<string, Visit[]>();
  for (let d = 0; d < o.devices; d++) {
    const device = `truth-${o.seed}-${d}`;
    const list: Observation[] = [];
    const drove: Visit[] = [];
    let t = start + random() * 60_000;
    for (let pass = 0; pass < o.passes; pass++) {
      for (let road = 0; road < o.roads; road++) {
        const slow = random() < o.slowShare;
        const speed = slow ? 1.5 + random() * 2 : 8 + random() * 12;
        const forward = (pass + d) % 2 === 0;
        const heading = ((HEADINGS[road % HEADINGS.length] as number) + (forward ? 0 : 180)) % 360;
        drove.push({ road, startMs: t, speed, forward, heading });
        for (let s = 0; s * speed <= lengthM; s++) {
          const x = forward ? s * speed : lengthM - s * speed;
          emit(list, road, x, t, speed, heading);
          // A pothole between this sample and the next one is felt (and reported) at its place.
          for (const [i, px] of (potholeAlong[road] ?? []).entries()) {
            const next = forward ? x + speed : x - speed;
            if ((px - x) * (px - next) <= 0 && px !== next && random() < o.detection) {
              emit(list, road, px, t + 500, speed, heading, "pothole");
              potholes[road]?.[i]?.reporters.add(device);
              realReports += 1;
            }
          }
          t += 1000;
        }
      }
    }
    drives.set(device, list);
    visits.set(device, drove);
  }
  // Bogus reports: one device, one report, at a place at least 60 m from every pothole, made while
  // it drives there (a phone misreads a bump of its own road), so its report comes amid the
  // traffic at that place, not before anybody drove there.
  const bogus = Math.round(o.bogusShare * realReports);
  const devices = [...drives.keys()];
  const bogusBy = new Set<string>();
  for (let b = 0; b < bogus; b++) {
    const device = devices[Math.floor(random() * devices.length)] as string;
    const drove = visits.get(device) as Visit[];
    const visit = drove[Math.floor(random() * drove.length)] as Visit;
    let x = random() * lengthM;
    for (let tries = 0; tries < 100 && (potholeAlong[visit.road] ?? []).some((px) => Math.abs(px - x) < 60); tries++)
      x = random() * lengthM;
    const along = visit.forward ? x : lengthM - x;
    const t = visit.startMs + Math.floor(along / visit.speed) * 1000 + 500;
    emit(drives.get(device) as Observation[], visit.road, x, t, visit.speed, visit.heading, "pothole");
    bogusBy.add(device);
  }
  // In the order the device drove, so it sends each report when it is there.
  for (const device of bogusBy) {
    (drives.get(device) as Observation[]).sort((a, b) => Date.parse(a.recordedAt) - Date.parse(b.recordedAt));
  }
  const all = [...drives.values()].flat();
  const box = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY];
  for (const v of all) {
    box[0] = Math.min(box[0] as number, v.longitude);
    box[1] = Math.min(box[1] as number, v.latitude);
    box[2] = Math.max(box[2] as number, v.longitude);
    box[3] = Math.max(box[3] as number, v.latitude);
  }
  const pad = 0.0005;
  return {
    bbox: [(box[0] as number) - pad, (box[1] as number) - pad, (box[2] as number) + pad, (box[3] as number) + pad],
    segments,
    potholes: potholes.flat(),
    bogusReports: bogus,
    drives,
    observations: all.length,
  };
}
