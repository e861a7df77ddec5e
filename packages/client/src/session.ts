import { RoadPulseError } from "./errors.js";

/** What login, register and refresh answer. */
export interface Tokens {
  token: string;
  refreshToken: string;
  /** Seconds the access token lives. */
  expiresIn: number;
}

export interface Account {
  id: string;
  email: string;
  displayName: string;
  role: string;
}

/** The HTTP side: JSON in and out, every request with a deadline. */
export async function call<T>(
  baseUrl: string,
  path: string,
  options: { body?: unknown; token?: string; timeoutMs: number; method?: string },
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${baseUrl}${path}`, {
      method: options.method ?? "POST",
      headers: {
        ...(options.body === undefined ? {} : { "content-type": "application/json" }),
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (error) {
    throw new RoadPulseError("NETWORK", `${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const text = await response.text();
  const body = text === "" ? {} : (JSON.parse(text) as { error?: { code: string; message: string } });
  if (!response.ok) {
    const error = body.error ?? { code: "INTERNAL", message: `HTTP ${response.status}` };
    throw new RoadPulseError(error.code, error.message, response.status);
  }
  return body as T;
}

/**
 * One login session: the access token every request and (re)connection presents, renewed with the
 * refresh token once two thirds of its life have passed, so it never lapses while the app runs. A
 * refresh token works once: one session object per login, never two refreshing the same one.
 */
export class LoginSession {
  #tokens: Tokens;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #refreshing: Promise<void> | undefined;
  #closed = false;
  readonly #listeners = new Set<(tokens: Tokens) => void>();

  constructor(
    private readonly baseUrl: string,
    readonly account: Account,
    tokens: Tokens,
    private readonly timeoutMs = 10_000,
  ) {
    this.#tokens = tokens;
    this.#schedule(tokens.expiresIn * 1000 * (2 / 3));
  }

  static async login(baseUrl: string, credentials: { email: string; password: string }): Promise<LoginSession> {
    const answer = await call<Tokens & { user: Account }>(baseUrl, "/api/auth/login", {
      body: credentials,
      timeoutMs: 10_000,
    });
    return new LoginSession(baseUrl, answer.user, answer);
  }

  static async register(
    baseUrl: string,
    details: { email: string; password: string; displayName: string },
  ): Promise<LoginSession> {
    const answer = await call<Tokens & { user: Account }>(baseUrl, "/api/auth/register", {
      body: details,
      timeoutMs: 10_000,
    });
    return new LoginSession(baseUrl, answer.user, answer);
  }

  /** The current access token. */
  get token(): string {
    return this.#tokens.token;
  }

  /** The current refresh token (an app keeps it to resume the session after a restart). */
  get refreshToken(): string {
    return this.#tokens.refreshToken;
  }

  /** Told the new tokens after each refresh (an app keeps the refresh token to log in again later). */
  onRefresh(listener: (tokens: Tokens) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Renews the tokens now (one refresh at a time, however many callers ask). */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  /** A device id for this installation (`POST /api/devices`): ask once, keep it with the app. */
  async registerDevice(): Promise<string> {
    const answer = await call<{ deviceId: string }>(this.baseUrl, "/api/devices", {
      token: this.token,
      timeoutMs: this.timeoutMs,
    });
    return answer.deviceId;
  }

  /** Ends the session on the server (every token of it is refused from now on) and here. */
  async logout(): Promise<void> {
    this.close();
    await call(this.baseUrl, "/api/auth/logout", {
      body: { refreshToken: this.#tokens.refreshToken },
      timeoutMs: this.timeoutMs,
    });
  }

  /** Stops renewing (the tokens stay valid until they expire). */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }

  async #refresh(): Promise<void> {
    const next = await call<Tokens>(this.baseUrl, "/api/auth/refresh", {
      body: { refreshToken: this.#tokens.refreshToken },
      timeoutMs: this.timeoutMs,
    });
    this.#tokens = { token: next.token, refreshToken: next.refreshToken, expiresIn: next.expiresIn };
    for (const listener of this.#listeners) listener(this.#tokens);
    this.#schedule(next.expiresIn * 1000 * (2 / 3));
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      // Refused or unreachable: try again soon; the access token may still have some life.
      this.refresh().catch(() => this.#schedule(Math.min(10_000, delayMs)));
    }, delayMs);
    (this.#timer as { unref?: () => void }).unref?.();
  }
}
