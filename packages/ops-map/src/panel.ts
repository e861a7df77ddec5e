import type { NodeStatusList } from "@roadpulse/protocol";
import type { InView } from "./layers.js";

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** The side panel: connection state, what is in view, the nodes and their health. */
export class Panel {
  constructor() {
    const toggle = byId<HTMLButtonElement>("toggle");
    const body = byId("panel-body");
    // On a phone the panel starts folded, so the map gets the screen.
    if (window.matchMedia("(max-width: 40rem)").matches) this.#fold(toggle, body, true);
    toggle.addEventListener("click", () => this.#fold(toggle, body, !body.hidden));
  }

  connection(state: "live" | "connecting" | "offline"): void {
    const badge = byId("connection");
    badge.dataset.state = state;
    badge.textContent = state;
  }

  notice(text: string | null): void {
    const notice = byId("notice");
    notice.hidden = text === null;
    notice.textContent = text ?? "";
  }

  inView(figures: InView): void {
    byId("count-segments").textContent = String(figures.segments);
    byId("count-reported").textContent = String(figures.reported);
    byId("count-confirmed").textContent = String(figures.confirmed);
    byId("count-devices").textContent = String(figures.devices);
  }

  nodes(list: NodeStatusList): void {
    const items = list.nodes.map((node) => {
      const item = document.createElement("li");
      item.dataset.status = node.status;
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = node.node;
      const detail = document.createElement("span");
      detail.className = "detail";
      detail.textContent =
        node.status === "unreachable"
          ? "unreachable"
          : `${node.status} · ${node.connections} conn · ${Math.round(node.rssBytes / 2 ** 20)} MB`;
      if (node.services !== null) {
        item.title = `MongoDB ${node.services.mongodb}, Redis ${node.services.redis}, Socket.IO ${node.services.socketio}`;
      }
      item.append(name, detail);
      return item;
    });
    byId("nodes").replaceChildren(...items);
    if (!list.clusterWide) this.notice("Redis is unreachable: this node sees only itself and its own devices");
  }

  account(email: string, role: string, onLogout: () => void): void {
    byId("account").textContent = `${email} (${role})`;
    byId("logout").addEventListener("click", onLogout, { once: true });
  }

  #fold(toggle: HTMLButtonElement, body: HTMLElement, folded: boolean): void {
    body.hidden = folded;
    toggle.textContent = folded ? "Show" : "Hide";
    toggle.setAttribute("aria-expanded", String(!folded));
  }
}
