/**
 * First-party paths on a real node: the owner sets a script path and an event
 * path for a site; the node then serves its tracker and takes events there
 * exactly as at `/js/kosmos.js` and `/api/event` (same checks, same drop
 * headers), while bad or taken paths are refused and other sites are 404.
 */
import assert from "node:assert/strict";
import type { AnalyticsEvent } from "../protocol/analytics.ts";
import { startNetwork } from "./nodes.ts";
import { registerVerifiedSite, startProofServer } from "./site_proofs.ts";
import { ownerFetch, waitFor } from "./helpers.ts";

const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0";
const domain = "first.example";

Deno.test("a site's first-party script and event paths serve the tracker and take events", async () => {
  await using proofs = await startProofServer();
  await using net = await startNetwork(1, { siteProofOrigins: proofs.origins });
  const [node] = net.nodes;
  const seen: AnalyticsEvent[] = [];
  node.components.ingest.onEvents((_site, events) => seen.push(...events));
  await registerVerifiedSite(node, proofs, domain);
  const put = (site: string, body: unknown) =>
    ownerFetch(node, `/api/v1/sites/${site}/paths`, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });

  // Before they are set, the paths are nobody's.
  let res = await fetch(`${node.url}/x/collect`, { method: "POST", body: "{}" });
  assert.notEqual(res.status, 202);
  await res.body?.cancel();

  res = await put(domain, { scriptPath: "/js/stats.js", eventPath: "/x/collect" });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { scriptPath: "/js/stats.js", eventPath: "/x/collect" });
  res = await ownerFetch(node, `/api/v1/sites/${domain}/paths`);
  assert.deepEqual(await res.json(), { scriptPath: "/js/stats.js", eventPath: "/x/collect" });

  const script = await fetch(`${node.url}/js/stats.js`);
  assert.equal(script.status, 200);
  assert.match(script.headers.get("content-type") ?? "", /javascript/);
  const canonical = await fetch(`${node.url}/js/kosmos.js`);
  assert.equal(await script.text(), await canonical.text());

  const event = { n: "pageview", u: `https://${domain}/first-party`, d: domain };
  res = await fetch(`${node.url}/x/collect`, {
    method: "POST",
    body: JSON.stringify(event),
    headers: { "Content-Type": "text/plain", "User-Agent": firefox, Origin: `https://${domain}` },
  });
  assert.equal(res.status, 202);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  await res.body?.cancel();
  res = await fetch(`${node.url}/x/collect`, {
    method: "POST",
    body: JSON.stringify(event),
    headers: { "Content-Type": "text/plain", "User-Agent": "Googlebot/2.1" },
  });
  assert.equal(res.status, 202);
  assert.equal(res.headers.get("x-plausible-dropped"), "1");
  assert.equal(res.headers.get("x-kosmos-dropped"), "bot");
  await res.body?.cancel();
  res = await fetch(`${node.url}/x/collect`, { method: "POST", body: "{ not json" });
  assert.equal(res.status, 400);
  await res.body?.cancel();
  res = await fetch(`${node.url}/x/collect`, { method: "OPTIONS" });
  assert.equal(res.status, 204);
  await res.body?.cancel();
  await node.components.ingest.flush();
  await waitFor("the first-party event", () => seen.length >= 1);
  assert.deepEqual(seen.map((e) => e.pathname), ["/first-party"]);

  // Bad, reserved and taken paths are refused; other sites are not this owner's to set.
  for (
    const body of [{ eventPath: "/api/v1/sites" }, { scriptPath: "no-slash" }, { eventPath: "/a", extra: 1 }]
  ) {
    res = await put(domain, body);
    assert.equal(res.status, 422, JSON.stringify(body));
    await res.body?.cancel();
  }
  const other = "second.example";
  await registerVerifiedSite(node, proofs, other);
  res = await put(other, { eventPath: "/x/collect" });
  assert.equal(res.status, 422);
  assert.match((await res.json()).error.message, /already used by first\.example/);
  res = await put("elsewhere.example", { eventPath: "/z" });
  assert.equal(res.status, 404);
  await res.body?.cancel();
  res = await fetch(`${node.url}/api/v1/sites/${domain}/paths`, { method: "PUT", body: "{}" });
  assert.equal(res.status, 401);
  await res.body?.cancel();

  // Cleared: the paths are nobody's again.
  res = await put(domain, {});
  assert.equal(res.status, 422, "an empty body clears nothing by accident");
  await res.body?.cancel();
  res = await ownerFetch(node, `/api/v1/sites/${domain}/paths`, { method: "DELETE" });
  assert.deepEqual(await res.json(), {});
  res = await fetch(`${node.url}/js/stats.js`);
  assert.notEqual(res.status, 200);
  await res.body?.cancel();
});
