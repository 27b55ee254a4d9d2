/**
 * Attack: take over what the browser extension holds, or pair a browser of one's own.
 *
 * - The attacker steals the extension's token (malware reading the browser profile, a shoulder
 *   surfer). With it, every route of the node but the extension's two is refused with 401, pages
 *   and JSON alike, whatever the method: it reads no source, consent, wallet or listing, mints no
 *   pairing code or login link, revokes nothing, signs nothing. The extension's own status route
 *   tells it one boolean; its visits route refuses to store anything without a valid consent.
 * - The attacker guesses pairing codes against the public pair route: 5 wrong guesses from one
 *   address and the sixth is a 429 with `Retry-After` (the space is 31^8 ≈ 8.5·10^11 codes); the
 *   owner's right code, once expired, pairs nothing; a code used once (by the person) pairs nothing
 *   when replayed.
 */
import assert from "node:assert/strict";
import { createNode, type KosmosNode } from "../../node/node.ts";
import { createApp } from "../../web/app.ts";
import { isPublicPath } from "../../web/auth.ts";
import { asOwner, tempDir, testLogger } from "../helpers.ts";

const quietLog = { error: () => {}, debug: () => {} };
const CODE_TTL_MS = 1500;

async function startNode(dir: string): Promise<KosmosNode> {
  const node = await createNode({ dataDir: dir, port: 0, listen: ["/ip4/127.0.0.1/tcp/0"] }, {
    logger: testLogger(),
    services: { extension: { codeTtlMs: CODE_TTL_MS } },
  });
  await node.start();
  return node;
}

Deno.test("a stolen extension token opens no other route; guessed codes are rate limited; used and expired codes pair nothing", async () => {
  await using dir = await tempDir("kosmos-attack-extension-");
  const node = await startNode(dir.path);
  try {
    const app = createApp(node.facade, { log: quietLog, auth: node.auth });
    const owner = (path: string, init: RequestInit = {}) => app.request(path, asOwner(node, init));
    const pair = (code: string, ip = "203.0.113.7") =>
      app.request("/api/v1/extension/pair", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ code }),
      }, { remoteAddr: { hostname: ip } });

    // The person pairs; the attacker later holds the token.
    const { code } = await (await owner("/api/v1/extension/pairings", { method: "POST" })).json();
    const paired = await pair(code, "127.0.0.1");
    assert.equal(paired.status, 201);
    const { token } = await paired.json();
    const stolen = { authorization: `Bearer ${token}` };

    // Every route of the app, every method it has, with the stolen token: 401 unless it is public.
    const blockNumber = await node.components.chain.publicClient.getBlockNumber({ cacheTime: 0 });
    const routes = [...new Set(app.routes.map((r) => `${r.method} ${r.path}`))]
      .filter((r) => !r.startsWith("ALL "));
    assert.ok(routes.length > 40, `${routes.length} routes`);
    let tried = 0;
    for (const route of routes) {
      const [method, pattern] = route.split(" ");
      const path = pattern.replace(/\*$/, "x").replace(/:(\w+)/g, "1");
      if (isPublicPath(path)) continue;
      for (const accept of ["application/json", "text/html"]) {
        const response = await app.request(path, {
          method,
          headers: { ...stolen, accept, ...(method === "GET" ? {} : { "content-type": "application/json" }) },
          body: method === "GET" ? undefined : "{}",
        });
        const text = await response.text();
        assert.equal(
          response.status,
          401,
          `${route} (${accept}) answered ${response.status}: ${text.slice(0, 200)}`,
        );
        assert.ok(!text.includes(node.address) && !text.includes(node.peerId), `${route} leaks nothing`);
        tried++;
      }
    }
    assert.ok(tried > 80);
    assert.equal(
      await node.components.chain.publicClient.getBlockNumber({ cacheTime: 0 }),
      blockNumber,
      "nothing was signed",
    );
    assert.equal(
      node.components.extension.listTokens().length,
      1,
      "the token did not revoke itself or others",
    );
    assert.equal(node.components.extension.pendingPairings(), 0, "it minted no pairing code");

    // What the token may do tells one boolean and stores nothing without consent.
    const status = await app.request("/api/v1/extension/status", { headers: stolen });
    assert.deepEqual(await status.json(), { paired: true, consent: false });
    const visits = await app.request("/api/v1/extension/visits", {
      method: "POST",
      headers: { ...stolen, "content-type": "application/json" },
      body: JSON.stringify([{ domain: "attacker.example", visitedAt: Date.now() }]),
    });
    assert.equal(visits.status, 409);
    assert.equal((await visits.json()).error.code, "consent_required");
    assert.deepEqual(node.components.sources.list(), []);

    // The owner's token is no extension token, and the extension token is no owner's token.
    assert.equal((await owner("/api/v1/extension/status")).status, 401);

    // Replaying the code the person used pairs nothing.
    assert.equal((await pair(code)).status, 401);

    // Guessing: wrong codes from one address, then 429; another address is not blocked by it.
    const pending = await (await owner("/api/v1/extension/pairings", { method: "POST" })).json();
    const guesses = ["2345-6789", "ABCD-EFGH", "ZZZZ-ZZZZ", "K7QM-3XWD", "not a code"];
    for (const guess of guesses) assert.equal((await pair(guess, "198.51.100.9")).status, 401);
    const limited = await pair(pending.code, "198.51.100.9");
    assert.equal(limited.status, 429, "the right code is no help once rate limited");
    assert.ok(Number(limited.headers.get("retry-after")) >= 1);
    assert.equal((await limited.json()).error.code, "too_many_requests");
    assert.equal(node.components.extension.listTokens().length, 1);

    // The right code after it expired pairs nothing either.
    await new Promise((resolve) => setTimeout(resolve, CODE_TTL_MS + 100));
    const late = await pair(pending.code, "192.0.2.44");
    assert.equal(late.status, 401);
    assert.match((await late.json()).error.message, /used already, has expired, or is mistyped/);
    assert.equal(node.components.extension.listTokens().length, 1);
  } finally {
    await node.stop();
  }
});
