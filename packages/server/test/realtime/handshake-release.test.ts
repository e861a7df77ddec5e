import { ClientEvents } from "@roadpulse/protocol";
import { describe, expect, it, onTestFinished } from "vitest";
import { connectDevice, nodePerFile, register } from "../support/env.js";

/**
 * Once a connection is authenticated, the node keeps nothing of its opening request: not the
 * headers, not the query, not the access token (they were most of each connection's memory, and a
 * token kept for the life of a connection is one a heap dump would show). Devices keep working on
 * either transport, including the upgrade from long-polling to websocket that comes after it.
 */
describe("the handshake's request, once the socket is connected", () => {
  const theNode = nodePerFile();

  for (const transports of [["websocket"], ["polling", "websocket"]] as const) {
    it(`is let go, and the device is still served (${transports.join(" then ")})`, async () => {
      const account = await register(theNode().url, "handshake");
      const device = await connectDevice(theNode().url, account.token, { transports: [...transports] });
      onTestFinished(() => {
        device.close();
      });
      const server = theNode()
        .io.of("/")
        .sockets.get(device.id ?? "");
      expect(server).toBeDefined();
      expect((server?.conn as unknown as { request: unknown }).request).toBeNull();
      expect(JSON.stringify(server?.handshake)).not.toContain(account.token);
      expect(server?.handshake.headers).toEqual({});
      // What the handlers need was copied before: the device's own id and account.
      expect(server?.data.userId).toBe(account.userId);

      if (transports.length > 1) {
        await new Promise<void>((resolve) => {
          if (device.io.engine.transport.name === "websocket") resolve();
          else device.io.engine.once("upgrade", () => resolve());
        });
      }
      const ack = await device
        .timeout(10_000)
        .emitWithAck(ClientEvents.LocationUpdate, { latitude: 28.6139, longitude: 77.209 });
      expect(ack).toMatchObject({ ok: true });
      const beat = await device.timeout(10_000).emitWithAck(ClientEvents.Heartbeat, {});
      expect(beat).toMatchObject({ ok: true });
    });
  }
});
