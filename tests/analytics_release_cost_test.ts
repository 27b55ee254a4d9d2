/**
 * The cost of a release to a person, on a real node: a release asking more
 * than the cap per release (ε = 1 by default) is refused with a clear message
 * before anything is read or charged; a 30-day release charges its ε once and
 * its manifest says whom ε protects and over how many days; and the Sell
 * statistics form shows that cost (days, ε, budget after, the noise of a daily
 * count) while it is edited, refusing an ε above the cap with the node's words.
 */
import assert from "node:assert/strict";
import { launchBrowser, logIn } from "./browser/browser.ts";
import { join } from "node:path";
import { estimateRelease } from "../protocol/release_privacy.ts";
import { openDatabase } from "../node/services/db/mod.ts";
import { writeVisitorDayReleases } from "../node/services/releases/fixtures_test.ts";
import { day, post, SITE, traffic, valid, withNode } from "./releases.ts";

Deno.test("a release above the cap per release is refused with a clear message and charges nothing; a 30-day release charges its ε once, per person", async () => {
  await withNode({ budget: 3 }, async (node, app) => {
    node.components.analytics.recordEvents(SITE, traffic({ perDay: 60, days: 30 }));
    const month = { ...valid, from: "2024-03-10", to: "2024-04-08" };
    const before = await (await app.request(`/api/v1/sites/${SITE}/releases`)).json();
    const listings = (await node.facade.listListings()).total;
    for (const epsilon of [1.5, 3, 1.000001]) {
      const response = await post(app, { ...month, epsilon });
      assert.equal(response.status, 400);
      const { error } = await response.json();
      assert.equal(error.code, "bad_request");
      assert.equal(
        error.message,
        `Cannot release with ε = ${epsilon}: one release may spend at most ε = 1 per person`,
      );
    }
    await assert.rejects(
      node.components.releases.createRelease(SITE, { ...month, price: "1", epsilon: 2 }),
      (err: Error) => err.name === "ReleaseCapError",
    );
    assert.deepEqual(await (await app.request(`/api/v1/sites/${SITE}/releases`)).json(), before);
    assert.equal((await node.facade.listListings()).total, listings);

    // 30 days at ε = 1: the budget drops by 1, not by 30; the manifest says whom and how long ε covers.
    const response = await post(app, month);
    assert.equal(response.status, 201, await response.clone().text());
    const created = await response.json();
    assert.deepEqual(created.budget, { total: 3, spent: 1, remaining: 2 });
    assert.equal(created.release.epsilon, 1);
    assert.equal(created.release.from, "2024-03-10");
    assert.equal(created.release.to, "2024-04-08");
    const listing = await (await app.request(`/api/v1/listings/${created.id}`)).json();
    assert.deepEqual(listing.manifest.privacy, { k: 10, epsilon: 1, unit: "person", days: 30, delta: 0 });
    assert.match(listing.description, /\(30 days\)/);
    assert.match(listing.description, /ε = 1 for anyone in the data over all 30 days together/);
    // The noise a buyer is told of is the person-level one: ±270 at rate (1/3)/30.
    const estimate = estimateRelease({
      days: 30,
      epsilon: 1,
      k: 10,
      dimension: null,
      bounds: { maxVisits: 3, maxPageviews: 10, maxCells: 1 },
      fixedGrid: true,
      delta: 1e-6,
    });
    assert.match(listing.description, new RegExp(`within ±${estimate.visitorsMargin} of the truth`));
    const listed = await (await app.request(`/api/v1/sites/${SITE}/releases`)).json();
    assert.deepEqual(listed.budget, { total: 3, spent: 1, remaining: 2 });
    assert.equal(listed.releases.length, 1);

    // The dataset page says it in one sentence, before the buy button.
    const page = await app.request(`/datasets/${created.id}`, { headers: { accept: "text/html" } });
    assert.equal(page.status, 200);
    const text = (await page.text()).replaceAll("<!-- -->", "").replace(/<[^>]+>/g, "");
    assert.match(
      text,
      /ε = 1 per person: anyone present on all 30 days changes the odds of any guess about them by at most e1/,
    );
  });
});

