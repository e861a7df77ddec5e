import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { ClientEvents } from "@roadpulse/protocol";
import { Server } from "socket.io";

/**
 * The baseline: a bare Socket.IO server that answers the simulator's calls with the shapes a node
 * gives (login and refresh, device registration, /health, acks of the devices' events) and does nothing else: no Redis, no store, no
 * pushes. Run on the same machine with the same generator, it measures what the box, Node.js and
 * Socket.IO cost by themselves, so a cluster's figures can be read as ratios to it.
 */
export async function startBaseline(
  port: number,
  host = "127.0.0.1",
): Promise<{ url: string; close(): Promise<void> }> {
  const answer = (response: ServerResponse, status: number, body: object) => {
    response.writeHead(status, { "content-type": "application/json", "x-node-id": "baseline" });
    response.end(JSON.stringify(body));
  };
  const http = createServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    const path = (request.url ?? "/").split("?")[0];
    if (
      request.method === "POST" &&
      (path === "/api/auth/register" || path === "/api/auth/login" || path === "/api/auth/refresh")
    ) {
      const user = { id: "0".repeat(24), email: "baseline@sim", displayName: "baseline", role: "user", createdAt: "" };
      const tokens = { token: "baseline", refreshToken: "baseline", expiresIn: 900 };
      answer(response, path.endsWith("register") ? 201 : 200, { user, ...tokens });
    } else if (request.method === "POST" && path === "/api/devices") {
      answer(response, 201, { deviceId: `baseline-${Math.random().toString(36).slice(2, 12)}` });
    } else if (path === "/health") {
      const services = { mongodb: "connected", redis: "disabled", socketio: "active" };
      answer(response, 200, { status: "ok", timestamp: new Date().toISOString(), node: "baseline", services });
    } else if (!path?.startsWith("/socket.io")) {
      answer(response, 404, { error: { code: "NOT_FOUND", message: "baseline server" } });
    }
  });
  // The same Engine.IO settings as a node (realtime/io.ts), so the transport costs the same.
  const io = new Server(http, {
    path: "/socket.io",
    serveClient: false,
    maxHttpBufferSize: 160 * 1024,
    pingInterval: 25_000,
    pingTimeout: 20_000,
  });
  type Ack = (body: object) => void;
  io.on("connection", (socket) => {
    socket.on(ClientEvents.LocationUpdate, (_payload: unknown, ack: Ack) => ack?.({ ok: true, regionId: "baseline" }));
    socket.on(ClientEvents.Heartbeat, (_payload: unknown, ack: Ack) =>
      ack?.({ ok: true, serverTime: new Date().toISOString() }),
    );
    // The SDK's catch-up after a reconnect: nothing ever changes here.
    socket.on(ClientEvents.RegionSync, (_payload: unknown, ack: Ack) =>
      ack?.({
        ok: true,
        regionId: "baseline",
        segments: [],
        hazards: [],
        until: new Date().toISOString(),
        complete: true,
      }),
    );
    socket.on(ClientEvents.ObservationsSubmit, (payload: { observations?: unknown[] }, ack: Ack) =>
      ack?.({ ok: true, accepted: payload?.observations?.length ?? 0, duplicates: 0, rejected: [] }),
    );
  });
  await new Promise<void>((resolve) => http.listen(port, host, resolve));
  const address = http.address();
  const bound = typeof address === "object" && address ? address.port : port;
  return {
    url: `http://${host}:${bound}`,
    close: () => new Promise<void>((resolve) => io.close(() => resolve())),
  };
}
