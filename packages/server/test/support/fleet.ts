import type { Socket } from "socket.io-client";
import { emitAck, HERE, observation, openDevice } from "./devices.js";
import { registerDevice } from "./env.js";

interface Batch {
  items: ReturnType<typeof observation>[];
  sending: boolean;
}

/** One ack as a device saw it: when it was sent and how long the answer took. */
export interface AckSample {
  /** Which device of the fleet sent it (its index). */
  device: number;
  event: string;
  sentAt: number;
  ms: number;
  ok: boolean;
  code?: string;
}

/**
 * A small fleet of devices that behave like the real app: each sends a location and an
 * observation batch on its own timers, keeps a batch until an ack says `ok`, and sends an
 * unacknowledged batch again with the same ids (after an error, a timeout or a reconnect), with at
 * most `maxInFlight` batches out at once. Records every ack and every id acknowledged as stored.
 */
export class TestFleet {
  readonly devices: Socket[] = [];
  readonly acks: AckSample[] = [];
  /** Ids the server acknowledged as stored (accepted now, or a duplicate of an earlier store). */
  readonly ackedIds = new Set<string>();
  /** The ids of each batch acknowledged ok, one entry per ack (a batch sent twice may appear twice). */
  readonly okBatches: string[][] = [];
  /** Batches generated and not acknowledged yet, per device. */
  readonly #pending = new Map<Socket, Batch[]>();
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #inFlight = new Map<Socket, number>();
  readonly #index = new Map<Socket, number>();
  #generating = true;

  constructor(
    private readonly options: {
      url: string;
      /** The fleet's accounts: device i belongs to account i % tokens.length (a few devices each). */
      tokens: string[];
      devices: number;
      locationEveryMs: number;
      batchEveryMs: number;
      batchSize: number;
      ackTimeoutMs: number;
      maxInFlight?: number;
    },
  ) {}

  /** Registers the devices' ids (as each app does once), then connects them and starts driving. */
  async start(): Promise<void> {
    const { tokens } = this.options;
    const tokenOf = (i: number) => tokens[i % tokens.length] as string;
    const ids = await Promise.all(
      Array.from({ length: this.options.devices }, (_, i) => registerDevice(this.options.url, tokenOf(i))),
    );
    for (const [i, id] of ids.entries()) {
      const device = openDevice(this.options.url, tokenOf(i), id);
      this.devices.push(device);
      this.#index.set(device, i);
      this.#pending.set(device, []);
      this.#inFlight.set(device, 0);
      const jitter = Math.floor(Math.random() * this.options.batchEveryMs);
      this.#every(this.options.locationEveryMs, jitter, () => this.#location(device));
      this.#every(this.options.batchEveryMs, jitter, () => {
        if (this.#generating) {
          const items = Array.from({ length: this.options.batchSize }, () => observation(HERE));
          this.#pending.get(device)?.push({ items, sending: false });
        }
        this.#flush(device);
      });
    }
  }

  /** Stops making new batches; devices keep resending what is not acknowledged. */
  stopGenerating(): void {
    this.#generating = false;
  }

  /** Batches not acknowledged yet, over all devices. */
  get unacknowledged(): number {
    let n = 0;
    for (const batches of this.#pending.values()) n += batches.length;
    return n;
  }

  close(): void {
    for (const timer of this.#timers) clearInterval(timer);
    for (const device of this.devices) device.close();
  }

  #every(ms: number, offset: number, task: () => void): void {
    const first = setTimeout(() => {
      task();
      this.#timers.push(setInterval(task, ms));
    }, offset);
    this.#timers.push(first);
  }

  async #timedAck(device: Socket, event: string, payload: unknown) {
    const sentAt = Date.now();
    try {
      const ack = await emitAck(device, event, payload, this.options.ackTimeoutMs);
      const error = ack.error as { code?: string } | undefined;
      const index = this.#index.get(device) ?? -1;
      this.acks.push({ device: index, event, sentAt, ms: Date.now() - sentAt, ok: ack.ok, code: error?.code });
      return ack;
    } catch {
      const index = this.#index.get(device) ?? -1;
      this.acks.push({ device: index, event, sentAt, ms: Date.now() - sentAt, ok: false, code: "TIMEOUT" });
      return undefined;
    }
  }

  async #location(device: Socket): Promise<void> {
    if (device.connected) await this.#timedAck(device, "location:update", HERE);
  }

  /** Sends the device's oldest unacknowledged batches, up to `maxInFlight` at once. */
  #flush(device: Socket): void {
    const pending = this.#pending.get(device) ?? [];
    const max = this.options.maxInFlight ?? 2;
    let inFlight = this.#inFlight.get(device) ?? 0;
    for (const batch of pending.slice(0, max)) {
      if (!device.connected || inFlight >= max || batch.sending) continue;
      batch.sending = true;
      inFlight++;
      this.#inFlight.set(device, inFlight);
      void this.#timedAck(device, "observations:submit", { observations: batch.items }).then((ack) => {
        batch.sending = false;
        this.#inFlight.set(device, (this.#inFlight.get(device) ?? 1) - 1);
        if (ack?.ok !== true) return; // kept: sent again with the same ids
        const rejected = new Set(((ack.rejected as Array<{ id: string }>) ?? []).map((r) => r.id));
        const stored = batch.items.filter((item) => !rejected.has(item.id)).map((item) => item.id);
        for (const id of stored) this.ackedIds.add(id);
        this.okBatches.push(stored);
        const left = this.#pending.get(device) ?? [];
        left.splice(left.indexOf(batch), 1);
      });
    }
  }
}
