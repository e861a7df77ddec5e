import { StorageUnavailableError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics/registry.js";
import type { IngestJournal, JournalEntry } from "../store/ingest-journal.js";
import type { ObservationDoc, ObservationsRepository } from "../store/observations.js";

/** An observation ready to store, before it is given the group's batch id. */
export type NewObservation = Omit<ObservationDoc, "batch">;

/** What a group insert did with one submitter's observations. */
export interface CommitResult {
  inserted: ObservationDoc[];
  duplicates: number;
}

export interface GroupCommitOptions {
  /** How long the first waiting batch gathers company before a group insert starts (0: next tick). */
  lingerMs: number;
  /** Observations waiting at most; past it a batch is refused at once (the store is behind). */
  maxPending: number;
  /** Observations in one insert at most. */
  maxGroup: number;
  /** Group inserts in flight at once. */
  maxInFlight: number;
}

export const GROUP_COMMIT_DEFAULTS: GroupCommitOptions = {
  lingerMs: 2,
  maxPending: 20_000,
  maxGroup: 2_000,
  maxInFlight: 2,
};

interface Waiting {
  docs: NewObservation[];
  resolve: (result: CommitResult) => void;
  reject: (error: unknown) => void;
}

/** Where a group's stored observations go next: the aggregator's queue. */
export type OnCommitted = (entry: JournalEntry, inserted: ObservationDoc[]) => void;

/**
 * Group commit of observations: the batches of many devices that arrive within a few milliseconds
 * (or while earlier inserts are in flight) are stored by one journal entry and one `insertMany`,
 * and each batch is answered only once the store confirmed its own observations. A device's ack
 * therefore costs a share of two store round trips, not two of its own, and the store sees a few
 * large inserts instead of a stream of small ones.
 *
 * Bounded: at most `maxPending` observations wait; past it a batch is refused at once with
 * STORAGE_UNAVAILABLE (the device keeps it and sends it later) instead of queueing for ever while
 * the store is behind. A failed group fails every batch in it; its journal entry stays behind and
 * recovery folds whatever of it the store did keep, so an answer of "unavailable" never loses an
 * observation that was in fact stored, and a resend of it counts as a duplicate.
 */
export class GroupCommit {
  #waiting: Waiting[] = [];
  #waitingObservations = 0;
  #inFlight = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly journal: IngestJournal,
    private readonly observations: ObservationsRepository,
    private readonly onCommitted: OnCommitted,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly options: GroupCommitOptions = GROUP_COMMIT_DEFAULTS,
  ) {}

  /** Observations waiting for, or in, a group insert. */
  get pending(): number {
    return this.#waitingObservations;
  }

  /** Stores `docs` with the next group; resolves with what this call stored once it is durable. */
  submit(docs: NewObservation[]): Promise<CommitResult> {
    if (this.#waitingObservations + docs.length > this.options.maxPending) {
      this.metrics.observations.inc({ result: "shed" }, docs.length);
      return Promise.reject(
        new StorageUnavailableError(
          `the store is behind: ${this.#waitingObservations} observations are waiting to be stored; send this batch again later`,
        ),
      );
    }
    return new Promise<CommitResult>((resolve, reject) => {
      this.#waiting.push({ docs, resolve, reject });
      this.#waitingObservations += docs.length;
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#waiting.length === 0 || this.#inFlight >= this.options.maxInFlight) return;
    if (this.#waitingObservations >= this.options.maxGroup) {
      this.#startGroup();
      return;
    }
    if (this.#timer !== null) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#startGroup();
    }, this.options.lingerMs);
  }

  #startGroup(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#waiting.length === 0 || this.#inFlight >= this.options.maxInFlight) return;
    const group: Waiting[] = [];
    let size = 0;
    while (
      this.#waiting.length > 0 &&
      (group.length === 0 || size + (this.#waiting[0]?.docs.length ?? 0) <= this.options.maxGroup)
    ) {
      const next = this.#waiting.shift() as Waiting;
      group.push(next);
      size += next.docs.length;
    }
    this.#waitingObservations -= size;
    this.#inFlight += 1;
    this.metrics.ingestGroupSize.observe(size);
    void this.#commit(group).finally(() => {
      this.#inFlight -= 1;
      this.#schedule();
    });
    // Another insert may start beside this one with what is still waiting.
    this.#schedule();
  }

  async #commit(group: Waiting[]): Promise<void> {
    let entry: JournalEntry;
    let stored: CommitResult;
    const { docs, owner } = groupDocs(group);
    try {
      entry = await this.journal.open();
      stored = await this.observations.insertNew(docs.map((doc) => ({ ...doc, batch: entry.batch })));
    } catch (error) {
      this.log.warn({ err: error, batches: group.length, observations: docs.length }, "group insert failed");
      for (const waiting of group) waiting.reject(error);
      return;
    }
    // The aggregator gets the whole group at once (one journal entry), before any ack goes out.
    this.onCommitted(entry, stored.inserted);
    const byId = new Map(stored.inserted.map((doc) => [doc._id, doc]));
    for (const waiting of group) {
      const inserted: ObservationDoc[] = [];
      const counted = new Set<string>();
      for (const doc of waiting.docs) {
        // The first batch of the group holding an id owns it; any other copy is a duplicate.
        const kept = byId.get(doc._id);
        if (kept === undefined || owner.get(doc._id) !== waiting || counted.has(doc._id)) continue;
        counted.add(doc._id);
        inserted.push(kept);
      }
      waiting.resolve({ inserted, duplicates: waiting.docs.length - inserted.length });
    }
  }
}

/** The group's observations, each id once, and which batch of the group holds each id first. */
function groupDocs(group: Waiting[]): { docs: NewObservation[]; owner: Map<string, Waiting> } {
  const owner = new Map<string, Waiting>();
  const docs: NewObservation[] = [];
  for (const waiting of group) {
    for (const doc of waiting.docs) {
      if (owner.has(doc._id)) continue;
      owner.set(doc._id, waiting);
      docs.push(doc);
    }
  }
  return { docs, owner };
}
