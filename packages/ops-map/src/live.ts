import type { LoginSession } from "@roadpulse/client";
import {
  type Ack,
  ClientEvents,
  type HazardPage,
  type HazardSummary,
  type NodeStatusList,
  type OpsWatchAck,
  type SegmentPage,
  type SegmentSummary,
  ServerEvents,
} from "@roadpulse/protocol";
import type L from "leaflet";
import { io, type Socket } from "socket.io-client";
import { bboxParam } from "./geometry.js";
import type { RoadLayers } from "./layers.js";
import type { Panel } from "./panel.js";

/** Items the map keeps drawn before it forgets what is off screen. */
const KEEP_ITEMS = 30_000;
/** Pages of 500 read per kind for one view, at most: 10,000 segments, 5,000 hazards. */
const SEGMENT_PAGES = 20;
const HAZARD_PAGES = 10;
const ACK_TIMEOUT_MS = 10_000;

/**
 * The map's live side: one Socket.IO connection as an observer. Each time the view settles it
 * watches the regions on screen (`ops:watch`, before reading, so no change falls between the read
 * and the live updates), reads the segments and hazards there over HTTP, and then applies every
 * `segment:updated`, `hazard:updated`, `presence:updated` and `ops:nodes` as it comes.
 */
export class LiveMap {
  readonly #socket: Socket;
  #view = 0;
  #settle: ReturnType<typeof setTimeout> | undefined;
  #figures = 0;

  constructor(
    private readonly origin: string,
    private readonly session: LoginSession,
    deviceId: string,
    private readonly map: L.Map,
    private readonly layers: RoadLayers,
    private readonly panel: Panel,
  ) {
    this.#socket = io(origin, {
      auth: (send) => send({ token: session.token }),
      query: { deviceId },
      autoConnect: false,
      reconnectionDelayMax: 10_000,
    });
  }

  start(): void {
    const socket = this.#socket;
    socket.on("connect", () => {
      this.panel.connection("live");
      void this.#load();
    });
    socket.on("disconnect", () => this.panel.connection("connecting"));
    socket.on("connect_error", (error: Error & { data?: { code?: string } }) => {
      this.panel.connection("offline");
      // A refused handshake is final for socket.io-client: renew the token if that was the reason, then retry.
      if (socket.active) return;
      const retry = () => setTimeout(() => socket.connect(), 3_000);
      if (error.data?.code === "UNAUTHORIZED") this.session.refresh().then(() => socket.connect(), retry);
      else {
        this.panel.notice(`Connection refused: ${error.data?.code ?? error.message}`);
        retry();
      }
    });
    socket.on(ServerEvents.SegmentUpdated, (segment: SegmentSummary) => this.#draw(() => this.layers.segment(segment)));
    socket.on(ServerEvents.HazardUpdated, (hazard: HazardSummary) => this.#draw(() => this.layers.hazard(hazard)));
    socket.on(ServerEvents.PresenceUpdated, ({ regionId, count }: { regionId: string; count: number }) =>
      this.#draw(() => this.layers.region(regionId, count)),
    );
    socket.on(ServerEvents.OpsNodes, (nodes: NodeStatusList) => this.panel.nodes(nodes));
    this.map.on("moveend", () => {
      clearTimeout(this.#settle);
      this.#settle = setTimeout(() => void this.#load(), 250);
    });
    socket.connect();
  }

  close(): void {
    this.#socket.close();
  }

  async #load(): Promise<void> {
    const view = ++this.#view;
    const bounds = this.map.getBounds();
    const bbox = bboxParam({
      south: bounds.getSouth(),
      west: bounds.getWest(),
      north: bounds.getNorth(),
      east: bounds.getEast(),
    });
    if (bbox === null) {
      this.layers.clearRegions();
      this.panel.notice("Zoom in to see the roads and watch them live");
      this.#draw(() => undefined);
      return;
    }
    this.panel.notice(null);
    if (this.#socket.connected) await this.#watch(bbox, view);
    if (view !== this.#view) return;
    try {
      await Promise.all([
        this.#pages<SegmentPage>("/api/segments", bbox, SEGMENT_PAGES, view, (page) => {
          for (const segment of page.items) this.layers.segment(segment);
        }),
        this.#pages<HazardPage>("/api/hazards", bbox, HAZARD_PAGES, view, (page) => {
          for (const hazard of page.items) this.layers.hazard(hazard);
        }),
      ]);
    } catch (error) {
      this.panel.notice(`Reading the roads failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.layers.prune(bounds.pad(0.5), KEEP_ITEMS);
    this.#draw(() => undefined);
  }

  async #watch(bbox: string, view: number): Promise<void> {
    let ack: Ack<OpsWatchAck>;
    try {
      ack = await this.#socket.timeout(ACK_TIMEOUT_MS).emitWithAck(ClientEvents.OpsWatch, { bbox });
    } catch {
      this.panel.notice("The server did not answer: live updates may be missing");
      return;
    }
    if (view !== this.#view) return;
    if (!ack.ok) {
      this.panel.notice(ack.error.message);
      return;
    }
    this.layers.clearRegions();
    for (const region of ack.regions) this.layers.region(region.regionId, region.count);
    this.panel.nodes(ack.nodes);
    if (!ack.live) this.panel.notice("Zoom in to follow this area live (devices, new segments and hazards)");
  }

  async #pages<P extends { next: string | null }>(
    path: string,
    bbox: string,
    maxPages: number,
    view: number,
    take: (page: P) => void,
  ): Promise<void> {
    let after: string | null = null;
    for (let i = 0; i < maxPages && view === this.#view; i++) {
      const query = new URLSearchParams({ bbox, limit: "500", ...(after === null ? {} : { after }) });
      // Open road data: read without the token, so panning spends the address's budget, not the
      // observer account's (ACCOUNT_RATE_LIMIT_PER_MINUTE is sized for a phone).
      const response = await fetch(`${this.origin}${path}?${query}`, { signal: AbortSignal.timeout(ACK_TIMEOUT_MS) });
      const body = (await response.json()) as P & { error?: { message: string } };
      if (!response.ok) throw new Error(body.error?.message ?? `HTTP ${response.status}`);
      if (view !== this.#view) return;
      take(body);
      this.#draw(() => undefined);
      after = body.next;
      if (after === null) return;
    }
  }

  /** Applies a change, then recounts what is in view once per frame. */
  #draw(change: () => void): void {
    change();
    if (this.#figures !== 0) return;
    this.#figures = requestAnimationFrame(() => {
      this.#figures = 0;
      this.panel.inView(this.layers.countIn(this.map.getBounds()));
    });
  }
}
