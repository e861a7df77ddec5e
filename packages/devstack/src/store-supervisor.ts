import { MongoClient, ObjectId } from "mongodb";
import type { MongoInstance } from "./ferretdb.js";

export interface StoreSupervisorOptions {
  /** The database the nodes use: the check reads there, where the data path does. */
  database?: string;
  /** How often the store is checked (5 s). */
  intervalMs?: number;
  /** A check unanswered this long failed (5 s: half again the nodes' own 10 s call deadline). */
  timeoutMs?: number;
  /**
   * Consecutive failed checks before the store counts as stalled and is restarted (3: a store
   * silent for 15 s or more, long after every node call has failed, and never a merely busy one).
   */
  failures?: number;
  log: (line: string) => void;
}

/**
 * Watches the local cluster's store and restarts it when it stalls. A stalled store accepts
 * connections and answers nothing, not even `ping`, and never recovers on its own; every node then
 * answers STORAGE_UNAVAILABLE (their calls are bounded) until it is back. The check is what the
 * data path needs, not just `ping`: an indexed read (`findOne` by `_id` in `users`) with a
 * deadline, on a connection of its own. A busy store (seen: checks of 2 s missed while the
 * aggregator's updates held SQLite's one writer) must not be killed, hence the generous defaults.
 * Before killing a stalled FerretDB it asks for a goroutine dump (SIGQUIT writes it to the store's
 * log), so the cause of the stall can be read afterwards. A store process that exited (a crash, an
 * OOM kill, an operator's kill) is restarted at once, not after the checks a stall needs.
 */
export class StoreSupervisor {
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #checking = false;
  #stopped = false;
  restarts = 0;

  constructor(
    private instance: MongoInstance,
    private readonly restart: () => Promise<MongoInstance>,
    private readonly options: StoreSupervisorOptions,
  ) {}

  get current(): MongoInstance {
    return this.instance;
  }

  start(): void {
    this.#timer = setInterval(() => void this.#check(), this.options.intervalMs ?? 5_000);
    this.#timer.unref();
    this.#watchExit();
  }

  /** A check as soon as the current store process exits (then a restart: see #check). */
  #watchExit(): void {
    const watched = this.instance;
    void watched.service?.exited.then(() => {
      if (!this.#stopped && this.instance === watched) void this.#check();
    });
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }

  /** One check; true when the store answered in time. */
  async answers(): Promise<boolean> {
    const timeoutMs = this.options.timeoutMs ?? 5_000;
    const client = new MongoClient(`${this.instance.baseUri}/${this.options.database ?? "roadpulse"}`, {
      serverSelectionTimeoutMS: timeoutMs,
      connectTimeoutMS: timeoutMs,
      socketTimeoutMS: timeoutMs,
      maxPoolSize: 1,
    });
    try {
      await client.db().collection("users").findOne({ _id: new ObjectId() }, { maxTimeMS: timeoutMs });
      return true;
    } catch {
      return false;
    } finally {
      await client.close(true).catch(() => undefined);
    }
  }

  async #check(): Promise<void> {
    if (this.#checking || this.#stopped) return;
    this.#checking = true;
    try {
      const service = this.instance.service;
      const exited = service !== undefined && !service.running;
      if (exited) {
        this.options.log(`store on port ${this.instance.port} exited (code ${await service.exited}); restarting it`);
      } else {
        if (await this.answers()) {
          this.#failures = 0;
          return;
        }
        this.#failures += 1;
        const limit = this.options.failures ?? 3;
        if (this.#failures < limit || this.#stopped) return;
        this.options.log(
          `store on port ${this.instance.port} did not answer ${limit} checks in a row; restarting it (a goroutine dump goes to its log)`,
        );
      }
      // SIGQUIT: a Go program prints every goroutine's stack and exits; SIGKILL after 3 s. SIGCONT
      // too, so a stopped process (SIGSTOP, a debugger) gets to handle it.
      if (service?.running) {
        const exited = service.stop("SIGQUIT", 3_000);
        service.child.kill("SIGCONT");
        await exited;
      }
      this.instance = await this.restart();
      this.restarts += 1;
      this.#failures = 0;
      this.options.log(`store is back on port ${this.instance.port}`);
      this.#watchExit();
    } catch (error) {
      this.options.log(`store restart failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.#checking = false;
    }
  }
}
