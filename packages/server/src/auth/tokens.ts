import { type Role, Roles } from "@roadpulse/protocol";
import { errors, jwtVerify, SignJWT } from "jose";

export type { Role };

export interface TokenClaims {
  userId: string;
  role: Role;
  /** The login session the token belongs to: logging out or a reused refresh token revokes it. */
  sessionId: string;
}

/** A refresh token's claims: its login session and which rotation of it this token is. */
export interface RefreshClaims {
  userId: string;
  sessionId: string;
  generation: number;
}

const ISSUER = "roadpulse";
const AUDIENCE = "roadpulse-api";
/** Refresh tokens carry another audience: one is never taken for the other. */
const REFRESH_AUDIENCE = "roadpulse-refresh";
const USER_ID = /^[0-9a-f]{24}$/;
const SESSION_ID = /^[0-9a-f]{32}$/;

/** Answers whether a login session was revoked (logout, reuse of a refresh token). */
export type RevocationCheck = (sessionId: string) => Promise<boolean>;

/**
 * HS256 JWTs: every node shares JWT_SECRET, so any node verifies a token another node issued.
 * Access tokens are short-lived (ACCESS_TOKEN_TTL_SECONDS) and name their login session, which a
 * revocation in Redis ends at once; refresh tokens (auth/login-sessions.ts) renew them.
 */
export class TokenService {
  readonly #key: Uint8Array;

  constructor(
    secret: string,
    private readonly lifetimes: { accessSeconds: number; refreshSeconds: number },
    private readonly isRevoked: RevocationCheck = async () => false,
  ) {
    this.#key = new TextEncoder().encode(secret);
  }

  get accessSeconds(): number {
    return this.lifetimes.accessSeconds;
  }

  async issue(claims: TokenClaims): Promise<string> {
    return await this.#sign(
      { role: claims.role, sid: claims.sessionId },
      claims.userId,
      AUDIENCE,
      this.lifetimes.accessSeconds,
    );
  }

  async issueRefresh(claims: RefreshClaims): Promise<string> {
    const payload = { sid: claims.sessionId, gen: claims.generation };
    return await this.#sign(payload, claims.userId, REFRESH_AUDIENCE, this.lifetimes.refreshSeconds);
  }

  /**
   * The claims of a valid access token whose session is not revoked, or `null` for anything else
   * (expired, forged, malformed, a refresh token, a revoked session).
   */
  async verify(token: unknown): Promise<TokenClaims | null> {
    const payload = await this.#payload(token, AUDIENCE);
    if (payload === null || typeof payload.sid !== "string" || !SESSION_ID.test(payload.sid)) return null;
    if (await this.isRevoked(payload.sid)) return null;
    return { userId: payload.sub as string, role: roleOf(payload.role), sessionId: payload.sid };
  }

  /**
   * The account of a validly signed, unexpired access token, revoked or not: enough to count a
   * request against its account's budget (a forged token gets no budget of its own).
   */
  async signedUserId(token: unknown): Promise<string | null> {
    const payload = await this.#payload(token, AUDIENCE);
    return payload === null ? null : (payload.sub as string);
  }

  /** The claims of a validly signed, unexpired refresh token (whether it is current is for Redis). */
  async verifyRefresh(token: unknown): Promise<RefreshClaims | null> {
    const payload = await this.#payload(token, REFRESH_AUDIENCE);
    if (payload === null || typeof payload.sid !== "string" || !SESSION_ID.test(payload.sid)) return null;
    if (typeof payload.gen !== "number" || !Number.isSafeInteger(payload.gen) || payload.gen < 0) return null;
    return { userId: payload.sub as string, sessionId: payload.sid, generation: payload.gen };
  }

  async #sign(payload: Record<string, unknown>, userId: string, audience: string, seconds: number): Promise<string> {
    return await new SignJWT(payload)
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(userId)
      .setIssuer(ISSUER)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime(`${seconds}s`)
      .sign(this.#key);
  }

  async #payload(token: unknown, audience: string): Promise<Record<string, unknown> | null> {
    if (typeof token !== "string" || token.length === 0 || token.length > 4096) return null;
    try {
      const { payload } = await jwtVerify(token, this.#key, { algorithms: ["HS256"], issuer: ISSUER, audience });
      if (typeof payload.sub !== "string" || !USER_ID.test(payload.sub)) return null;
      return payload;
    } catch (error) {
      if (error instanceof errors.JOSEError) return null;
      throw error;
    }
  }
}

/** A token's role claim; anything unknown reads as the least privileged role. */
function roleOf(claim: unknown): Role {
  return Roles.find((role) => role === claim) ?? "user";
}
