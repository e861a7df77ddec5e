import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { type AddressInfo, connect } from "node:net";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ConnectionHandover, sessionIdFor, workerIdOfRequestLine } from "../../src/cluster/handover.js";

const WORKER = fileURLToPath(new URL("../support/handover-worker.mjs", import.meta.url));

/**
 * The primary's hand-over of TCP connections to workers (cluster/handover.ts), with stand-in
 * worker processes: nothing a client sends is lost, whenever it arrives, and requests of an
 * Engine.IO session reach the worker that holds it.
 */
describe("connection hand-over", () => {
  const children: ChildProcess[] = [];
  let handover: ConnectionHandover | undefined;

  afterEach(async () => {
    handover?.server.close();
    handover = undefined;
    for (const child of children.splice(0)) {
      child.kill("SIGKILL");
      if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
    }
  });

  const startWorker = async (name: string): Promise<ChildProcess> => {
    const child = fork(WORKER, [], { env: { ...process.env, WORKER_NAME: name }, execArgv: [] });
    children.push(child);
    await new Promise<void>((resolve) =>
      child.on("message", (message: { type?: string }) => {
        if (message?.type === "up") resolve();
      }),
    );
    return child;
  };

  const start = async (workers: Array<[number, ChildProcess]>): Promise<number> => {
    const current = new ConnectionHandover(pino({ level: "silent" }));
    handover = current;
    for (const [id, child] of workers) {
      current.add(id, child);
      current.ready(id);
      child.on("message", (message) => current.onMessage(id, message));
    }
    current.server.listen(0, "127.0.0.1");
    await once(current.server, "listening");
    return (current.server.address() as AddressInfo).port;
  };

  /** Sends `parts` with `gapMs` between them and resolves with the whole response. */
  const request = async (port: number, parts: string[], gapMs = 0): Promise<string> => {
    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    let response = "";
    socket.on("data", (chunk: Buffer) => {
      response += chunk.toString("latin1");
    });
    const closed = once(socket, "close");
    for (const [index, part] of parts.entries()) {
      if (index > 0 && gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
      socket.write(part);
    }
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`no complete answer; got: ${JSON.stringify(response)}`)), 8_000),
    );
    await Promise.race([closed, timeout]).finally(() => socket.destroy());
    return response;
  };

  it("loses nothing the client sends while the worker has not yet taken the connection", async () => {
    // The worker's event loop is stopped, so it cannot acknowledge the handed-over socket; the rest
    // of the request arrives in that window. Node drops whatever the primary reads then.
    const worker = await startWorker("a");
    const port = await start([[1, worker]]);
    worker.send({ type: "block", ms: 1_500 });
    await new Promise<void>((resolve) =>
      worker.on("message", (message: { type?: string }) => {
        if (message?.type === "blocking") resolve();
      }),
    );
    const response = await request(
      port,
      ["GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n", "Host: roadpulse.test\r\n", "X-Late: yes\r\n\r\n"],
      300,
    );
    expect(response).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(response).toContain("Host: roadpulse.test\r\nX-Late: yes\r\n\r\n");
    expect(handover?.stats.handedOver).toBe(1);
  }, 20_000);

  it("hands a request of an Engine.IO session to the worker that named it, others to the least loaded", async () => {
    const a = await startWorker("a");
    const b = await startWorker("b");
    const port = await start([
      [1, a],
      [2, b],
    ]);
    // Worker 1 holds two sessions, worker 2 none: fresh connections go to worker 2.
    handover?.onMessage(1, { type: "roadpulse:session", opened: true });
    handover?.onMessage(1, { type: "roadpulse:session", opened: true });
    const fresh = await request(port, ["GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: t\r\n\r\n"]);
    expect(fresh).toContain("worker b\n");
    // A session of worker 1 goes there however loaded it is, even when the line comes in pieces.
    const sid = sessionIdFor(1, "AbC_d-123");
    const owned = await request(
      port,
      [`GET /socket.io/?EIO=4&transport=polling&s`, `id=${sid} HTTP/1.1\r\nHost: t\r\n\r\n`],
      100,
    );
    expect(owned).toContain("worker a\n");
    expect(handover?.stats.bySession).toBe(1);
    // A session of a worker that is gone: the least loaded worker answers (and will say it is unknown).
    const orphan = await request(port, [
      `GET /socket.io/?EIO=4&transport=polling&sid=${sessionIdFor(7, "x")} HTTP/1.1\r\nHost: t\r\n\r\n`,
    ]);
    expect(orphan).toContain("worker b\n");
  }, 20_000);

  it("hands nothing to a worker that is not ready yet, however idle, nor to one that is gone", async () => {
    const current = new ConnectionHandover(pino({ level: "silent" }));
    handover = current;
    const a = await startWorker("a");
    const b = await startWorker("b");
    current.add(1, a);
    current.ready(1);
    for (let i = 0; i < 5; i++) current.onMessage(1, { type: "roadpulse:session", opened: true });
    // Worker 2 (a restart after a crash, say) has no session but has not said it is ready.
    current.add(2, b);
    current.server.listen(0, "127.0.0.1");
    await once(current.server, "listening");
    const port = (current.server.address() as AddressInfo).port;
    for (let i = 0; i < 3; i++) {
      expect(await request(port, ["GET /health HTTP/1.1\r\nHost: t\r\n\r\n"])).toContain("worker a\n");
    }
    current.ready(2);
    expect(await request(port, ["GET /health HTTP/1.1\r\nHost: t\r\n\r\n"])).toContain("worker b\n");
    current.remove(1);
    const sid = sessionIdFor(1, "gone");
    expect(await request(port, [`GET /socket.io/?EIO=4&sid=${sid} HTTP/1.1\r\nHost: t\r\n\r\n`])).toContain(
      "worker b\n",
    );
  }, 20_000);

  it("answers 503 while no worker is ready", async () => {
    const current = new ConnectionHandover(pino({ level: "silent" }));
    handover = current;
    current.add(1, await startWorker("a"));
    current.server.listen(0, "127.0.0.1");
    await once(current.server, "listening");
    const response = await request((current.server.address() as AddressInfo).port, [
      "GET /health HTTP/1.1\r\nHost: t\r\n\r\n",
    ]);
    expect(response).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
  });

  it("reads the worker from a session id only", () => {
    expect(
      workerIdOfRequestLine(`GET /socket.io/?EIO=4&transport=polling&sid=${sessionIdFor(12, "r4nd0m")} HTTP/1.1`),
    ).toBe(12);
    expect(workerIdOfRequestLine("GET /socket.io/?EIO=4&transport=polling HTTP/1.1")).toBeUndefined();
    expect(workerIdOfRequestLine("GET /api/users/me?deviceId=a&xsid=3.x HTTP/1.1")).toBeUndefined();
  });
});
