import { waitFor } from "@roadpulse/devstack";
import type { Browser, Page } from "playwright-core";
import type { Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { artifactPath, launchChromium } from "../support/browser.js";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { connected, emitAck, HERE, observation, openDevice } from "../support/devices.js";
import { type Account, register, registerDevice } from "../support/env.js";
import { observerAccount } from "../support/observers.js";

/** The map opened on the pothole at zoom 17: the hazard is drawn at the centre of the map. */
const VIEW = `#17/${HERE.latitude}/${HERE.longitude}`;
const AMBER = [0xf5, 0x9e, 0x0b];
const RED = [0xdc, 0x26, 0x26];

/**
 * The live ops map in Debian's Chromium against two nodes behind nginx: an observer signs in, sees
 * the road segments and a pothole a device reports, and sees the pothole turn confirmed live when
 * two more accounts report it, without reloading. Screenshots land in test-artifacts/ops-map/.
 */
describe("the live ops map in a browser", () => {
  let cluster: TestCluster;
  let browser: Browser;
  let observer: Account;
  const devices: Socket[] = [];

  beforeAll(async () => {
    [cluster, browser] = await Promise.all([startTestCluster({ nodes: 2 }), launchChromium()]);
    observer = await observerAccount(cluster.url, cluster.mongoUri);
  }, 120_000);
  afterAll(async () => {
    for (const device of devices) device.close();
    await browser?.close();
    await cluster?.dispose();
  });

  async function reporter(name: string): Promise<Socket> {
    const account = await register(cluster.url, name);
    const device = await connected(
      openDevice(cluster.url, account.token, await registerDevice(cluster.url, account.token)),
    );
    devices.push(device);
    expect((await emitAck(device, "location:update", HERE)).ok).toBe(true);
    return device;
  }

  async function signIn(page: Page, hash: string): Promise<void> {
    await page.goto(`${cluster.url}/map${hash}`);
    await page.fill("input[name=email]", observer.email);
    await page.fill("input[name=password]", observer.password);
    await page.click("#login button[type=submit]");
    await page.waitForSelector("#connection[data-state=live]", { timeout: 30_000 });
  }

  const figure = async (page: Page, id: string) => Number(await page.textContent(`#count-${id}`));

  it("shows segments and a reported pothole, then the pothole confirmed, live", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const failures: string[] = [];
    page.on("pageerror", (error) => failures.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") failures.push(message.text());
    });
    await signIn(page, VIEW);
    await page.waitForFunction('document.querySelectorAll("#nodes li[data-status=ok]").length === 2', undefined, {
      timeout: 30_000,
    });

    // A drive east through the view, with a pothole at its centre.
    const first = await reporter("reporter-1");
    const drive = Array.from({ length: 12 }, (_, i) =>
      observation({ latitude: HERE.latitude, longitude: HERE.longitude - 0.0006 + i * 0.0001 }, { roughness: 2 + i }),
    );
    const ack = await emitAck(first, "observations:submit", {
      observations: [...drive, observation(HERE, { event: "pothole" })],
    });
    expect(ack).toMatchObject({ ok: true, accepted: 13 });
    await waitFor("the map to show the segments and the reported pothole", async () => {
      return (await figure(page, "segments")) > 0 && (await figure(page, "reported")) === 1;
    });
    await waitFor("the map to count the device", async () => (await figure(page, "devices")) === 1);
    await waitFor("the pothole drawn amber at the centre", async () => near(await centrePixel(page), AMBER));
    await page.screenshot({ path: artifactPath("ops-map", "reported.png") });

    // Two more accounts report it: confirmed, and the map follows without a reload.
    for (const name of ["reporter-2", "reporter-3"]) {
      const device = await reporter(name);
      expect(
        await emitAck(device, "observations:submit", { observations: [observation(HERE, { event: "pothole" })] }),
      ).toMatchObject({ ok: true, accepted: 1 });
    }
    await waitFor("the map to show the pothole confirmed", async () => {
      return (await figure(page, "confirmed")) === 1 && (await figure(page, "reported")) === 0;
    });
    await waitFor("the pothole drawn red at the centre", async () => near(await centrePixel(page), RED));
    await waitFor("the map to count the three devices", async () => (await figure(page, "devices")) === 3);
    await page.screenshot({ path: artifactPath("ops-map", "confirmed.png") });
    expect(failures).toEqual([]);
  });

  it("is readable on a phone: the map takes the screen, the panel opens on demand", async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await signIn(page, VIEW);
    expect(await page.isHidden("#panel-body")).toBe(true);
    const map = await page.locator("#map").boundingBox();
    expect(map).toMatchObject({ width: 390, height: 844 });
    await waitFor("the confirmed pothole drawn", async () => near(await centrePixel(page), RED));
    await page.screenshot({ path: artifactPath("ops-map", "phone.png") });
    await page.click("#toggle");
    expect(await page.isVisible("#nodes")).toBe(true);
    await page.screenshot({ path: artifactPath("ops-map", "phone-panel.png") });

    // A reload keeps the tab signed in (its refresh token), and the view (the address).
    await page.reload();
    await page.waitForSelector("#connection[data-state=live]", { timeout: 30_000 });
    expect(await page.isVisible("#login-dialog")).toBe(false);
    await waitFor("the pothole drawn again after the reload", async () => near(await centrePixel(page), RED));
  });
});

/**
 * The colour drawn at the centre of the map, read from the canvas that holds every vector (run in
 * the page: a string, since the tests are compiled without the DOM's types).
 */
const CENTRE_PIXEL = `(() => {
  const map = document.getElementById("map").getBoundingClientRect();
  const canvas = document.querySelector(".leaflet-overlay-pane canvas");
  if (canvas === null) return [];
  const box = canvas.getBoundingClientRect();
  const x = ((map.left + map.width / 2 - box.left) * canvas.width) / box.width;
  const y = ((map.top + map.height / 2 - box.top) * canvas.height) / box.height;
  return [...canvas.getContext("2d").getImageData(Math.round(x), Math.round(y), 1, 1).data];
})()`;

async function centrePixel(page: Page): Promise<number[]> {
  return (await page.evaluate(CENTRE_PIXEL)) as number[];
}

function near(pixel: number[], colour: number[]): boolean {
  return pixel.length >= 3 && colour.every((value, i) => Math.abs((pixel[i] ?? -999) - value) <= 24);
}
