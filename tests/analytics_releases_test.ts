/**
 * Selling statistics on a real node: `POST /api/v1/sites/:domain/releases`
 * publishes a noisy CSV whose manifest carries k and the person-level ε (unit,
 * days, δ), charges the site's privacy budget, refuses (charging and
 * publishing nothing) bad input and a release beyond the budget, and the
 * dashboard shows the budget. Visitors whose requests to `POST /api/event`
 * carried Do-Not-Track or Global Privacy Control are in no table. The cap per
 * release and the cost shown before publishing: `analytics_release_cost_test.ts`.
 */
import assert from "node:assert/strict";
import { createNode } from "../node/node.ts";
import { computeBoundedTable } from "../node/services/analytics/bounded_table.ts";
import { testLogger, waitFor } from "./helpers.ts";
import { registerVerifiedSite, startProofServer } from "./site_proofs.ts";
import { day, post, readDataset, SITE, traffic, valid, withNode } from "./releases.ts";

Deno.test("POST /api/v1/sites/:domain/releases publishes a noisy CSV with ε and k in the manifest and charges the budget", async () => {
  await withNode({ budget: 3 }, async (node, app) => {
    node.components.analytics.recordEvents(SITE, traffic({ perDay: 200 }));

    const empty = await (await app.request(`/api/v1/sites/${SITE}/releases`)).json();
    assert.deepEqual(empty.budget, { total: 3, spent: 0, remaining: 3 });
    assert.deepEqual(empty.releases, []);
    assert.equal(empty.policy.maxEpsilon, 1);
    assert.deepEqual(empty.policy.dimensions.none, {
      bounds: { maxVisits: 3, maxPageviews: 10, maxCells: 1 },
      fixedGrid: true,
    });

    const response = await post(app, { ...valid, description: "Daily traffic of a small shop." });
    assert.equal(response.status, 201, await response.clone().text());
    const created = await response.json();
    assert.equal(created.id, created.manifestCid);
    assert.deepEqual(created.budget, { total: 3, spent: 1, remaining: 2 });
    assert.equal(created.release.status, "published");
    assert.equal(created.release.epsilon, 1);
    assert.equal(created.release.threshold, 10);
    assert.equal(created.release.rows, 3);

    // The listing and its manifest: category, seller, price, licence, ε and k.
    const listing = await (await app.request(`/api/v1/listings/${created.id}`)).json();
    assert.equal(listing.category, "analytics");
    assert.equal(listing.seller, node.address);
    assert.equal(listing.price, "2500000000000000000");
    assert.equal(listing.licence, "CC-BY-4.0");
    assert.deepEqual(listing.manifest.privacy, { k: 10, epsilon: 1, unit: "person", days: 3, delta: 0 });
    assert.match(listing.description, /^Daily traffic of a small shop\.\n\n.*per person: ε = 1 for anyone/s);
    assert.ok(!("suppressed" in created.release), "nothing about the rows withheld");
    assert.deepEqual(listing.schema.map((c: { name: string }) => c.name), [
      "date",
      "visitors",
      "visits",
      "pageviews",
    ]);

    // The plaintext: aggregates only, every row at least k visitors, noisy around the truth.
    const csv = await readDataset(node, created.manifestCid);
    assert.doesNotMatch(csv, /secret-visitor/);
    const lines = csv.trim().split("\r\n");
    assert.equal(lines[0], "date,visitors,visits,pageviews");
    assert.deepEqual(lines.slice(1).map((l) => l.split(",")[0]), ["2024-03-10", "2024-03-11", "2024-03-12"]);
    for (const line of lines.slice(1)) {
      const [visitors, visits, pageviews] = line.split(",").slice(1).map(Number);
      assert.ok(visitors >= 10, line);
      // True values 200, 200, 400; a person over 3 days has Δ 3, 9 and 30 at ε/3 each: sd ≈ 13, 38 and 127.
      assert.ok(Math.abs(visitors - 200) < 150, line);
      assert.ok(visits >= visitors && pageviews >= 0, line);
    }

    const listed = await (await app.request(`/api/v1/sites/${SITE}/releases`)).json();
    assert.deepEqual(listed.budget, { total: 3, spent: 1, remaining: 2 });
    assert.equal(listed.releases.length, 1);
    assert.equal(listed.releases[0].manifestCid, created.manifestCid);
  });
});

