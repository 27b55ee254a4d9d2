/**
 * `kosmos sites` and the read-only commands as a person runs them, against a
 * real node whose domain proofs are served by a local stand-in for the
 * websites: add a site, publish its proof, verify it, list its proxies and
 * privacy budget, read its statistics (`sites stats`, `query`); `node` and
 * `chain` describe the node; mistakes exit 2 (bad
 * usage) or 1 (refused by the node) with one line.
 */
import assert from "node:assert/strict";
import type { ChainInfo, ListingsPage, NodeInfo, SiteView } from "../protocol/api/mod.ts";
import { kosmos, kosmosJson } from "./cli.ts";
import { startMarketCluster } from "./market_cluster.ts";
import { startProofServer } from "./site_proofs.ts";

Deno.test("kosmos sites adds, verifies and lists a site; node, chain and listings describe the node", async (t) => {
  await using proofs = await startProofServer();
  await using cluster = await startMarketCluster({ prefix: "kosmos-cli-sites-" });
  const node = await cluster.start({ config: { siteProofOrigins: proofs.origins } });

  await t.step("sites add prints the proof, sites verify finds it, sites lists it", async () => {
    assert.deepEqual(await kosmosJson(node, ["sites"]), { sites: [] });
    const added = await kosmosJson<SiteView & { snippet: string }>(node, ["sites", "add", "shop.example"]);
    assert.equal(added.status, "pending");
    assert.match(added.snippet, /data-domain="shop\.example"/);
    const text = await kosmos(node, ["sites", "add", "shop.example"]);
    assert.equal(text.code, 0, text.stderr);
    assert.ok(text.stdout.includes(added.proof), "the text output shows the proof to publish");

    proofs.publish("shop.example", added.proof);
    const verified = await kosmosJson<SiteView>(node, ["sites", "verify", "shop.example"]);
    assert.equal(verified.status, "verified");
    const { sites } = await kosmosJson<{ sites: SiteView[] }>(node, ["sites"]);
    assert.deepEqual(sites.map((s) => [s.domain, s.status]), [["shop.example", "verified"]]);
    assert.deepEqual(await kosmosJson(node, ["sites", "proxies", "shop.example"]), { proxies: [] });
    const releases = await kosmosJson<{ budget: { remaining: number }; releases: unknown[] }>(node, [
      "sites",
      "releases",
      "shop.example",
    ]);
    assert.deepEqual(releases.releases, []);
    assert.ok(releases.budget.remaining > 0);
  });

  await t.step("sites stats and query read the site's statistics", async () => {
    const stats = await kosmosJson<{ realtime: number; series: Record<string, unknown>[] }>(node, [
      "sites",
      "stats",
      "shop.example",
      "--period",
      "7d",
    ]);
    assert.equal(stats.realtime, 0);
    assert.equal(stats.series.length, 7);
    assert.ok(stats.series.every((row) => row.visitors === 0), JSON.stringify(stats.series));
    const file = await Deno.makeTempFile({ suffix: ".json" });
    try {
      await Deno.writeTextFile(
        file,
        JSON.stringify({ site_id: "shop.example", date_range: "7d", metrics: ["visitors", "pageviews"] }),
      );
      const result = await kosmosJson<{ results: { metrics: number[] }[] }>(node, ["query", file]);
      assert.deepEqual(result.results.map((r) => r.metrics), [[0, 0]]);
      await Deno.writeTextFile(file, "{ not json");
      assert.equal((await kosmos(node, ["query", file])).code, 2);
    } finally {
      await Deno.remove(file);
    }
    const badPeriod = await kosmos(node, ["sites", "stats", "shop.example", "--period", "decade"]);
    assert.equal(badPeriod.code, 1);
    assert.match(badPeriod.stderr, /^kosmos: sites: cannot read the statistics of shop\.example: .*\(400\)/);
  });

  await t.step("sites mistakes: bad usage exits 2, a refused domain 1", async () => {
    for (const args of [["sites", "frobnicate", "x"], ["sites", "add"], ["sites", "block", "shop.example"]]) {
      const run = await kosmos(node, args);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, /^kosmos: sites/);
    }
    const refused = await kosmos(node, ["sites", "add", "not a domain"]);
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr.trim().split("\n").length, 1, refused.stderr);
    assert.match(refused.stderr, /^kosmos: sites: cannot add site not a domain: .*\(422\)/);
  });

  await t.step("node, chain and listings describe the node", async () => {
    const info = await kosmosJson<NodeInfo>(node, ["node"]);
    assert.deepEqual([info.peerId, info.address], [node.peerId, node.address]);
    const chain = await kosmosJson<ChainInfo>(node, ["chain"]);
    assert.equal(chain.chainId, 31337);
    assert.equal(chain.contracts?.registry, node.components.chain.client.contracts.registry);
    const page = await kosmosJson<ListingsPage>(node, ["listings", "--sort", "price"]);
    assert.deepEqual([page.listings, page.total], [[], 0]);
    const badSort = await kosmos(node, ["listings", "--sort", "colour"]);
    assert.equal(badSort.code, 2);
    const missing = await kosmos(node, ["listing", "bafy-nope"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^kosmos: listing: cannot find listing bafy-nope: .*\(4\d\d\)/);
  });
});
