import { randomUUID } from "node:crypto";
import type { Observation } from "@roadpulse/protocol";

export interface Position {
  latitude: number;
  longitude: number;
  /** m/s */
  speed: number;
  /** degrees clockwise from north */
  heading: number;
}

/** Where a device's observations come from: a random drive (load) or a scripted one (truth). */
export interface ObservationSource {
  /** Up to `max` new observations; an empty list once a scripted drive is over. */
  take(max: number): Observation[];
  /** The device's current position, for `location:update`. */
  position(): Position;
  /** True once a scripted drive has handed out everything (a random drive never ends). */
  readonly finished: boolean;
}

const METRES_PER_DEGREE = 111_195;
const round = (value: number, digits: number) => Number(value.toFixed(digits));

export interface AreaOptions {
  latitude: number;
  longitude: number;
  radiusKm: number;
}

/**
 * A car wandering around a city: starts somewhere in the area, drives at 8–20 m/s, turns now and
 * then, turns back towards the centre when it leaves the area. One sample per second of simulated
 * time, stamped with the wall clock, as a phone app records them; roughness is log-normal around
 * 3 m/km (most roads fair, a tail of very poor ones); a pothole or bump event with the given rate.
 */
export class RandomDrive implements ObservationSource {
  readonly finished = false;
  #lat: number;
  #lon: number;
  #heading = Math.random() * 360;
  #speed = 8 + Math.random() * 12;
  #lastSampleAt = Date.now();

  constructor(
    private readonly area: AreaOptions,
    private readonly eventRate: number,
  ) {
    const r = Math.sqrt(Math.random()) * area.radiusKm * 1000;
    const angle = Math.random() * 2 * Math.PI;
    this.#lat = area.latitude + (r * Math.cos(angle)) / METRES_PER_DEGREE;
    this.#lon =
      area.longitude + (r * Math.sin(angle)) / (METRES_PER_DEGREE * Math.cos((area.latitude * Math.PI) / 180));
  }

  #advance(seconds: number): void {
    if (Math.random() < 0.02 * seconds) this.#heading = (this.#heading + (Math.random() < 0.5 ? 90 : 270)) % 360;
    this.#speed = Math.min(25, Math.max(2, this.#speed + (Math.random() - 0.5) * 2));
    const cosLat = Math.cos((this.#lat * Math.PI) / 180);
    const dNorth = (this.area.latitude - this.#lat) * METRES_PER_DEGREE;
    const dEast = (this.area.longitude - this.#lon) * METRES_PER_DEGREE * cosLat;
    if (Math.hypot(dNorth, dEast) > this.area.radiusKm * 1000) {
      this.#heading = ((Math.atan2(dEast, dNorth) * 180) / Math.PI + 360) % 360;
    }
    const distance = this.#speed * seconds;
    const rad = (this.#heading * Math.PI) / 180;
    this.#lat += (distance * Math.cos(rad)) / METRES_PER_DEGREE;
    this.#lon += (distance * Math.sin(rad)) / (METRES_PER_DEGREE * cosLat);
  }

  position(): Position {
    return {
      latitude: round(this.#lat, 6),
      longitude: round(this.#lon, 6),
      speed: round(this.#speed, 1),
      heading: round(this.#heading, 1),
    };
  }

  /** `max` samples spread evenly over the time since the last call (a phone sampling at a fixed rate). */
  take(max: number): Observation[] {
    const now = Date.now();
    const elapsed = Math.max(1, now - this.#lastSampleAt);
    const out: Observation[] = [];
    for (let i = 0; i < max; i++) {
      this.#advance(elapsed / max / 1000);
      const p = this.position();
      const roughness = round(Math.min(50, Math.exp(Math.log(3) + 0.5 * gaussian())), 2);
      const event = Math.random() < this.eventRate ? (Math.random() < 0.8 ? "pothole" : "bump") : undefined;
      out.push({
        id: randomUUID(),
        latitude: p.latitude,
        longitude: p.longitude,
        recordedAt: new Date(now - elapsed + ((i + 1) * elapsed) / max).toISOString(),
        roughness,
        speed: p.speed,
        heading: p.heading,
        ...(event ? { event } : {}),
      });
    }
    this.#lastSampleAt = now;
    return out;
  }
}

/** Standard normal deviate (Box–Muller). */
export function gaussian(): number {
  const u = 1 - Math.random();
  const v = Math.random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
