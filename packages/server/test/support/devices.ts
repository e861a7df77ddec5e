import { randomUUID } from "node:crypto";
import { waitFor } from "@roadpulse/devstack";
import { io as connectClient, type Socket } from "socket.io-client";

/** Two neighbouring geohash-6 cells in Delhi: ttngkc and the cell just east of it. */
export const HERE = { latitude: 28.7037, longitude: 77.2079 };
export const NEXT_DOOR = { latitude: 28.7037, longitude: 77.2179 };

export type Ack = { ok: boolean; [key: string]: unknown };

/** Emits a client event and resolves with its acknowledgement (rejects on timeout). */
export function emitAck(socket: Socket, event: string, payload: unknown, timeoutMs = 10_000): Promise<Ack> {
  return socket.timeout(timeoutMs).emitWithAck(event, payload) as Promise<Ack>;
}

/** A device as the mobile app connects it: token, stable device id, quick reconnection. */
export function openDevice(
  url: string,
  token: string,
  deviceId: string,
  transports: Array<"polling" | "websocket"> = ["websocket"],
): Socket {
  return connectClient(url, {
    auth: { token },
    query: { deviceId },
    transports,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    randomizationFactor: 0.2,
  });
}

export async function connected(socket: Socket, timeoutMs = 20_000): Promise<Socket> {
  await waitFor("socket to connect", () => socket.connected, timeoutMs);
  return socket;
}

/** A valid observation at `position`, recorded now, driving east at 43 km/h. */
export function observation(position: { latitude: number; longitude: number }, extra: Record<string, unknown> = {}) {
  return {
    id: randomUUID(),
    ...position,
    recordedAt: new Date().toISOString(),
    roughness: 3.5,
    speed: 12,
    heading: 90,
    ...extra,
  };
}
