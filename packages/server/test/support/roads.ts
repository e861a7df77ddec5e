import { randomUUID } from "node:crypto";
import type { ObservationAck } from "@roadpulse/protocol";
import { ObjectId } from "mongodb";
import ngeohash from "ngeohash";
import type { Socket as ClientSocket } from "socket.io-client";
import type { ObservationDoc } from "../../src/store/observations.js";

/** A point in Copenhagen that the tests drive around. */
export const BASE = { latitude: 55.6761, longitude: 12.5683 };

type Place = { latitude: number; longitude: number };

/** `north` and `east` metres from `base` (good to a few cm at these distances). */
export function spot(base: Place, north: number, east = 0): Place {
  return {
    latitude: base.latitude + north / 111_195,
    longitude: base.longitude + east / (111_195 * Math.cos((base.latitude * Math.PI) / 180)),
  };
}

/** Metres → degrees near BASE. */
export function offset(metresNorth: number, metresEast: number): Place {
  return spot(BASE, metresNorth, metresEast);
}

/** A stored observation as ingest hands it to the aggregator (a pothole report with `event`). */
export function storedObservation(o: {
  at: Place;
  account: string;
  device: string;
  recordedAt: Date;
  receivedAt?: Date;
  event?: "pothole";
}): ObservationDoc {
  return {
    _id: randomUUID(),
    userId: o.account,
    deviceId: o.device,
    ...o.at,
    recordedAt: o.recordedAt,
    receivedAt: o.receivedAt ?? o.recordedAt,
    roughness: 3,
    speed: 15,
    ...(o.event === undefined ? {} : { event: o.event }),
    segmentId: "s",
    region: ngeohash.encode(o.at.latitude, o.at.longitude, 5),
    counted: true,
    batch: new ObjectId(),
  };
}

export interface TestObservation {
  id: string;
  latitude: number;
  longitude: number;
  recordedAt: string;
  roughness: number;
  speed?: number;
  heading?: number;
  event?: string;
  [extra: string]: unknown;
}

/** A valid observation at BASE, driving east at 54 km/h, recorded now; override anything. */
export function observation(overrides: Partial<TestObservation> = {}, now = new Date()): TestObservation {
  return {
    id: randomUUID(),
    ...BASE,
    recordedAt: now.toISOString(),
    roughness: 3,
    speed: 15,
    heading: 90,
    ...overrides,
  };
}

export type AckReply = ({ ok: true } & ObservationAck) | { ok: false; error: { code: string; message: string } };

/** Emits an event and resolves with its acknowledgement. */
export async function emitWithAck<T>(socket: ClientSocket, event: string, payload: unknown): Promise<T> {
  return (await socket.timeout(30_000).emitWithAck(event, payload)) as T;
}

export async function submit(socket: ClientSocket, observations: unknown[]): Promise<AckReply> {
  return await emitWithAck<AckReply>(socket, "observations:submit", { observations });
}

/** Places a device at `at` with a real `location:update`; returns the region it is in. */
export async function locate(socket: ClientSocket, at: { latitude: number; longitude: number }): Promise<string> {
  const position = { latitude: at.latitude, longitude: at.longitude };
  const ack = await emitWithAck<{ ok: boolean; regionId?: string }>(socket, "location:update", position);
  if (!ack.ok || ack.regionId === undefined) throw new Error(`location:update refused: ${JSON.stringify(ack)}`);
  return ack.regionId;
}

/** Collects every payload of one server event, for assertions with waitFor. */
export function collect<T>(socket: ClientSocket, event: string): T[] {
  const seen: T[] = [];
  socket.on(event, (payload: T) => seen.push(payload));
  return seen;
}

export async function getJson<T = Record<string, unknown>>(url: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as T };
}
