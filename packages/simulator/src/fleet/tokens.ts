import type { TokenSource } from "@roadpulse/client";

/** How long a device refused as UNAUTHORIZED waits for a renewed token before it tries again anyway. */
const WAIT_FOR_RENEWAL_MS = 10_000;

/**
 * An account's access token as the account's devices read it: one object shared by all of them,
 * renewed from outside (the coordinator's TokenKeeper, which alone holds the refresh token: a
 * refresh token works once). No timer per device and none per account until a device asks.
 */
export class SharedToken implements TokenSource {
  #token: string;
  #renewed: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(
    token: string,
    private readonly waitMs = WAIT_FOR_RENEWAL_MS,
  ) {
    this.#token = token;
  }

  get token(): string {
    return this.#token;
  }

  /** The keeper renewed the token: devices read it at their next (re)connection. */
  set(token: string): void {
    this.#token = token;
    this.#wake?.();
  }

  /**
   * A device's handshake was refused as UNAUTHORIZED: the keeper renews on its own schedule, so
   * the device waits for the next token (or a while, if the keeper is failing) and tries again.
   */
  refresh(): Promise<void> {
    this.#renewed ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.#wake?.(), this.waitMs);
      timer.unref();
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        this.#renewed = undefined;
        resolve();
      };
    });
    return this.#renewed;
  }
}
