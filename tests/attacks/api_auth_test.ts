/**
 * Attack (finding 3): use a node's HTTP API without being its owner.
 *
 * The victim runs its node with `--host 0.0.0.0` (as someone does to reach
 * the UI from a phone on the LAN). The attacker, anywhere that reaches the
 * port, sends the owner's requests over raw HTTP: buy a listing, stake,
 * withdraw payouts and stake, delegate the victim's listing to the
 * attacker's own node (which would hand that node the DEK), read bought
 * data, add a webhook delivery of it, and mint a login link. It addresses the
 * node as `127.1`, as a LAN address, as `0.0.0.0` and as `127.0.0.1`, with no
 * token, a wrong token, a token-shaped query parameter, and a forged session
 * cookie.
 *
 * On the old code every one of these succeeded: there was no token, and the
 * Host allow-list was switched off whenever the node did not listen on
 * loopback (and `127.1` did not even count as loopback). Now each is refused
 * with 401 (or 403 for a host the node does not answer to), and nothing on
 * the victim's node or wallet, nor on the attacker's node, changed. The
 * owner, with the token, still gets through.
 */
import assert from "node:assert/strict";
import type { KosmosNode } from "../../node/node.ts";
import { makeCsv, ownerFetch } from "../helpers.ts";
import { listForSale, startMarketCluster, waitForListing } from "../market_cluster.ts";

const ONE = 10n ** 18n;

/** One raw HTTP/1.1 request to 127.0.0.1:`port` naming `host`; resolves with status and body. */
async function rawRequest(
  port: number,
  request: { method: string; path: string; host: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const body = request.body ?? "";
    const headers = {
      Host: request.host,
      Connection: "close",
      "Content-Length": String(new TextEncoder().encode(body).byteLength),
      ...(request.body !== undefined ? { "Content-Type": "application/json" } : {}),
      ...request.headers,
    };
    const head = `${request.method} ${request.path} HTTP/1.1\r\n` +
      Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n";
    await conn.write(new TextEncoder().encode(head + body));
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of conn.readable) text += decoder.decode(chunk, { stream: true });
    const [statusLine] = text.split("\r\n");
    return { status: Number(statusLine.split(" ")[1]), body: text.slice(text.indexOf("\r\n\r\n") + 4) };
  } finally {
    try {
      conn.close();
    } catch { /* closed with the response */ }
  }
}

/** What the attacker could change or learn, read on the victim's and the attacker's nodes. */
async function observe(victim: KosmosNode, attacker: KosmosNode, manifestCid: string) {
  const wallet = await victim.facade.getWallet();
  return {
    wallet: { ...wallet, balances: { ...wallet.balances, eth: "(gas aside)" } },
    purchases: (await victim.facade.listPurchases()).map((p) => ({ id: p.id, status: p.status })),
    deliveries: await victim.facade.listDeliveries(),
    delegatedToAttacker: attacker.components.delegation.getDelegatedKey(manifestCid) !== undefined,
  };
}