Deno.test("--privacy-release-cap sets the cap per release the node refuses above and the form is told", async () => {
  await withNode({ budget: 3, config: { privacyReleaseCap: 0.5 } }, async (node, app) => {
    node.components.analytics.recordEvents(SITE, traffic({ perDay: 200 }));
    const listed = await (await app.request(`/api/v1/sites/${SITE}/releases`)).json();
    assert.equal(listed.policy.maxEpsilon, 0.5);
    const response = await post(app, { ...valid, epsilon: 0.6 });
    assert.equal(response.status, 400);
    assert.equal(
      (await response.json()).error.message,
      "Cannot release with ε = 0.6: one release may spend at most ε = 0.5 per person",
    );
    assert.equal((await post(app, { ...valid, epsilon: 0.5 })).status, 201);
  });
});

Deno.test("a node that accounted per visitor-day counts its sites' budgets again per person, and the dashboard says why it is spent", async () => {
  const prepare = (dataDir: string) => {
    const db = openDatabase(join(dataDir, "kosmos.db"));
    writeVisitorDayReleases(db, SITE);
    db.close();
  };
  await withNode({ prepare }, async (_node, app) => {
    // 30 days at ε 1 and a day at 0.5 were charged 1.5 of 10; per person they cost 30.5: the new total of 3 is spent.
    const listed = await (await app.request(`/api/v1/sites/${SITE}/releases`)).json();
    assert.deepEqual(listed.budget, { total: 3, spent: 3, remaining: 0 });
    const response = await post(app, { ...valid, epsilon: 0.5 });
    assert.equal(response.status, 409);
    assert.match((await response.json()).error.message, /only 0 of its privacy budget of 3 is left/);
    const page = await app.request(`/sites/${SITE}`, { headers: { accept: "text/html" } });
    const html = (await page.text()).replaceAll("<!-- -->", "");
    assert.match(html, /data-testid="release-exhausted"/);
    assert.match(
      html,
      /Releases made before budgets counted people were counted again: one over D days spends D × its ε/,
    );
    assert.doesNotMatch(html, /data-testid="release-form"/);
  });
});

