import { type HttpTarget, refreshSession, type Session } from "./accounts.js";
import type { Recorder } from "./metrics/recorder.js";

/**
 * Keeps the accounts' access tokens fresh, as the app does: each session is refreshed once two
 * thirds of its access token's life have passed, and whoever connects next (a device reconnecting
 * after a node's death, say) reads the current token. One keeper per fleet, in one process: a
 * refresh token works once, so two holders refreshing the same session would end it.
 */
export class TokenKeeper {
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;

  constructor(
    private readonly target: HttpTarget,
    private readonly sessions: Session[],
    private readonly metrics: Recorder,
    /** Told the account's new access token after each refresh. */
    private readonly onToken: (account: number, token: string) => void = () => {},
  ) {}

  /** The account's current access token. */
  token(account: number): string {
    return (this.sessions[account] as Session).token;
  }

  get tokens(): string[] {
    return this.sessions.map((session) => session.token);
  }

  start(): void {
    for (const [account, session] of this.sessions.entries()) {
      this.#schedule(account, session.expiresIn * 1000 * (2 / 3));
    }
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #schedule(account: number, delayMs: number): void {
    if (this.#stopped) return;
    // Spread over a tenth of the delay, so a fleet's accounts do not all refresh in the same second.
    const timer = setTimeout(
      () => {
        this.#timers.delete(timer);
        void this.#refresh(account);
      },
      delayMs * (0.9 + Math.random() * 0.1),
    );
    timer.unref();
    this.#timers.add(timer);
  }

  async #refresh(account: number): Promise<void> {
    const current = this.sessions[account] as Session;
    const next = await refreshSession(this.target, current, this.metrics).catch(() => null);
    if (next === null) {
      // Refused or unreachable: try again soon; the access token may still have some life.
      this.#schedule(account, 10_000);
      return;
    }
    this.sessions[account] = next;
    this.onToken(account, next.token);
    this.#schedule(account, next.expiresIn * 1000 * (2 / 3));
  }
}
