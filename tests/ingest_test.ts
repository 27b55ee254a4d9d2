/**
 * Analytics collection across real nodes on loopback: `POST /api/event` on a
 * proxy node A for a site owned by node B reaches B decrypted, while A's data
 * dir never holds a plaintext event; bad input gets the right status and drop
 * header and is never stored; a flood from one client is rate-limited while
 * the node keeps answering others; a node that joins later learns the site.
 * Sites are verified through their published proof, served by a local web
 * server (`site_proofs.ts`).
 */
import assert from "node:assert/strict";
import type { AnalyticsEvent } from "../protocol/analytics.ts";
import type { KosmosNode } from "../node/node.ts";
import { startNetwork } from "./nodes.ts";
import { registerVerifiedSite, startProofServer } from "./site_proofs.ts";
import { ownerFetch, readFilesUnder, waitFor } from "./helpers.ts";

const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0";

function postEvent(node: KosmosNode, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${node.url}/api/event`, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "Content-Type": "text/plain", "User-Agent": firefox, ...headers },
  });
}

/** Collects what `node` stores for its own sites. */
function collect(node: KosmosNode): { events: AnalyticsEvent[]; sites: string[] } {
  const seen = { events: [] as AnalyticsEvent[], sites: [] as string[] };
  node.components.ingest.onEvents((site, events) => {
    seen.sites.push(site);
    seen.events.push(...events);
  });
  return seen;
}

function contains(haystack: Uint8Array, needle: string): boolean {
  return new TextDecoder("latin1").decode(haystack).includes(needle);
}

Deno.test("events posted to node A for a site owned by node B reach B decrypted; A stores no plaintext", async () => {
  await using proofs = await startProofServer();
  await using net = await startNetwork(2, { siteProofOrigins: proofs.origins });
  await net.waitForMesh();
  const [a, b] = net.nodes;
  const seen = collect(b);
  const domain = "shop.example";
  const response = await ownerFetch(b, `/api/v1/sites`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ domain }),
  });
  assert.equal(response.status, 201);
  const site = await response.json();
  assert.equal(site.peerId, b.peerId);
  assert.match(site.snippet, /data-domain="shop\.example"/);
  assert.equal(site.status, "pending", "nobody takes events for a domain before it vouches for this node");
  assert.equal(site.proofUrl, `${proofs.url}/shop.example/.well-known/kosmos-site.json`);
  proofs.publish(domain, site.proof);
  const checked = await ownerFetch(b, `/api/v1/sites/${domain}/check`, { method: "POST" });
  assert.equal(checked.status, 200);
  assert.equal((await checked.json()).status, "verified");
  assert.deepEqual(
    (await (await ownerFetch(b, `/api/v1/sites`)).json()).sites.map((s: { domain: string }) => s.domain),
    [
      domain,
    ],
  );
  await waitFor("node A to learn the site", () => a.components.sites.getSite(domain)?.peerId === b.peerId);

  const secret = `/checkout-${crypto.randomUUID()}`;
  const sent = [
    {
      n: "pageview",
      u: `https://shop.example${secret}?utm_source=hn&utm_campaign=launch`,
      d: domain,
      r: null,
    },
    { n: "pageview", u: "https://shop.example/cart", d: domain, r: "https://www.google.com/search?q=x" },
    { n: "Signup", u: "https://shop.example/cart", d: domain, r: null, p: { plan: "pro", seats: 3 } },
  ];
  for (const body of sent) {
    const res = await postEvent(a, body);
    assert.equal(res.status, 202);
    assert.equal(res.headers.get("x-kosmos-dropped"), null);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
  }
  await waitFor("node B to receive three events", () => seen.events.length >= 3, { timeout: 15_000 });
  assert.deepEqual(seen.sites, [domain]);
  const [first, second, third] = seen.events;
  assert.equal(first.pathname, secret);
  assert.equal(first.hostname, "shop.example");
  assert.deepEqual(first.utm, { source: "hn", campaign: "launch" });
  assert.equal(first.referrerSource, "hn");
  assert.equal(second.referrerSource, "Google");
  assert.equal(second.referrer, "https://www.google.com/search");
  assert.deepEqual([first.device, first.browser, first.os], ["desktop", "Firefox", "GNU/Linux"]);
  assert.equal(third.name, "Signup");
  assert.deepEqual(third.props, { plan: "pro", seats: "3" });
  assert.equal(first.visitorId, third.visitorId, "one client is one visitor");
  assert.match(first.visitorId, /^[0-9a-f]{32}$/);

  await waitFor("A's outbox to empty once B acked", () => a.components.ingest.countOutbox() === 0);
  for (const bytes of await readFilesUnder(a.config.dataDir)) {
    assert.ok(!contains(bytes, secret), "A's data dir holds the plaintext path");
    assert.ok(!contains(bytes, "utm_campaign=launch"), "A's data dir holds a raw event URL");
  }

  // A node that joins later learns the site through sync.
  const c = await net.addNode();
  await waitFor("node C to sync the site", () => c.components.sites.getSite(domain)?.peerId === b.peerId);
});