Deno.test("attack: nobody but the owner can buy, stake, withdraw, delegate, read or deliver through a node on 0.0.0.0", async () => {
  await using cluster = await startMarketCluster({ prefix: "kosmos-attack-auth-" });
  const seller = await cluster.start();
  const victim = await cluster.start({ config: { host: "0.0.0.0", storage: { quotaGB: 0 } } });
  const attacker = await cluster.start();
  const port = Number(new URL(victim.url).port);
  const owner = { url: `http://127.0.0.1:${port}`, apiToken: victim.apiToken };

  // The victim's own listing (to withdraw or delegate), one bought listing (to read), one to buy.
  const { manifestCid: own, listingId: ownId } = await listForSale(victim, makeCsv(20_000), {
    title: "Victim's readings",
    price: 5n * ONE,
    viewers: [attacker],
  });
  const { manifestCid: bought } = await listForSale(seller, makeCsv(30_000), {
    title: "Bought",
    price: 3n * ONE,
    viewers: [victim],
  });
  const { manifestCid: notBought } = await listForSale(seller, makeCsv(10_000), {
    title: "Not bought",
    price: 7n * ONE,
  });
  await waitForListing(victim, notBought);
  // The owner, with the token, buys through the same port the attacker reaches.
  const started = await ownerFetch(owner, "/api/v1/purchases", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ listingId: bought }),
  });
  assert.equal(started.status, 202);
  const { id: purchaseId } = await started.json();
  assert.equal(
    (await victim.components.market.waitForPurchase(purchaseId, { timeout: 30_000 })).status,
    "complete",
  );

  const before = await observe(victim, attacker, own);
  const tokenBalance = before.wallet.balances.token;

  const attacks: { method: string; path: string; body?: unknown }[] = [
    { method: "POST", path: "/api/v1/purchases", body: { listingId: notBought } },
    { method: "POST", path: "/api/v1/stakes", body: { manifestCid: own, amount: "1" } },
    { method: "POST", path: "/api/v1/wallet/withdraw", body: {} },
    { method: "POST", path: `/api/v1/stakes/${ownId}/withdrawal` },
    { method: "POST", path: `/api/v1/listings/${own}/delegates`, body: { peerId: attacker.peerId } },
    { method: "GET", path: `/api/v1/purchases/${purchaseId}/data` },
    { method: "GET", path: `/api/v1/purchases/${purchaseId}/export?format=csv` },
    {
      method: "POST",
      path: `/api/v1/purchases/${purchaseId}/deliveries`,
      body: { connector: "webhook", url: "http://127.0.0.1:9/steal" },
    },
    { method: "GET", path: "/api/v1/wallet" },
    { method: "GET", path: "/api/v1/purchases" },
    { method: "POST", path: "/api/v1/login-links" },
    { method: "GET", path: "/purchases" },
  ];
  const hosts = [`127.1:${port}`, `127.0.0.1:${port}`, `0.0.0.0:${port}`, `192.168.1.23:${port}`, "10.0.0.7"];
  const credentials: { name: string; headers?: Record<string, string>; query?: string }[] = [
    { name: "no token" },
    { name: "a wrong token", headers: { Authorization: `Bearer ${"0".repeat(64)}` } },
    {
      name: "the token's length of garbage",
      headers: { Authorization: `Bearer ${victim.apiToken.replace(/./g, "f")}` },
    },
    { name: "a query-string token", query: `token=${victim.apiToken}&access_token=${victim.apiToken}` },
    {
      name: "a forged session cookie",
      headers: { Cookie: `${victim.auth.cookieName}=9999999999999.AAAA.${"A".repeat(43)}` },
    },
  ];
  const secretData = new TextDecoder().decode(makeCsv(30_000)).slice(0, 40);
  for (const attack of attacks) {
    for (const host of hosts) {
      for (const credential of credentials) {
        const path = credential.query
          ? `${attack.path}${attack.path.includes("?") ? "&" : "?"}${credential.query}`
          : attack.path;
        const response = await rawRequest(port, {
          method: attack.method,
          path,
          host,
          headers: credential.headers,
          body: attack.body === undefined ? undefined : JSON.stringify(attack.body),
        });
        const what = `${attack.method} ${attack.path} as ${host} with ${credential.name}`;
        // 127.1 is 127.0.0.1, a name the node answers to: refused for want of a token. The others are
        // names it does not answer to at all.
        const expected = host.startsWith("127.") ? 401 : 403;
        assert.equal(response.status, expected, `${what}: ${response.body.slice(0, 200)}`);
        assert.ok(!response.body.includes(secretData), `${what} leaked the bought data`);
        assert.doesNotMatch(
          response.body,
          /login\?code=|0x[0-9a-fA-F]{40}/,
          `${what} leaked a link or address`,
        );
      }
    }
  }

  // Let anything the node might have started settle, then compare.
  await new Promise((r) => setTimeout(r, 500));
  const after = await observe(victim, attacker, own);
  assert.deepEqual(after, before, "nothing changed on the victim's node, wallet or the attacker's node");
  assert.equal(after.wallet.balances.token, tokenBalance);

  // The owner still gets through the same port.
  const data = await ownerFetch(owner, `/api/v1/purchases/${purchaseId}/data`);
  assert.equal(data.status, 200);
  assert.ok((await data.text()).startsWith(secretData));
});
