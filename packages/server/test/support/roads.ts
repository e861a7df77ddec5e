import { randomUUID } from "node:crypto";
import type { ObservationAck } from "@roadpulse/protocol";
import type { Socket as ClientSocket } from "socket.io-client";

/** A point in Copenhagen that the tests drive around. */
export const BASE = { latitude: 55.6761, longitude: 12.5683 };

/** Metres → degrees near BASE (good to a few cm at these distances). */
export function offset(metresNorth: number, metresEast: number): { latitude: number; longitude: number } {
  return {
    latitude: BASE.latitude + metresNorth / 111_195,
    longitude: BASE.longitude + metresEast / (111_195 * Math.cos((BASE.latitude * Math.PI) / 180)),
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
