import pino, { type Logger } from "pino";

/** One pino logger per node; every line carries the node id so merged logs stay readable. */
export function createLogger(nodeId: string, level: string): Logger {
  return pino({ level, base: { node: nodeId, pid: process.pid } });
}

export type { Logger };
