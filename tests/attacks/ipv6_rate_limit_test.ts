/**
 * Attack: one client floods `POST /api/event` while rotating its source
 * address through the IPv6 /64 its provider gave it (2^64 addresses), or
 * switches between an IPv4 address and its IPv4-mapped IPv6 form, to stay
 * under the per-client event limit. The old code keyed the limit on the full
 * address string, so every new address got a fresh bucket of 100 events and
 * the flood was never limited. Now a client is its /64 (or its IPv4 address):
 * the flood hits the limit while a client in another /64 is still served.
 */
import assert from "node:assert/strict";
import type { KosmosNode } from "../../node/node.ts";
import { startNetwork } from "../nodes.ts";
import { registerVerifiedSite, startProofServer } from "../site_proofs.ts";

const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0";

function postFrom(node: KosmosNode, address: string, domain: string): Promise<Response> {
  return fetch(`${node.url}/api/event`, {
    method: "POST",
    body: JSON.stringify({ n: "pageview", u: `https://${domain}/`, d: domain, r: null }),
    // The node sits behind a trusted reverse proxy on 127.0.0.1 that reports the client's address.
    headers: { "Content-Type": "text/plain", "User-Agent": firefox, "X-Forwarded-For": address },
  });
}

async function statuses(responses: Promise<Response>[]): Promise<number[]> {
  const done = await Promise.all(responses);
  await Promise.all(done.map((r) => r.body?.cancel()));
  return done.map((r) => r.status);
}

Deno.test("a client rotating through the addresses of one IPv6 /64 hits the per-client event limit", async () => {
  await using proofs = await startProofServer();
  await using net = await startNetwork(1, {
    trustedProxies: ["127.0.0.1"],
    siteProofOrigins: proofs.origins,
  });
  const [node] = net.nodes;
  const domain = "rotating.example";
  await registerVerifiedSite(node, proofs, domain);

  // 300 events, each from a different address of 2001:db8:aa:bb::/64 (burst: 100 per client).
  const rotated = await statuses(Array.from({ length: 300 }, (_, i) => {
    const suffix = [i, i * 7, i * 13, i * 31].map((n) => (n % 0x10000).toString(16)).join(":");
    return postFrom(node, `2001:db8:aa:bb:${suffix}`, domain);
  }));
  const limited = rotated.filter((s) => s === 429).length;
  assert.ok(limited >= 150, `only ${limited} of 300 events from one /64 were limited`);
  assert.ok(rotated.filter((s) => s === 202).length <= 110, "the /64 got more than one client's burst");

  // Another /64 is another client, still served.
  assert.deepEqual(await statuses([postFrom(node, "2001:db8:aa:cc::1", domain)]), [202]);

  // An IPv4 client gains nothing by also writing its address as IPv4-mapped IPv6.
  const v4 = await statuses(
    Array.from(
      { length: 150 },
      (_, i) => postFrom(node, i % 2 === 0 ? "203.0.113.7" : `::ffff:203.0.113.7`, domain),
    ),
  );
  assert.ok(v4.filter((s) => s === 429).length >= 40, "the mapped form got its own bucket");
  // A neighbouring IPv4 address is a different client (IPv4 stays /32).
  assert.deepEqual(await statuses([postFrom(node, "203.0.113.8", domain)]), [202]);
});
