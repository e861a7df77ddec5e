import { errors, jwtVerify, SignJWT } from "jose";

export type Role = "user" | "admin";

export interface TokenClaims {
  userId: string;
  role: Role;
}

const ISSUER = "roadpulse";
const AUDIENCE = "roadpulse-api";
/** Devices stay logged in for a month; a new login issues a new token. */
export const TOKEN_LIFETIME_SECONDS = 30 * 24 * 3600;

/** HS256 JWTs: every node shares JWT_SECRET, so any node verifies a token another node issued. */
export class TokenService {
  readonly #key: Uint8Array;

  constructor(secret: string) {
    this.#key = new TextEncoder().encode(secret);
  }

  async issue(claims: TokenClaims): Promise<string> {
    return await new SignJWT({ role: claims.role })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(claims.userId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${TOKEN_LIFETIME_SECONDS}s`)
      .sign(this.#key);
  }

  /** The claims of a valid token, or `null` for anything else (expired, forged, malformed). */
  async verify(token: unknown): Promise<TokenClaims | null> {
    if (typeof token !== "string" || token.length === 0 || token.length > 4096) return null;
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        algorithms: ["HS256"],
        issuer: ISSUER,
        audience: AUDIENCE,
      });
      const role = payload.role === "admin" ? "admin" : "user";
      if (typeof payload.sub !== "string" || !/^[0-9a-f]{24}$/.test(payload.sub)) return null;
      return { userId: payload.sub, role };
    } catch (error) {
      if (error instanceof errors.JOSEError) return null;
      throw error;
    }
  }
}