Deno.test("a release beyond the privacy budget or with a bad field is refused with nothing charged or published", async () => {
  await withNode({ budget: 3 }, async (node, app) => {
    node.components.analytics.recordEvents(SITE, traffic());
    const state = async () => ({
      releases: await (await app.request(`/api/v1/sites/${SITE}/releases`)).json(),
      listings: (await node.facade.listListings()).total,
    });
    const before = await state();
    const refuse = async (body: unknown, status: number, message: RegExp, domain = SITE) => {
      const response = await post(app, body, domain);
      assert.equal(response.status, status, JSON.stringify(body));
      const error = (await response.json()).error;
      assert.match(error.message, message, JSON.stringify(body));
      assert.deepEqual(await state(), before, `${JSON.stringify(body)} changed the budget or the catalog`);
    };
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + day).toISOString().slice(0, 10);
    await refuse({ ...valid, title: undefined }, 400, /"title" is required/);
    await refuse({ ...valid, title: "two\nlines" }, 400, /"title"/);
    await refuse({ ...valid, epsilon: "1" }, 400, /"epsilon" must be a number/);
    await refuse({ ...valid, epsilon: 0 }, 400, /"epsilon"/);
    await refuse({ ...valid, epsilon: 0.1234567 }, 400, /6 decimals/);
    await refuse({ ...valid, k: 1 }, 400, /"k"/);
    await refuse({ ...valid, k: 2.5 }, 400, /"k"/);
    await refuse({ ...valid, from: "2024-03-13" }, 400, /before "from"/);
    await refuse({ ...valid, from: "2024-02-30" }, 400, /calendar date/);
    await refuse({ ...valid, from: today, to: tomorrow }, 400, /future/);
    await refuse({ ...valid, from: "2022-01-01" }, 400, /366 days/);
    await refuse({ ...valid, dimension: "visitor_id" }, 400, /"dimension"/);
    await refuse({ ...valid, price: "two" }, 400, /"price"/);
    await refuse({ ...valid, licence: "CC BY" }, 400, /"licence"/);
    await refuse({ ...valid, visitorIds: true }, 400, /Unknown field "visitorIds"/);
    await refuse([valid], 400, /JSON object/);
    await refuse(valid, 404, /does not own/, "elsewhere.example");
    await refuse(valid, 400, /Invalid site domain/, "Not_A_Domain");

    // Spending it all: three releases of ε 1 (the cap) succeed, the next is refused.
    assert.equal((await post(app, valid)).status, 201);
    assert.equal((await post(app, { ...valid, dimension: "device" })).status, 201);
    assert.equal((await post(app, { ...valid, to: "2024-03-11" })).status, 201);
    const spent = await state();
    assert.deepEqual(spent.releases.budget, { total: 3, spent: 3, remaining: 0 });
    assert.equal(spent.listings, before.listings + 3);
    const response = await post(app, { ...valid, epsilon: 0.01 });
    assert.equal(response.status, 409);
    assert.equal((await response.json()).error.code, "conflict");
    assert.deepEqual(await state(), spent);
  });
});

