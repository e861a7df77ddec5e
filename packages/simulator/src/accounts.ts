import { randomBytes } from "node:crypto";
import { type HttpAnswer, requestJson } from "./http.js";
import type { Recorder } from "./metrics/recorder.js";

/** Where the fleet's HTTP calls go, and from which local address (default: the machine's own). */
export interface HttpTarget {
  url: string;
  localAddress?: string;
}

export interface AccountPlan extends HttpTarget {
  accounts: number;
  /** Stable prefix: accounts are logged into when they exist (reruns), registered otherwise. */
  prefix: string;
  password: string;
  /** The device id each account's requests carry, so nginx spreads them over nodes like the app's. */
  deviceIdOf: (account: number) => string;
  concurrency?: number;
}

/** One POST, retried like the app would on a 5xx or a network error (3 attempts, growing pause). */
async function post(
  target: HttpTarget,
  path: string,
  body: object,
  metrics: Recorder,
  name: string,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  for (let attempt = 1; ; attempt++) {
    const started = performance.now();
    try {
      const response = await requestJson(`${target.url}${path}`, {
        method: "POST",
        body,
        headers,
        timeoutMs: 60_000,
        ...(target.localAddress ? { localAddress: target.localAddress } : {}),
      });
      metrics.record(`http.${name}`, performance.now() - started);
      metrics.count(`http.${name}.${response.status}`);
      if (response.status < 500 || attempt >= 3) return response;
    } catch (error) {
      metrics.count(`http.${name}.failed`);
      if (attempt >= 3) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000 * attempt));
  }
}

/** An account's login session: its access token and the refresh token that renews it. */
export interface Session {
  token: string;
  refreshToken: string;
  /** Seconds the access token lives. */
  expiresIn: number;
}

function session(response: HttpAnswer): Session {
  const body = response.json<Session>();
  return { token: body.token, refreshToken: body.refreshToken, expiresIn: body.expiresIn };
}

/**
 * Logs every account in: login first when a prefix was given (the accounts may exist from an
 * earlier run), register otherwise. Password hashing is deliberately slow on the server, so the
 * devices share accounts (`--accounts`) and the requests go a few at a time.
 */
export async function obtainSessions(plan: AccountPlan, metrics: Recorder): Promise<Session[]> {
  const prefix = plan.prefix || `sim-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
  const sessions: Session[] = new Array(plan.accounts);
  let next = 0;
  const one = async (index: number): Promise<Session> => {
    const email = `${prefix}-${index}@sim.roadpulse.test`;
    const query = `?deviceId=${encodeURIComponent(plan.deviceIdOf(index))}`;
    if (plan.prefix) {
      const login = await post(plan, `/api/auth/login${query}`, { email, password: plan.password }, metrics, "login");
      if (login.ok) return session(login);
    }
    const body = { email, password: plan.password, displayName: `sim ${index}` };
    const response = await post(plan, `/api/auth/register${query}`, body, metrics, "register");
    if (response.status !== 201) throw new Error(`register ${email}: HTTP ${response.status} ${response.text}`);
    return session(response);
  };
  const worker = async () => {
    while (next < plan.accounts) {
      const index = next++;
      sessions[index] = await one(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(plan.concurrency ?? 8, plan.accounts) }, worker));
  return sessions;
}

/** New tokens for a session (the refresh token sent is used up), or null when refused. */
export async function refreshSession(target: HttpTarget, current: Session, metrics: Recorder): Promise<Session | null> {
  const response = await post(target, "/api/auth/refresh", { refreshToken: current.refreshToken }, metrics, "refresh");
  return response.ok ? session(response) : null;
}

/**
 * Registers one device id per device (`POST /api/devices`), as each app does at its first start:
 * the server binds the id to the device's account and refuses ids it did not issue. Device `i`
 * belongs to account `i % tokens.length`.
 */
export async function registerDevices(
  target: HttpTarget,
  tokens: string[],
  devices: number,
  metrics: Recorder,
  concurrency = 16,
): Promise<string[]> {
  const ids: string[] = new Array(devices);
  let next = 0;
  const worker = async () => {
    while (next < devices) {
      const index = next++;
      const token = tokens[index % tokens.length] as string;
      const response = await post(target, "/api/devices", {}, metrics, "device", { authorization: `Bearer ${token}` });
      if (response.status !== 201) throw new Error(`device ${index}: HTTP ${response.status} ${response.text}`);
      ids[index] = response.json<{ deviceId: string }>().deviceId;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, devices) }, worker));
  return ids;
}
