import { randomBytes } from "node:crypto";
import { ErrorCodes } from "@roadpulse/protocol";
import { AppError, StorageUnavailableError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics/registry.js";
import type { UserDoc, UsersRepository } from "../store/users.js";
import type { RefreshFamilies, Rotation } from "./refresh-families.js";
import type { SessionRecords } from "./session-records.js";
import type { TokenService } from "./tokens.js";

/** What a login, a registration or a refresh hands the client. */
export interface IssuedTokens {
  /** The access token (bearer and Socket.IO `auth.token`), valid `expiresIn` seconds. */
  token: string;
  refreshToken: string;
  expiresIn: number;
}

const unauthorized = (message: string) => new AppError(ErrorCodes.Unauthorized, message);

/**
 * Login sessions: each login opens one, with a short-lived access token and a refresh token that
 * rotates on every use (`POST /api/auth/refresh`). A used-up refresh token presented again means
 * two parties hold it (a thief, or a thief's victim): the whole session is revoked, and its access
 * tokens stop working on every node at once (a retry within REUSE_GRACE_MS of the rotation, from
 * a client whose answer was lost, gets the current generation again instead). Logging out revokes
 * it too. The role is read again at each refresh, so an operator's grant or revoke reaches devices
 * within an access token's life.
 */
export class LoginSessions {
  constructor(
    private readonly tokens: TokenService,
    private readonly families: RefreshFamilies,
    private readonly records: SessionRecords,
    private readonly users: UsersRepository,
    private readonly refreshTtlMs: number,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  /** Opens a session for an account that just proved who it is. */
  async start(user: UserDoc): Promise<IssuedTokens> {
    const sessionId = randomBytes(16).toString("hex");
    const userId = user._id.toHexString();
    const now = new Date();
    await this.records.create({
      _id: sessionId,
      userId,
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.refreshTtlMs),
    });
    try {
      await this.families.start(sessionId, userId);
    } catch (error) {
      // The durable record vouches for the session: Redis learns of it at its first refresh.
      if (!(error instanceof StorageUnavailableError)) throw error;
    }
    return await this.#issue(user, sessionId, 0);
  }

  /** New tokens for a current refresh token; the one presented is used up. */
  async refresh(refreshToken: unknown): Promise<{ user: UserDoc; tokens: IssuedTokens }> {
    const claims = await this.tokens.verifyRefresh(refreshToken);
    if (claims === null) {
      this.metrics.tokenRefreshes.inc({ outcome: "invalid" });
      throw unauthorized("A valid refresh token is required: log in again");
    }
    let rotation: Rotation;
    try {
      rotation = await this.families.rotate(claims.sessionId, claims.userId, claims.generation, false);
      if (rotation.kind === "unknown") {
        // Redis lost it (restarted empty): the durable record decides whether the session lives.
        // Not its `expiresAt` (the login's): a session refreshed for longer than that is still
        // alive, and the presented token's own expiry was checked with its signature.
        const record = await this.records.find(claims.sessionId);
        const live = record !== null && record.userId === claims.userId && !record.revokedAt;
        rotation = live
          ? await this.families.rotate(claims.sessionId, claims.userId, claims.generation, true)
          : { kind: "revoked" };
      }
    } catch (error) {
      if (error instanceof StorageUnavailableError) this.metrics.tokenRefreshes.inc({ outcome: "unavailable" });
      throw error;
    }
    if (rotation.kind === "reused") {
      this.metrics.tokenRefreshes.inc({ outcome: "reused" });
      this.log.warn(
        { sessionId: claims.sessionId, userId: claims.userId },
        "a used-up refresh token came again: its session is revoked",
      );
      await this.records.revoke(claims.sessionId, "reuse", new Date());
      throw unauthorized("This refresh token was used before, so its session has ended: log in again");
    }
    if (rotation.kind !== "ok") {
      this.metrics.tokenRefreshes.inc({ outcome: "revoked" });
      throw unauthorized("This session has ended: log in again");
    }
    const user = await this.users.findById(claims.userId);
    if (user === null) {
      await this.families.revoke(claims.sessionId, "account gone");
      throw unauthorized("This account no longer exists");
    }
    this.metrics.tokenRefreshes.inc({ outcome: "ok" });
    return { user, tokens: await this.#issue(user, claims.sessionId, rotation.generation) };
  }

  /** Ends the session of a refresh token: it and the session's access tokens stop working. */
  async logout(refreshToken: unknown): Promise<void> {
    const claims = await this.tokens.verifyRefresh(refreshToken);
    if (claims === null) throw unauthorized("A valid refresh token is required");
    await this.records.revoke(claims.sessionId, "logout", new Date());
    // Redis must hear it too: it is what access tokens and refreshes are checked against.
    await this.families.revoke(claims.sessionId, "logout");
  }

  async #issue(user: UserDoc, sessionId: string, generation: number): Promise<IssuedTokens> {
    const userId = user._id.toHexString();
    return {
      token: await this.tokens.issue({ userId, role: user.role, sessionId }),
      refreshToken: await this.tokens.issueRefresh({ userId, sessionId, generation }),
      expiresIn: this.tokens.accessSeconds,
    };
  }
}