Deno.test("createRelease() lets exactly one of two concurrent releases spend the last of the budget; the other gets the budget error", async () => {
  await withNode({ budget: 1.5 }, async (node) => {
    node.components.analytics.recordEvents(SITE, traffic());
    const listings = (await node.facade.listListings()).total;
    // Both pass the first budget check before either is charged (ε 1 + 0.8 > 1.5), so only the
    // check inside the charging transaction can refuse the second one.
    const epsilons = [1, 0.8];
    const outcomes = await Promise.allSettled(
      epsilons.map((epsilon) =>
        node.components.releases.createRelease(SITE, { ...valid, price: "2500000000000000000", epsilon })
      ),
    );
    const won = outcomes.findIndex((o) => o.status === "fulfilled");
    const lost = outcomes.findIndex((o) => o.status === "rejected");
    assert.ok(
      won >= 0 && lost >= 0,
      `expected one success and one refusal, got ${
        outcomes.map((o) => o.status === "rejected" ? o.reason?.message : o.status)
      }`,
    );
    const error = (outcomes[lost] as PromiseRejectedResult).reason as Error;
    assert.equal(error.name, "PrivacyBudgetError", error.message);
    assert.equal(
      error.message,
      `Cannot release statistics of "${SITE}" with ε = ${epsilons[lost]}: ` +
        `only ${(15 - 10 * epsilons[won]) / 10} of its privacy budget of 1.5 is left`,
    );
    const { budget, releases } = node.components.releases.listReleases(SITE);
    assert.deepEqual(budget, { total: 1.5, spent: epsilons[won], remaining: (15 - 10 * epsilons[won]) / 10 });
    assert.deepEqual(releases.map((r) => [r.epsilon, r.status]), [[epsilons[won], "published"]]);
    assert.equal((await node.facade.listListings()).total, listings + 1);
  });
});

Deno.test("a release whose every row is suppressed charges ε but publishes nothing; the dashboard shows the budget", async () => {
  await withNode({ budget: 10 }, async (node, app) => {
    node.components.analytics.recordEvents(SITE, traffic());
    const listings = (await node.facade.listListings()).total;
    // At most 40 visitors per page a day, far below the threshold an open dimension needs (k raised for δ).
    const response = await post(app, { ...valid, dimension: "page", from: "2024-03-10", to: "2024-03-10" });
    assert.equal(response.status, 422);
    const message = (await response.json()).error.message;
    assert.match(message, /nothing was published; the ε of 1 is spent/);
    assert.doesNotMatch(message, /\d+ rows/, "no count of the rows withheld");
    assert.equal((await node.facade.listListings()).total, listings);
    const listed = await (await app.request(`/api/v1/sites/${SITE}/releases`)).json();
    assert.deepEqual(listed.budget, { total: 10, spent: 1, remaining: 9 });
    assert.equal(listed.releases[0].status, "empty");
    assert.equal(listed.releases[0].manifestCid, null);
    assert.ok(listed.releases[0].threshold > 10);

    assert.ok(!("suppressed" in listed.releases[0]), "nothing about the rows withheld");
    assert.match(listed.releases[0].error, /^Every row had fewer than \d+ visitors after noise/);

    assert.equal((await post(app, { ...valid, title: "Per day" })).status, 201);
    const page = await app.request(`/sites/${SITE}`, { headers: { accept: "text/html" } });
    assert.equal(page.status, 200);
    const html = (await page.text()).replaceAll("<!-- -->", "");
    assert.match(html, /data-testid="sell-statistics"/);
    assert.match(html, /Privacy budget: ε 2 spent of 10/);
    assert.match(html, /data-testid="privacy-budget-remaining">8</);
    assert.match(html, />Per day</);
    assert.match(html, /data-status="empty"/);
    assert.match(html, /data-testid="release-form"/);
    assert.match(html, /data-island="sell_statistics"/);
  });
});

