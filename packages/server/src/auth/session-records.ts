import type { Collection, Db } from "mongodb";
import type { Metrics } from "../metrics/registry.js";
import { DURABLE, timedWrite } from "../store/durability.js";

/** `login_sessions`: one document per login, the durable record behind its refresh tokens. */
export interface LoginSessionDoc {
  /** 32 hex digits, random: the access and refresh tokens' `sid`. */
  _id: string;
  userId: string;
  createdAt: Date;
  /** When the login's first refresh token expires (for clean-up; refreshes carry sessions past it). */
  expiresAt: Date;
  /** Set on logout or when a used-up refresh token came again; the session then ends for good. */
  revokedAt?: Date;
  revokedFor?: string;
}

export const LOGIN_SESSIONS = "login_sessions";

/**
 * The durable side of login sessions. Redis holds their hot state (refresh-families.ts); this record
 * is written once per login and once per revocation, and read only when Redis lost a session (a
 * restart), so that losing Redis neither logs the fleet out nor revives a revoked session.
 */
export class SessionRecords {
  readonly #collection: Collection<LoginSessionDoc>;

  constructor(
    db: Db,
    private readonly metrics: Metrics,
  ) {
    this.#collection = db.collection<LoginSessionDoc>(LOGIN_SESSIONS);
  }

  async create(doc: LoginSessionDoc): Promise<void> {
    await timedWrite(this.metrics, LOGIN_SESSIONS, () => this.#collection.insertOne(doc, { writeConcern: DURABLE }));
  }

  async find(sessionId: string): Promise<LoginSessionDoc | null> {
    return await this.#collection.findOne({ _id: sessionId });
  }

  async revoke(sessionId: string, reason: string, at: Date): Promise<void> {
    await timedWrite(this.metrics, LOGIN_SESSIONS, () =>
      this.#collection.updateOne(
        { _id: sessionId, revokedAt: { $exists: false } },
        { $set: { revokedAt: at, revokedFor: reason } },
        { writeConcern: DURABLE },
      ),
    );
  }
}