Deno.test("POST /api/event answers bad input, bots, unknown sites and opted-out visitors without storing them", async () => {
  await using proofs = await startProofServer();
  await using net = await startNetwork(1, {
    trustedProxies: ["127.0.0.1"],
    siteProofOrigins: proofs.origins,
  });
  const [node] = net.nodes;
  const seen = collect(node);
  const domain = "blog.example";
  await registerVerifiedSite(node, proofs, domain);
  const ok = { n: "pageview", u: "https://blog.example/kept", d: domain, r: null };

  let res = await postEvent(node, "{ not json");
  assert.equal(res.status, 400);
  assert.equal(res.headers.get("x-kosmos-dropped"), "invalid");
  assert.equal((await res.json()).error.code, "bad_request");

  res = await postEvent(node, "x".repeat(1024 * 1024));
  assert.equal(res.status, 413);
  await res.body?.cancel();

  res = await postEvent(node, { ...ok, u: "javascript:alert(1)" });
  assert.equal(res.status, 400);
  assert.match((await res.json()).error.message, /"u"/);
  res = await postEvent(node, { ...ok, n: "x".repeat(121) });
  assert.equal(res.status, 400);
  await res.body?.cancel();
  res = await postEvent(node, { ...ok, u: "https://blog.example/extra", extra: 1, v: 36 });
  assert.equal(res.status, 202, "unknown fields are ignored, as Plausible does");
  assert.equal(res.headers.get("x-kosmos-dropped"), null);
  await res.body?.cancel();

  const dropped = async (body: unknown, headers: Record<string, string>, reason: string) => {
    const r = await postEvent(node, body, headers);
    assert.equal(r.status, 202, reason);
    assert.equal(r.headers.get("x-kosmos-dropped"), reason);
    assert.equal(r.headers.get("x-plausible-dropped"), "1");
  };
  await dropped({ ...ok, u: "https://blog.example/bot" }, {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/130.0.0.0 Safari/537.36",
  }, "bot");
  await dropped({ ...ok, u: "https://blog.example/bot" }, { "User-Agent": "Googlebot/2.1" }, "bot");
  await dropped({ ...ok, d: "unknown.example" }, {}, "unknown_site");
  await dropped({ ...ok, u: "https://blog.example/dnt" }, { DNT: "1" }, "opted_out");
  await dropped({ ...ok, u: "https://blog.example/gpc" }, { "Sec-GPC": "1" }, "opted_out");

  const preflight = await fetch(`${node.url}/api/event`, { method: "OPTIONS" });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
  await preflight.body?.cancel();

  res = await postEvent(node, ok);
  assert.equal(res.status, 202);
  assert.equal(res.headers.get("x-kosmos-dropped"), null);
  await node.components.ingest.flush();
  await waitFor("the kept events", () => seen.events.length >= 2);
  assert.deepEqual(seen.events.map((e) => e.pathname).sort(), ["/extra", "/kept"]);
});

Deno.test("a flood from one client is rate-limited while the node keeps answering others", async () => {
  await using proofs = await startProofServer();
  await using net = await startNetwork(1, {
    trustedProxies: ["127.0.0.1"],
    siteProofOrigins: proofs.origins,
  });
  const [node] = net.nodes;
  await registerVerifiedSite(node, proofs, "busy.example");
  const event = { n: "pageview", u: "https://busy.example/", d: "busy.example", r: null };
  const flood = await Promise.all(
    Array.from({ length: 300 }, () => postEvent(node, event, { "X-Forwarded-For": "203.0.113.66" })),
  );
  const statuses = flood.map((r) => r.status);
  await Promise.all(flood.map((r) => r.body?.cancel()));
  const limited = flood.filter((r) => r.status === 429);
  assert.ok(limited.length >= 150, `only ${limited.length} of 300 were limited`);
  assert.ok(statuses.filter((s) => s === 202).length >= 50, "the first events of the burst are taken");
  assert.equal(limited[0].headers.get("x-kosmos-dropped"), "rate_limited");
  assert.ok(Number(limited[0].headers.get("retry-after")) >= 1);

  const other = await postEvent(node, event, { "X-Forwarded-For": "198.51.100.5" });
  assert.equal(other.status, 202);
  assert.equal(other.headers.get("x-kosmos-dropped"), null);
  const info = await ownerFetch(node, `/api/v1/node`);
  assert.equal(info.status, 200);
  await info.body?.cancel();
});
