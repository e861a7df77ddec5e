import type { IncomingMessage } from "node:http";
import proxyAddr from "@fastify/proxy-addr";
import { isLoopbackAddress } from "../client-address.js";

/** What an Engine.IO session exposes here: its opening request and its end. */
interface EngineSession {
  request: IncomingMessage;
  once(event: "close", listener: () => void): unknown;
  off(event: "close", listener: () => void): unknown;
  close(discard?: boolean): void;
}

/**
 * Engine.IO sessions opened but not authenticated yet, per client address. Anyone can open an
 * Engine.IO session (a polling handshake needs no token: authentication is the Socket.IO CONNECT
 * that follows); without a bound one client held hundreds. A session counts from its opening
 * request until it authenticates or closes, and one still unauthenticated after `timeoutMs` is
 * dropped (Socket.IO's own connect timeout closes it gracefully, which for a polling session that
 * stopped polling takes another 30 s). An address at `max` gets no new session. The address is the client's as nginx
 * reports it (`X-Forwarded-For`, believed from `TRUST_PROXY` peers, as for HTTP). Loopback
 * clients (this machine's own: the load generator, probes) are not counted. A real device
 * authenticates in its first round trip, so even many phones behind one carrier address stay far
 * below the default.
 */
export class PendingSessions {
  readonly #byAddress = new Map<string, number>();
  readonly #open = new Map<EngineSession, { address: string; timer: NodeJS.Timeout; onClose: () => void }>();
  readonly #trust: (address: string, hop: number) => boolean;

  constructor(
    private readonly max: number,
    private readonly timeoutMs: number,
    trustProxy: string,
  ) {
    this.#trust = proxyAddr.compile(trustProxy.split(",").map((part) => part.trim()));
  }

  /** Whether a new session may open for this request's client. */
  admits(request: IncomingMessage): boolean {
    const address = this.#addressOf(request);
    return address === null || (this.#byAddress.get(address) ?? 0) < this.max;
  }

  /** A session was opened (Engine.IO's `connection`); it counts until it authenticates or closes. */
  opened(session: EngineSession): void {
    const address = this.#addressOf(session.request);
    if (address === null) return;
    this.#byAddress.set(address, (this.#byAddress.get(address) ?? 0) + 1);
    const timer = setTimeout(() => {
      if (!this.#open.has(session)) return;
      this.settled(session);
      session.close(true);
    }, this.timeoutMs);
    timer.unref();
    const onClose = () => this.settled(session);
    this.#open.set(session, { address, timer, onClose });
    session.once("close", onClose);
  }

  /** The session authenticated (or closed): it no longer counts. Idempotent. */
  settled(session: EngineSession): void {
    const entry = this.#open.get(session);
    if (entry === undefined) return;
    this.#open.delete(session);
    clearTimeout(entry.timer);
    // An authenticated session lives on: its listener would be kept with it for nothing.
    session.off("close", entry.onClose);
    const { address } = entry;
    const left = (this.#byAddress.get(address) ?? 1) - 1;
    if (left <= 0) this.#byAddress.delete(address);
    else this.#byAddress.set(address, left);
  }

  /** The client's address, or null for this machine's own clients. */
  #addressOf(request: IncomingMessage): string | null {
    const address = proxyAddr(request, this.#trust);
    return isLoopbackAddress(address) ? null : address;
  }
}
