/**
 * Attack: the fields Plausible's tracker added (props, revenue, engagement,
 * interactive, consent, several domains) and the geo lookup, abused.
 *
 * From a visitor's side, posting to `POST /api/event` on a node: revenue with
 * a made-up currency or an absurd amount, 40 props and a `__proto__` key,
 * engagement with a scroll depth of a million, a forged `X-Forwarded-For` to
 * pick a country, and ten sites in one event. Nothing outside the limits is
 * kept; the geo of an untrusted client is the socket's, never the header's.
 *
 * From a proxy's side: a batch sealed to the owner with malformed new fields
 * (a country that is markup, revenue in scientific notation, a scroll depth
 * of 1000, a flag that is a string) is refused whole when opened, so nothing
 * of it reaches the owner's tables.
 */
import assert from "node:assert/strict";
import type { AnalyticsEvent } from "../../protocol/analytics.ts";
import { openBatch, sealBatch } from "../../node/services/ingest/mod.ts";
import { pageview } from "../../node/services/analytics/fixtures_test.ts";
import type { KosmosNode } from "../../node/node.ts";
import { startNetwork } from "../nodes.ts";
import { registerVerifiedSite, startProofServer } from "../site_proofs.ts";
import { waitFor } from "../helpers.ts";

const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0";
const domain = "shop.example";

function post(node: KosmosNode, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${node.url}/api/event`, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "Content-Type": "text/plain", "User-Agent": firefox, ...headers },
  });
}

Deno.test("hostile revenue, props, engagement, domains and a forged X-Forwarded-For keep nothing outside the limits", async () => {
  await using proofs = await startProofServer();
  // No trusted proxies: the socket's address (loopback, no geo) is the client.
  await using net = await startNetwork(1, { siteProofOrigins: proofs.origins });
  const [node] = net.nodes;
  const seen: AnalyticsEvent[] = [];
  node.components.ingest.onEvents((_site, events) => seen.push(...events));
  await registerVerifiedSite(node, proofs, domain);
  const base = { u: "https://shop.example/", d: domain };
  const props = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, `v${i}`]));
  const bodies = [
    { ...base, n: "BadCurrency", $: { amount: 10, currency: "ZZZ" } },
    { ...base, n: "HugeAmount", $: { amount: "99999999999999999999", currency: "EUR" } },
    { ...base, n: "Notation", $: { amount: "1e9", currency: "EUR" } },
    { ...base, n: "ManyProps", p: { ...JSON.parse('{"__proto__": {"polluted": "yes"}}'), ...props } },
    { ...base, n: "engagement", sd: 1_000_000, e: -5 },
    { ...base, n: "Consent", c: "yes", i: "no" },
  ];
  for (const body of bodies) {
    const res = await post(node, body, { "X-Forwarded-For": "81.2.69.142" });
    assert.equal(res.status, 202, body.n);
    assert.equal(res.headers.get("x-plausible-dropped"), null, body.n);
    await res.body?.cancel();
  }
  // Ten domains, one of them real: one event for the real site, none invented for the others.
  const many = Array.from({ length: 9 }, (_, i) => `other${i}.example`).concat(domain).join(",");
  const res = await post(node, { ...base, n: "Spread", d: many });
  assert.equal(res.status, 202);
  await res.body?.cancel();
  const tooMany = await post(node, { ...base, n: "TooMany", d: `${many},x.example` });
  assert.equal(tooMany.status, 400);
  await tooMany.body?.cancel();

  await node.components.ingest.flush();
  await waitFor("the events at the owner", () => seen.length >= bodies.length + 1);
  const byName = new Map(seen.map((e) => [e.name, e]));
  for (const name of ["BadCurrency", "HugeAmount", "Notation"]) {
    assert.equal(byName.get(name)?.revenue, undefined, name);
  }
  const kept = byName.get("ManyProps")!.props!;
  assert.equal(Object.keys(kept).length, 30);
  assert.ok(!Object.hasOwn(kept, "__proto__"));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  const engagement = byName.get("engagement")!;
  assert.equal(engagement.scrollDepth, 100);
  assert.equal(engagement.engagedMs, undefined);
  assert.equal(byName.get("Consent")!.consented, undefined);
  assert.equal(byName.get("Consent")!.interactive, undefined);
  for (const event of seen) assert.equal(event.country, undefined, "the forged header picked no country");
  assert.equal(seen.filter((e) => e.name === "Spread").length, 1);
  assert.ok(!seen.some((e) => e.name === "TooMany"));
});

Deno.test("a proxy's batch with malformed new fields is refused whole when the owner opens it", async () => {
  const pair = await crypto.subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const good = pageview(Date.now(), "0123456789abcdef0123456789abcdef", "/", { hostname: domain });
  const sealed = (events: unknown[]) =>
    sealBatch(events as AnalyticsEvent[], {
      id: "00112233445566778899aabbccddeeff",
      site: domain,
      publicKey,
    });
  assert.equal((await openBatch(await sealed([good]), pair.privateKey, publicKey)).length, 1);
  const poisons: Record<string, unknown>[] = [
    { country: "<script>" },
    { region: "DE-BERLIN-MITTE" },
    { city: "Berlin'); DROP TABLE x;--" },
    { cityName: { toString: "x" } },
    { revenue: { amount: "1e99", currency: "EUR" } },
    { revenue: { amount: "10", currency: "EUR", note: "x".repeat(10_000) } },
    { scrollDepth: 1000 },
    { engagedMs: -1 },
    { interactive: "false" },
    { consented: 1 },
  ];
  for (const poison of poisons) {
    await assert.rejects(
      async () => openBatch(await sealed([good, { ...good, ...poison }]), pair.privateKey, publicKey),
      TypeError,
      JSON.stringify(poison).slice(0, 60),
    );
  }
});

Deno.test("a site over its own limit through a node gets 202 with the drop headers, as Plausible throttles", async () => {
  await using proofs = await startProofServer();
  await using net = await startNetwork(
    1,
    { siteProofOrigins: proofs.origins, trustedProxies: ["127.0.0.1"] },
    {
      services: { ingest: { siteBurst: 3, siteRate: 0.001 } },
    },
  );
  const [node] = net.nodes;
  await registerVerifiedSite(node, proofs, domain);
  const answers: [number, string | null, string | null][] = [];
  for (let i = 0; i < 5; i++) {
    // Five visitors: no client limit applies, only the site's.
    const res = await post(node, { n: "pageview", u: `https://${domain}/${i}`, d: domain }, {
      "X-Forwarded-For": `203.0.113.${10 + i}`,
    });
    answers.push([res.status, res.headers.get("x-plausible-dropped"), res.headers.get("x-kosmos-dropped")]);
    await res.body?.cancel();
  }
  assert.deepEqual(answers, [
    [202, null, null],
    [202, null, null],
    [202, null, null],
    [202, "1", "throttled"],
    [202, "1", "throttled"],
  ]);
});
