/**
 * The dataset pages in a real browser against two real nodes: a person
 * publishes a CSV through node A's Publish page and watches the upload reach
 * 100 %; node B's Marketplace lists it (search and category filter included);
 * on B's dataset page the Fetch island downloads every chunk with live progress.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { startNetwork } from "../nodes.ts";
import { launchBrowser, logIn, waitFor } from "./browser.ts";

function makeCsv(bytes: number): string {
  const lines = ["ts,email,station,pm25"];
  let size = lines[0].length + 1;
  for (let i = 0; size < bytes; i++) {
    const line = `${1_700_000_000_000 + i * 60_000},p${i}@example.org,st${i % 13},${(i * 37) % 500 / 10}`;
    lines.push(line);
    size += line.length + 1;
  }
  return lines.join("\n") + "\n";
}

Deno.test("a dataset published in the browser on node A appears on node B's Marketplace and fetches there", async () => {
  // No storage offered, so B does not replicate the listing on its own and its fetch starts from the button.
  await using net = await startNetwork(2, { storage: { quotaGB: 0 } });
  await net.waitForMesh();
  const [a, b] = net.nodes;
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await logIn(page, a);

    await page.goto(`${a.url}/publish`);
    await waitFor(
      () => page.locator('kosmos-island[data-island="publish_form"][data-hydrated="true"]').count(),
      { what: "the PublishForm island to hydrate" },
    );
    // Record every upload percentage the page shows, however briefly.
    await page.evaluate(() => {
      const seen: string[] = [];
      Object.assign(globalThis, { kosmosPercents: seen });
      new MutationObserver(() => {
        const text = document.querySelector('[data-testid="upload-percent"]')?.textContent;
        if (text && seen.at(-1) !== text) seen.push(text);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await page.fill('input[name="title"]', "Balcony air, Neukölln");
    await page.fill('textarea[name="description"]', "PM2.5 every minute from twelve stations");
    await page.selectOption('select[name="category"]', "environment");
    await page.fill('input[name="price"]', "2.5");
    await page.fill('input[name="license"]', "CC-BY-4.0");
    const csv = makeCsv(2.5 * 1024 * 1024);
    await page.setInputFiles('[data-testid="file-input"]', {
      name: "air.csv",
      mimeType: "text/csv",
      buffer: Buffer.from(csv),
    });
    await page.click('[data-testid="publish-button"]');
    const link = page.locator('[data-testid="published-link"]');
    await link.waitFor({ timeout: 20_000 });
    const percents = await page.evaluate(() => (globalThis as { kosmosPercents?: string[] }).kosmosPercents);
    assert.ok(percents?.includes("100 %"), `upload progress reached 100 %: ${percents}`);
    const href = await link.getAttribute("href");
    const id = href!.split("/").at(-1)!;
    assert.equal(await page.locator('[data-testid="published-cid"]').textContent(), id);

    await link.click();
    await page.waitForURL(`**/datasets/${id}`);
    assert.equal(await page.locator('[data-testid="dataset-title"]').textContent(), "Balcony air, Neukölln");
    assert.equal(await page.locator('[data-testid="dataset-price"]').textContent(), "2.5 KOS");
    assert.ok((await page.locator('[data-testid="preview"] td.masked').count()) > 0, "emails are masked");

    // Node B heard the announcement: its Marketplace shows the listing.
    const market = await browser.newPage();
    market.on("pageerror", (err) => pageErrors.push(err.message));
    await logIn(market, b);
    const card = market.locator(`[data-listing-id="${id}"]`);
    await waitFor(async () => {
      await market.goto(`${b.url}/`);
      return await card.count();
    }, { timeoutMs: 10_000, what: "the listing on node B's Marketplace" });
    assert.match((await card.textContent())!, /Balcony air, Neukölln/);
    assert.equal(await card.locator('[data-testid="listing-price"]').textContent(), "2.5 KOS");
    assert.ok(Number(await card.locator('[data-testid="listing-providers"]').textContent()) >= 1);
    assert.ok((await card.locator('[data-testid="preview"] th').count()) > 0);

    await market.fill('input[name="q"]', "neuk");
    await market.click('[data-testid="market-search"] button[type="submit"]');
    await market.waitForURL(/q=neuk/);
    assert.equal(await market.locator(`[data-listing-id="${id}"]`).count(), 1);
    await market.goto(`${b.url}/?category=finance`);
    assert.equal(await market.locator("[data-listing-id]").count(), 0);
    assert.match((await market.locator(".empty-state").textContent())!, /No listings match/);

    // B's dataset page fetches every chunk, live.
    await market.goto(`${b.url}/datasets/${id}`);
    await waitFor(
      () => market.locator('kosmos-island[data-island="fetch_progress"][data-hydrated="true"]').count(),
      { what: "the FetchProgress island to hydrate" },
    );
    await market.click('[data-testid="fetch-button"]');
    await waitFor(
      async () => (await market.locator('[data-testid="fetch-status"]').textContent()) === "Complete",
      { timeoutMs: 20_000, what: "the fetch to complete on node B" },
    );
    assert.equal(await market.locator('[data-testid="fetch-chunks"]').textContent(), "3 / 3");
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
  }
});
