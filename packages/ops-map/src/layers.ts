import type { HazardSummary, SegmentSummary } from "@roadpulse/protocol";
import L from "leaflet";
import { regionBounds, segmentLine } from "./geometry.js";

const CLASS_COLOURS: Record<string, string> = {
  good: "#1a9850",
  fair: "#d9c400",
  poor: "#f46d43",
  very_poor: "#b2182b",
};
const UNKNOWN = "#8c8c8c";
const HAZARD_COLOURS: Record<string, string> = {
  reported: "#f59e0b",
  confirmed: "#dc2626",
  fixed: "#16a34a",
  expired: "#9ca3af",
};

/**
 * What the map draws, by id, so a live update replaces what it updates: segments (lines by
 * quality class), hazards (dots by status) and regions holding devices (cells with a count). One
 * canvas renderer draws every vector: thousands of segments stay fluid on a phone.
 */
export class RoadLayers {
  readonly #renderer = L.canvas({ padding: 0.5 });
  readonly #segments = new Map<string, L.Polyline | L.CircleMarker>();
  readonly #hazards = new Map<string, { marker: L.CircleMarker; status: string }>();
  /** Each drawn item's `updatedAt`: a page read before a live update never draws over it. */
  readonly #versions = new Map<string, string>();
  readonly #regions = new Map<string, { cell: L.Rectangle; count: number }>();
  readonly #segmentGroup = L.layerGroup();
  readonly #regionGroup = L.layerGroup();
  readonly #hazardGroup = L.layerGroup();

  constructor(map: L.Map) {
    this.#regionGroup.addTo(map);
    this.#segmentGroup.addTo(map);
    this.#hazardGroup.addTo(map);
  }

  segment(segment: SegmentSummary): void {
    if (!this.#newer(segment.id, segment.updatedAt)) return;
    const colour = segment.class === null ? UNKNOWN : (CLASS_COLOURS[segment.class] ?? UNKNOWN);
    const title = `${segment.id}: ${segment.class ?? "not enough data"} · IRI ${segment.meanIri?.toFixed(2) ?? "–"} · ${segment.count} samples`;
    const existing = this.#segments.get(segment.id);
    if (existing !== undefined) {
      existing.setStyle({ color: colour, fillColor: colour });
      existing.setTooltipContent(title);
      return;
    }
    const points = segmentLine(segment.geohash, segment.axis);
    const shape =
      points.length === 1
        ? L.circleMarker(points[0] as L.LatLngTuple, {
            renderer: this.#renderer,
            radius: 3,
            color: colour,
            fillOpacity: 1,
          })
        : L.polyline(points as L.LatLngTuple[], { renderer: this.#renderer, color: colour, weight: 5, opacity: 0.9 });
    shape.bindTooltip(title);
    this.#segments.set(segment.id, shape);
    this.#segmentGroup.addLayer(shape);
  }

  hazard(hazard: HazardSummary): void {
    if (!this.#newer(hazard.id, hazard.updatedAt)) return;
    const colour = HAZARD_COLOURS[hazard.status] ?? UNKNOWN;
    const title = `${hazard.type} ${hazard.status} · ${hazard.reporters} accounts · ${hazard.reports} reports`;
    const existing = this.#hazards.get(hazard.id);
    if (existing !== undefined) {
      existing.marker.setLatLng([hazard.latitude, hazard.longitude]);
      existing.marker.setStyle({ fillColor: colour });
      existing.marker.setTooltipContent(title);
      existing.status = hazard.status;
      return;
    }
    const marker = L.circleMarker([hazard.latitude, hazard.longitude], {
      renderer: this.#renderer,
      radius: 7,
      color: "#ffffff",
      weight: 2,
      fillColor: colour,
      fillOpacity: 1,
    });
    marker.bindTooltip(title);
    this.#hazards.set(hazard.id, { marker, status: hazard.status });
    this.#hazardGroup.addLayer(marker);
  }

  /** A region's device count: a shaded cell with the number, gone at zero. */
  region(regionId: string, count: number): void {
    const existing = this.#regions.get(regionId);
    if (count <= 0) {
      if (existing !== undefined) this.#regionGroup.removeLayer(existing.cell);
      this.#regions.delete(regionId);
      return;
    }
    const label = `${count} device${count === 1 ? "" : "s"}`;
    if (existing !== undefined) {
      existing.cell.setTooltipContent(label);
      existing.count = count;
      return;
    }
    const cell = L.rectangle(regionBounds(regionId), {
      renderer: this.#renderer,
      color: "#2563eb",
      weight: 1,
      fillOpacity: 0.08,
      interactive: false,
    });
    cell.bindTooltip(label, { permanent: true, direction: "center", className: "region-count" });
    this.#regions.set(regionId, { cell, count });
    this.#regionGroup.addLayer(cell);
  }

  /**
   * Past `limit` items, forgets those outside `bounds` (a long session of panning would otherwise
   * hold a whole country's roads); they are read again when the map comes back to them.
   */
  prune(bounds: L.LatLngBounds, limit: number): void {
    if (this.#segments.size + this.#hazards.size <= limit) return;
    for (const [id, shape] of this.#segments) {
      const at = shape instanceof L.Polyline ? shape.getBounds().getCenter() : shape.getLatLng();
      if (bounds.contains(at)) continue;
      this.#segmentGroup.removeLayer(shape);
      this.#segments.delete(id);
      this.#versions.delete(id);
    }
    for (const [id, { marker }] of this.#hazards) {
      if (bounds.contains(marker.getLatLng())) continue;
      this.#hazardGroup.removeLayer(marker);
      this.#hazards.delete(id);
      this.#versions.delete(id);
    }
  }

  /** Forgets the regions' counts (a new area is being watched: its counts follow). */
  clearRegions(): void {
    this.#regionGroup.clearLayers();
    this.#regions.clear();
  }

  /** What lies in the bounds now: segments, hazards still open, devices. */
  countIn(bounds: L.LatLngBounds): InView {
    let segments = 0;
    for (const shape of this.#segments.values()) {
      const at = shape instanceof L.Polyline ? shape.getBounds().getCenter() : shape.getLatLng();
      if (bounds.contains(at)) segments++;
    }
    let reported = 0;
    let confirmed = 0;
    for (const { marker, status } of this.#hazards.values()) {
      if (!bounds.contains(marker.getLatLng())) continue;
      if (status === "reported") reported++;
      else if (status === "confirmed") confirmed++;
    }
    let devices = 0;
    for (const { cell, count } of this.#regions.values()) {
      if (bounds.intersects(cell.getBounds())) devices += count;
    }
    return { segments, reported, confirmed, devices };
  }

  #newer(id: string, updatedAt: string): boolean {
    const known = this.#versions.get(id);
    if (known !== undefined && known > updatedAt) return false;
    this.#versions.set(id, updatedAt);
    return true;
  }
}

export interface InView {
  segments: number;
  reported: number;
  confirmed: number;
  devices: number;
}