Deno.test("visitors who sent Do-Not-Track or Global Privacy Control to POST /api/event are in no released table", async () => {
  await withNode(
    { budget: 1000, maxEpsilon: 1000, config: { trustedProxies: ["127.0.0.1"] } },
    async (node) => {
      const send = async (ip: string, path: string, headers: Record<string, string> = {}) => {
        const response = await fetch(`${node.url}/api/event`, {
          method: "POST",
          body: JSON.stringify({ n: "pageview", u: `https://${SITE}${path}`, d: SITE, r: null }),
          headers: {
            "Content-Type": "text/plain",
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
            "X-Forwarded-For": ip,
            ...headers,
          },
        });
        assert.equal(response.status, 202);
        await response.body?.cancel();
        return response.headers.get("x-kosmos-dropped");
      };
      for (let i = 0; i < 12; i++) assert.equal(await send(`198.51.100.${i + 1}`, "/kept"), null);
      for (let i = 0; i < 6; i++) {
        assert.equal(await send(`203.0.113.${i + 1}`, "/private", { DNT: "1" }), "opted_out");
        assert.equal(await send(`203.0.113.${i + 101}`, "/private", { "Sec-GPC": "1" }), "opted_out");
      }
      await node.components.ingest.flush();
      const today = Math.floor(Date.now() / day);
      const range = {
        from: new Date((today - 1) * day).toISOString().slice(0, 10),
        to: new Date(today * day).toISOString().slice(0, 10),
      };
      const pages = await waitFor("the kept pageviews to be stored", () => {
        const table = computeBoundedTable(node.components.db, SITE, { ...range, dimension: "page" });
        return table.rows.reduce((n, r) => n + r.visitors, 0) >= 12 ? table : null;
      });
      assert.deepEqual([...new Set(pages.rows.map((r) => r.value))], ["/kept"]);
      const days = computeBoundedTable(node.components.db, SITE, range);
      assert.equal(days.rows.reduce((n, r) => n + r.visitors, 0), 12);

      // With a huge ε (the cap raised for it) the noise is 0: the released counts are exactly the 12 who did not opt out.
      const created = await node.facade.createRelease(SITE, {
        ...range,
        dimension: "page",
        epsilon: 300,
        k: 2,
        title: "Pages",
        price: "0",
        licence: "CC0-1.0",
      });
      const csv = await readDataset(node, created.manifestCid);
      assert.doesNotMatch(csv, /private/);
      const rows = csv.trim().split("\r\n").slice(1).map((l) => l.split(","));
      assert.deepEqual(rows.map((r) => r[1]), rows.map(() => "/kept"));
      assert.equal(rows.reduce((n, r) => n + Number(r[2]), 0), 12);
    },
  );
});

Deno.test("ε is charged before publishing: a failed publish keeps it spent, and a crash mid-publish is marked on restart", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "kosmos-releases-" });
  await using proofs = await startProofServer();
  const start = async () => {
    const node = await createNode({
      dataDir,
      port: 0,
      listen: ["/ip4/127.0.0.1/tcp/0"],
      siteProofOrigins: proofs.origins,
    }, {
      logger: testLogger(),
    });
    await node.start();
    return node;
  };
  try {
    let node = await start();
    try {
      await registerVerifiedSite(node, proofs, SITE);
      node.components.analytics.recordEvents(SITE, traffic());
      const listings = (await node.facade.listListings()).total;
      // The publish path fails (the request is gone) after the charge.
      await assert.rejects(
        node.facade.createRelease(SITE, { ...valid, price: "1" }, { signal: AbortSignal.abort() }),
      );
      const { budget, releases } = await node.facade.listReleases(SITE);
      assert.deepEqual(budget, { total: 3, spent: 1, remaining: 2 });
      assert.equal(releases[0].status, "failed");
      assert.match(releases[0].error ?? "", /^Publishing failed/);
      assert.equal((await node.facade.listListings()).total, listings);
      // What a crash between the charge and the publish leaves behind.
      node.components.db.prepare("UPDATE analytics_releases SET status = 'pending', error = NULL").run();
    } finally {
      await node.stop();
    }
    node = await start();
    try {
      const { budget, releases } = await node.facade.listReleases(SITE);
      assert.deepEqual(budget, { total: 3, spent: 1, remaining: 2 });
      assert.equal(releases[0].status, "failed");
      assert.match(releases[0].error ?? "", /stopped before publishing/);
    } finally {
      await node.stop();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});
