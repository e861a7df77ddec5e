import type { Observation } from "@roadpulse/protocol";
import { RoadPulseError } from "./errors.js";

/** One observation batch as queued: its items keep their ids through every resend. */
export interface QueuedBatch {
  /** The SDK's own id for the batch (not sent). */
  key: string;
  observations: Observation[];
  queuedAt: string;
}

/**
 * Where the queue is kept between app starts: a phone's key-value store, a file, a database. `save`
 * gets the whole queue after each change and must not resolve before it is durable; `load` gets it
 * back at the next start.
 */
export interface QueueStorage {
  load(): Promise<QueuedBatch[]>;
  save(batches: readonly QueuedBatch[]): Promise<void>;
}

/** Kept in memory only: survives disconnects, not a restart of the app. */
export class MemoryStorage implements QueueStorage {
  #batches: QueuedBatch[] = [];
  async load(): Promise<QueuedBatch[]> {
    return [...this.#batches];
  }
  async save(batches: readonly QueuedBatch[]): Promise<void> {
    this.#batches = [...batches];
  }
}

/**
 * Observation batches not yet acknowledged, oldest first, kept in `storage` after every change (one
 * save at a time, in order), and bounded: past `maxBatches` a new batch is refused (`QUEUE_FULL`),
 * so a phone offline for days keeps what it has rather than growing without end. Without a storage
 * the queue itself is the only copy: nothing to load, nothing copied and saved at each change.
 */
export class OfflineQueue {
  #batches: QueuedBatch[] = [];
  /** Batches being sent, each with the number of its current attempt. */
  readonly #sending = new Map<string, number>();
  /** How many times each batch has been sent since this start (kept until it settles). */
  readonly #sends = new Map<string, number>();
  #attempts = 0;
  #saving: Promise<void> = Promise.resolve();
  /** Unique to this start: keys stay distinct from those of batches an earlier run left. */
  readonly #keyPrefix = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  #seq = 0;

  constructor(
    private readonly storage: QueueStorage | undefined,
    private readonly maxBatches: number,
  ) {}

  /** Reads what an earlier run of the app left. */
  async open(): Promise<void> {
    if (this.storage === undefined) return;
    const stored = await this.storage.load();
    const known = new Set(this.#batches.map((batch) => batch.key));
    this.#batches = [...stored.filter((batch) => !known.has(batch.key)), ...this.#batches];
  }

  get size(): number {
    return this.#batches.length;
  }

  /** Queues a batch; resolves once it is stored. */
  async add(observations: Observation[]): Promise<QueuedBatch> {
    if (this.#batches.length >= this.maxBatches) {
      throw new RoadPulseError("QUEUE_FULL", `${this.maxBatches} batches wait already; the batch was not queued`);
    }
    this.#seq += 1;
    const batch = {
      key: `${this.#keyPrefix}-${this.#seq}`,
      observations,
      queuedAt: new Date().toISOString(),
    };
    this.#batches.push(batch);
    await this.#save();
    return batch;
  }

  /**
   * The oldest batches not being sent, up to `count`, each marked as being sent with a new attempt
   * number: an answer to an older attempt (a timeout after a reconnect, say) then changes nothing.
   * `sends` counts this batch's sends, this one included.
   */
  take(count: number): Array<{ batch: QueuedBatch; attempt: number; sends: number }> {
    const taken: Array<{ batch: QueuedBatch; attempt: number; sends: number }> = [];
    if (count <= 0) return taken;
    for (const batch of this.#batches) {
      if (taken.length >= count) break;
      if (this.#sending.has(batch.key)) continue;
      this.#attempts += 1;
      this.#sending.set(batch.key, this.#attempts);
      const sends = (this.#sends.get(batch.key) ?? 0) + 1;
      this.#sends.set(batch.key, sends);
      taken.push({ batch, attempt: this.#attempts, sends });
    }
    return taken;
  }

  get sending(): number {
    return this.#sending.size;
  }

  /**
   * The batch is settled (acknowledged, or refused for good): it leaves the queue and the storage.
   * False when it had left already (an earlier attempt's answer came first).
   */
  async done(batch: QueuedBatch): Promise<boolean> {
    this.#sending.delete(batch.key);
    this.#sends.delete(batch.key);
    // Usually the oldest: acks come back roughly in order.
    const index = this.#batches.findIndex((queued) => queued.key === batch.key);
    if (index === -1) return false;
    this.#batches.splice(index, 1);
    await this.#save();
    return true;
  }

  /** The attempt failed: the batch goes back to waiting (its ids unchanged), unless a newer attempt is out. */
  release(batch: QueuedBatch, attempt: number): void {
    if (this.#sending.get(batch.key) === attempt) this.#sending.delete(batch.key);
  }

  /** Every batch goes back to waiting (the connection was lost with them in flight). */
  releaseAll(): void {
    this.#sending.clear();
  }

  #save(): Promise<void> {
    const { storage } = this;
    if (storage === undefined) return this.#saving;
    const snapshot = [...this.#batches];
    this.#saving = this.#saving.catch(() => undefined).then(() => storage.save(snapshot));
    return this.#saving;
  }
}
