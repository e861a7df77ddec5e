import { type Collection, type Db, MongoServerError, ObjectId } from "mongodb";
import type { Role } from "../auth/tokens.js";
import type { Metrics } from "../metrics/registry.js";
import { timed } from "../metrics/timing.js";
import { DUPLICATE_KEY } from "./durability.js";

export interface UserDoc {
  _id: ObjectId;
  email: string;
  displayName: string;
  passwordHash: string;
  role: Role;
  createdAt: Date;
}

export class EmailTakenError extends Error {
  constructor() {
    super("email already registered");
  }
}

/** The `users` collection. Emails are stored lower-cased; a unique index guards them. */
export class UsersRepository {
  readonly #users: Collection<UserDoc>;

  constructor(
    db: Db,
    private readonly metrics?: Metrics,
  ) {
    this.#users = db.collection<UserDoc>("users");
  }

  async create(user: Omit<UserDoc, "_id" | "createdAt">): Promise<UserDoc> {
    const doc: UserDoc = { _id: new ObjectId(), createdAt: new Date(), ...user };
    try {
      const insert = () => this.#users.insertOne(doc);
      await (this.metrics ? timed(this.metrics.mongoWriteDuration, { collection: "users" }, insert) : insert());
    } catch (error) {
      if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) throw new EmailTakenError();
      throw error;
    }
    return doc;
  }

  /** Sets an account's role; false when no account has that email. */
  async setRole(email: string, role: Role): Promise<boolean> {
    const result = await this.#users.updateOne({ email: email.toLowerCase() }, { $set: { role } });
    return result.matchedCount === 1;
  }

  async findByEmail(email: string): Promise<UserDoc | null> {
    return await this.#users.findOne({ email: email.toLowerCase() });
  }

  async findById(id: string): Promise<UserDoc | null> {
    if (!ObjectId.isValid(id)) return null;
    return await this.#users.findOne({ _id: new ObjectId(id) });
  }
}
