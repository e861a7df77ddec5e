import { type Db, MongoClient, ObjectId } from "mongodb";
import { answersWithin } from "../deadline.js";
import type { Logger } from "../log.js";
import { ensureIndexes } from "./indexes.js";

/** What the health probe reads: `users` by primary key, the read every login and handshake does. */
const PROBE_COLLECTION = "users";
const PROBE_ID = new ObjectId("000000000000000000000000");

/**
 * The node's MongoDB connection. The driver reconnects by itself; this wrapper bounds every call,
 * adds a bounded health ping and creates the indexes once the server is first reachable, retrying
 * in the background so a node started before its database still comes up and heals.
 */
export class MongoConnection {
  readonly client: MongoClient;
  readonly db: Db;
  #indexesReady = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    uri: string,
    dbName: string,
    appName: string,
    private readonly log: Logger,
    timeoutMs = 10_000,
  ) {
    this.client = new MongoClient(uri, {
      appName,
      serverSelectionTimeoutMS: 2_000,
      connectTimeoutMS: 2_000,
      // Every call is bounded: a store that keeps a connection open without answering fails the
      // call after `timeoutMs` and the connection is dropped (the pool heals by opening new ones);
      // a call never queues longer than that for a pooled connection either.
      socketTimeoutMS: timeoutMs,
      waitQueueTimeoutMS: timeoutMs,
      maxPoolSize: 20,
    });
    this.db = this.client.db(dbName);
  }

  get indexesReady(): boolean {
    return this.#indexesReady;
  }

  /** Connects and prepares indexes; on failure keeps retrying in the background and resolves. */
  async start(): Promise<void> {
    await this.#prepare();
  }

  async #prepare(attempt = 1): Promise<void> {
    if (this.#closed) return;
    let step = "connect";
    try {
      await this.client.connect();
      step = "index set-up";
      const created = await ensureIndexes(this.db);
      this.#indexesReady = true;
      this.log.info({ db: this.db.databaseName, created }, "MongoDB connected, indexes ready");
    } catch (error) {
      // Back off (2 s doubling to 30 s): a store that fails a request at every try must not be
      // hammered by every node of the cluster.
      const delayMs = Math.min(2_000 * 2 ** (attempt - 1), 30_000);
      this.log.warn({ err: error, attempt, step }, `MongoDB ${step} failed, retrying in ${delayMs / 1000} s`);
      this.#retryTimer = setTimeout(() => void this.#prepare(attempt + 1), delayMs);
      this.#retryTimer.unref();
    }
  }

  /** A real round trip, bounded in time; `false` on any failure. */
  async ping(timeoutMs = 1_000): Promise<boolean> {
    return await answersWithin(async () => (await this.db.command({ ping: 1 })).ok === 1, timeoutMs);
  }

  /**
   * Whether the data path can be served: the indexes are in place and a read by primary key
   * answers within `timeoutMs`. A stalled store can still answer `ping` from its protocol layer
   * while every read of a collection waits for its storage engine; this probe waits for the
   * engine, as every request does (`maxTimeMS` bounds it on the server too).
   */
  async serving(timeoutMs = 1_000): Promise<boolean> {
    if (!this.#indexesReady) return false;
    return await answersWithin(async () => {
      await this.db
        .collection<{ _id: ObjectId }>(PROBE_COLLECTION)
        .findOne({ _id: PROBE_ID }, { projection: { _id: 1 }, maxTimeMS: timeoutMs });
      return true;
    }, timeoutMs);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    await this.client.close();
  }
}
