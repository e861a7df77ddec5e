import { waitFor } from "@roadpulse/devstack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropDatabase, startTestNode, type TestNode } from "../../server/test/support/env.js";
import { obtainSessions } from "../src/accounts.js";
import { Recorder } from "../src/metrics/recorder.js";
import { TokenKeeper } from "../src/token-keeper.js";

/**
 * Long runs (a 30-minute soak) outlive an access token: the keeper renews each account's session
 * before its token expires, so a device that reconnects late still gets in.
 */
describe("the fleet's token keeper", () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startTestNode({ ACCESS_TOKEN_TTL_SECONDS: "10" });
  });
  afterAll(async () => {
    await node?.close();
    await dropDatabase(node?.env.MONGODB_URI ?? "");
  });

  const me = async (token: string) =>
    (await fetch(`${node.url}/api/users/me`, { headers: { authorization: `Bearer ${token}` } })).status;

  it("refreshes every account before its access token expires", async () => {
    const metrics = new Recorder();
    const sessions = await obtainSessions(
      { url: node.url, accounts: 2, prefix: "", password: "keeper password", deviceIdOf: (i) => `keeper-${i}` },
      metrics,
    );
    const renewed: number[] = [];
    const keeper = new TokenKeeper({ url: node.url }, sessions, metrics, (account) => renewed.push(account));
    const first = keeper.tokens;
    keeper.start();
    try {
      await waitFor(
        "both accounts renewed twice",
        () => renewed.filter((a) => a === 0).length >= 2 && renewed.filter((a) => a === 1).length >= 2,
        40_000,
        200,
      );
      // 13 s and more after login: the first tokens have expired, the current ones work.
      expect(await me(first[0] as string)).toBe(401);
      for (const account of [0, 1]) expect(await me(keeper.token(account))).toBe(200);
    } finally {
      keeper.stop();
    }
  });
});