Deno.test("the Sell statistics form shows a release's person-level cost as it is edited, refuses an ε above the cap, and publishes", async () => {
  await withNode({ budget: 2 }, async (node) => {
    // 200 visitors on each of the last 3 days, inside the form's default range (the 30 days before today).
    const shift = Math.floor(Date.now() / day) * day - 3 * day - Date.parse("2024-03-10T00:00:00Z");
    node.components.analytics.recordEvents(
      SITE,
      traffic({ perDay: 200 }).map((e) => ({ ...e, ts: e.ts + shift })),
    );
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 2000 } });
      const errors: string[] = [];
      page.on("pageerror", (err) => errors.push(err.message));
      await logIn(page, node);
      await page.goto(`${node.url}/sites/${SITE}`);
      await page.locator('kosmos-island[data-island="sell_statistics"][data-hydrated="true"]').waitFor({
        timeout: 15_000,
      });
      const form = page.locator('[data-testid="release-form"]');
      const cost = form.locator('[data-testid="release-cost"]');
      const estimate = (days: number, epsilon: number) =>
        estimateRelease({
          days,
          epsilon,
          k: 10,
          dimension: null,
          bounds: { maxVisits: 3, maxPageviews: 10, maxCells: 1 },
          fixedGrid: true,
          delta: 1e-6,
        });
      // Before any edit: 30 days at ε 1, rendered on the server with the same arithmetic.
      assert.equal(await cost.getAttribute("data-days"), "30");
      assert.equal(await cost.getAttribute("data-margin"), String(estimate(30, 1).visitorsMargin));
      assert.match(
        await form.locator('[data-testid="release-cost-remaining"]').textContent() ?? "",
        /^1 of 2 left/,
      );

      await form.locator('input[name="title"]').fill("Shop visits, last week");
      await form.locator('input[name="epsilon"]').fill("0.5");
      const to = await form.locator('input[name="to"]').inputValue();
      await form.locator('input[name="from"]').fill(
        new Date(Date.parse(to) - 6 * day).toISOString().slice(0, 10),
      );
      await page.waitForFunction(() =>
        document.querySelector('[data-testid="release-cost"]')?.getAttribute("data-days") === "7"
      );
      assert.equal(await cost.getAttribute("data-margin"), String(estimate(7, 0.5).visitorsMargin));
      assert.match(
        await form.locator('[data-testid="release-cost-epsilon"]').textContent() ?? "",
        /ε = 0\.5 per person/,
      );
      assert.match(
        await form.locator('[data-testid="release-cost-remaining"]').textContent() ?? "",
        /^1\.5 of 2 left/,
      );

      // Above the cap: the form says what the node would, and sends nothing.
      await form.locator('input[name="epsilon"]').fill("1.5");
      const refused = form.locator('[data-testid="release-cost-error"]');
      await refused.waitFor({ timeout: 5_000 });
      const capMessage = "Cannot release with ε = 1.5: one release may spend at most ε = 1 per person";
      assert.equal((await refused.textContent())?.trim(), capMessage);
      assert.equal(
        await form.locator('input[name="epsilon"]').evaluate((el: HTMLInputElement) => el.validationMessage),
        capMessage,
      );
      await form.locator('button[type="submit"]').click();
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(resolve)));
      assert.equal(
        (await form.locator('button[type="submit"]').textContent())?.trim(),
        "Charge ε and publish",
      );
      assert.deepEqual((await node.facade.listReleases(SITE)).releases, []);

      await form.locator('input[name="epsilon"]').fill("0.5");
      await form.locator('input[name="price"]').fill("3");
      await form.locator('input[name="licence"]').fill("CC-BY-4.0");
      await form.locator('button[type="submit"]').click();
      const done = page.locator('[data-testid="release-done"]');
      await done.waitFor({ timeout: 15_000 });
      assert.match(await done.textContent() ?? "", /ε = 0\.5 per person; 1\.5 of 2 left/);
      const { budget, releases } = await node.facade.listReleases(SITE);
      assert.deepEqual(budget, { total: 2, spent: 0.5, remaining: 1.5 });
      assert.equal(releases[0].title, "Shop visits, last week");
      assert.equal(releases[0].price, "3000000000000000000");
      assert.deepEqual([releases[0].from, releases[0].to], [
        new Date(Date.parse(to) - 6 * day).toISOString().slice(0, 10),
        to,
      ]);

      // Spent elsewhere meanwhile (the API): the node's own message shows and nothing more is charged.
      const iso = (ts: number) => new Date(ts).toISOString().slice(0, 10);
      const today = Math.floor(Date.now() / day) * day;
      await node.facade.createRelease(SITE, {
        ...valid,
        from: iso(today - 3 * day),
        to: iso(today - day),
        price: "0",
        epsilon: 1,
      });
      const after = (await node.facade.listReleases(SITE)).budget;
      assert.deepEqual(after, { total: 2, spent: 1.5, remaining: 0.5 });
      await form.locator('input[name="epsilon"]').fill("1");
      await form.locator('button[type="submit"]').click();
      const error = page.locator('[data-testid="release-error"]');
      await error.waitFor({ timeout: 15_000 });
      assert.match(await error.textContent() ?? "", /only 0\.5 of its privacy budget of 2 is left/);
      assert.deepEqual((await node.facade.listReleases(SITE)).budget, after);
      const shot = Deno.env.get("KOSMOS_SCREENSHOT");
      if (shot) await page.locator('[data-testid="sell-statistics"]').screenshot({ path: shot });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });
});
