import "./style.css";
import type { MapConfig } from "@roadpulse/protocol";
import L from "leaflet";
import { deviceIdFor, forget, signIn } from "./auth.js";
import { RoadLayers } from "./layers.js";
import { LiveMap } from "./live.js";
import { Panel } from "./panel.js";

/** Where the map opens: the address (`#zoom/latitude/longitude`), else MAP_CENTER, else the world. */
function initialView(config: MapConfig): [number, number, number] {
  const [zoom, lat, lon] = location.hash.slice(1).split("/").map(Number);
  if ([zoom, lat, lon].every((value) => Number.isFinite(value))) return [lat as number, lon as number, zoom as number];
  return config.center ?? [20, 0, 2];
}

async function main(): Promise<void> {
  const origin = location.origin;
  const config = (await (await fetch("/map/config.json")).json()) as MapConfig;
  const [lat, lon, zoom] = initialView(config);
  const map = L.map("map").setView([lat, lon], zoom);
  if (config.tileUrl !== null) {
    L.tileLayer(config.tileUrl, { attribution: config.tileAttribution, maxZoom: 19 }).addTo(map);
  } else {
    map.getContainer().classList.add("no-tiles");
  }
  // The address follows the view, so a view can be shared or reloaded.
  map.on("moveend", () => {
    const centre = map.getCenter();
    history.replaceState(null, "", `#${map.getZoom()}/${centre.lat.toFixed(5)}/${centre.lng.toFixed(5)}`);
  });
  const panel = new Panel();
  const layers = new RoadLayers(map);
  const session = await signIn(origin);
  const live = new LiveMap(origin, session, await deviceIdFor(session), map, layers, panel);
  panel.account(session.account.email, session.account.role, () => {
    live.close();
    forget();
    void session.logout().finally(() => location.reload());
  });
  live.start();
}

main().catch((error: unknown) => {
  document.body.dataset.failed = "true";
  const notice = document.getElementById("notice");
  if (notice !== null) {
    notice.hidden = false;
    notice.textContent = `The map could not start: ${error instanceof Error ? error.message : String(error)}`;
  }
});
