// A stand-in worker for handover.test.ts: takes the connections a ConnectionHandover sends it the
// way a RoadPulse worker does (the head bytes first, then whatever it reads itself) and answers
// each complete request head with the bytes it received. On "block" it stops its event loop for a
// while, so it cannot acknowledge a handle: the window in which the primary must not read.
import { Socket } from "node:net";

process.on("message", (message, handle) => {
  if (message?.type === "block") {
    process.send({ type: "blocking" }, () => {
      const until = Date.now() + message.ms;
      while (Date.now() < until) {
        // busy: no IPC read, no acknowledgement
      }
    });
    return;
  }
  if (message?.type !== "roadpulse:connection" || !(handle instanceof Socket)) return;
  let received = Buffer.alloc(0);
  const onData = (chunk) => {
    received = Buffer.concat([received, chunk]);
    if (!received.includes("\r\n\r\n")) return;
    handle.off("data", onData);
    const body = `worker ${process.env.WORKER_NAME}\n${received.toString("latin1")}`;
    handle.end(`HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  };
  handle.on("data", onData);
  handle.emit("data", Buffer.from(message.head, "base64"));
  handle.resume();
});
process.send({ type: "up" });
