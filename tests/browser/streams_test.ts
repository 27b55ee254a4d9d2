/**
 * The Streams page in a real browser against two real nodes and one anvil: a gateway publishes a stream of two
 * sensors; on the buyer's page the subscribe form estimates the price, previews the exact span, price and fee
 * (nothing signed), and "Subscribe" buys it. After a reload the subscription shows its status and expiry, and
 * while the gateway ingests readings at 10 Hz per sensor the live chart (uPlot, fed by server-sent events)
 * receives them, both sensors' latest values shown under it. The Renew control previews the epochs after the
 * last one bought (nothing bought) and "Renew" buys them: the expiry moves. The gateway's page lists its sensors
 * and owners.
 */
import assert from "node:assert/strict";
import type { KosmosNode } from "../../node/node.ts";
import type { OwnerView, StreamView, SubscriptionView } from "../../protocol/api/streams.ts";
import { startMarketCluster } from "../market_cluster.ts";
import { ownerFetch } from "../helpers.ts";
import { launchBrowser, logIn, waitFor } from "./browser.ts";

async function call<T>(node: KosmosNode, path: string, body?: unknown): Promise<T> {
  const response = await ownerFetch(
    node,
    path,
    body === undefined ? {} : {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    },
  );
  const json = await response.json();
  if (!response.ok) throw new Error(`${path} answered ${response.status}: ${JSON.stringify(json)}`);
  return json as T;
}

Deno.test("Streams page: subscribe with the price previewed, the live chart receives the readings, a renewal moves the expiry", async () => {
  await using cluster = await startMarketCluster({ prefix: "kosmos-browser-streams-" });
  const browser = await launchBrowser();
  const feeding = new AbortController();
  let feeder: Promise<void> | undefined;
  try {
    const gateway = await cluster.start();
    const buyer = await cluster.start({ config: { storage: { quotaGB: 0 } } });

    const owner = await call<OwnerView>(gateway, "/api/v1/gateway/owners", { label: "Greenhouse owner" });
    for (const [sensorId, label] of [["gh.temp-1", "North"], ["gh.temp-2", "South"]]) {
      await call(gateway, "/api/v1/gateway/sensors", { sensorId, owner: owner.address, label });
    }
    const { key } = await call<{ key: string }>(gateway, "/api/v1/gateway/clients", { label: "line" });
    const stream = await call<StreamView>(gateway, "/api/v1/streams", {
      title: "Greenhouse temperatures",
      sensors: ["gh.temp-1", "gh.temp-2"],
      schema: [{ name: "temp", type: "number" }, { name: "heating", type: "boolean" }],
      pricePerHour: "36",
      epochSeconds: 5,
      licence: "CC-BY-4.0",
    });
    await waitFor(
      async () =>
        (await call<{ streams: StreamView[] }>(buyer, "/api/v1/streams")).streams.some((s) =>
          s.id === stream.id
        ),
      { timeoutMs: 30_000, what: "the buyer to learn of the stream" },
    );

    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await logIn(page, buyer);
    await page.goto(`${buyer.url}/streams`);
    const card = page.locator(`[data-testid="stream"][data-stream="${stream.id}"]`);
    await card.waitFor({ timeout: 10_000 });
    assert.match(
      (await card.locator('[data-testid="stream-sensors"]').textContent())!,
      /North \(gh\.temp-1\)/,
    );
    await waitFor(
      () => page.locator('kosmos-island[data-island="stream_subscribe"][data-hydrated="true"]').count(),
      { what: "the subscribe form to hydrate" },
    );

    // 1 minute of 5-second epochs at 36 KOS an hour: 0.05 KOS an epoch, 12 or 13 epochs.
    await card.locator('[data-testid="subscribe-amount"]').fill("1");
    await card.locator('[data-testid="subscribe-unit"]').selectOption("minutes");
    const estimate = BigInt(
      (await card.locator('[data-testid="subscribe-estimate"]').getAttribute("data-price"))!,
    );
    assert.ok(
      estimate === 12n * 5n * 10n ** 16n || estimate === 13n * 5n * 10n ** 16n,
      `estimate ${estimate}`,
    );
    const before = buyer.components.market.listPurchases().length;
    await card.locator('[data-testid="subscribe-review"]').click();
    const preview = card.locator('[data-testid="subscribe-preview"]');
    await preview.waitFor({ timeout: 20_000 });
    const price = BigInt((await preview.getAttribute("data-price"))!);
    const epochs = /epochs (\d+)–(\d+)/.exec((await preview.textContent())!)!;
    assert.equal(price, BigInt(Number(epochs[2]) - Number(epochs[1]) + 1) * 5n * 10n ** 16n);
    assert.deepEqual(
      (await call<{ subscriptions: unknown[] }>(buyer, "/api/v1/subscriptions")).subscriptions,
      [],
    );
    assert.equal(buyer.components.market.listPurchases().length, before, "the preview bought nothing");
    await card.locator('[data-testid="fee-confirm-button"]').click();
    const status = card.locator('[data-testid="subscribe-status"]');
    await status.waitFor({ timeout: 30_000 });
    assert.match((await status.textContent())!, /^Subscribed/, (await status.textContent())!);
    const [sub] =
      (await call<{ subscriptions: SubscriptionView[] }>(buyer, "/api/v1/subscriptions")).subscriptions;
    assert.equal(sub.streamId, stream.id);

    // Readings at 10 Hz per sensor, over the ingest route.
    feeder = (async () => {
      let n = 0;
      while (!feeding.signal.aborted) {
        const ts = Date.now();
        const readings = ["gh.temp-1", "gh.temp-2"].map((sensorId, i) => ({
          sensorId,
          ts,
          values: { temp: 20 + i * 3 + Math.sin(n / 10), heating: n % 20 < 10 },
        }));
        n++;
        await fetch(`${gateway.url}/api/v1/ingest/readings`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify({ readings }),
          signal: feeding.signal,
        }).then((r) => r.body?.cancel()).catch(() => {});
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    await page.reload();
    const live = page.locator(`[data-testid="subscription"][data-subscription="${sub.id}"]`);
    await live.waitFor({ timeout: 10_000 });
    await waitFor(
      () => page.locator('kosmos-island[data-island="stream_live"][data-hydrated="true"]').count(),
      { what: "the live island to hydrate" },
    );
    assert.match(
      (await live.locator('[data-testid="subscription-expiry"]').textContent())!,
      /ends in|starts in/,
    );
    const points = live.locator('[data-testid="stream-points"]');
    await waitFor(async () => Number(await points.getAttribute("data-count")) >= 20, {
      timeoutMs: 60_000,
      what: "20 live readings to reach the chart",
    });
    assert.equal(
      await live.locator('[data-testid="stream-chart"] canvas').count(),
      1,
      "uPlot drew its canvas",
    );
    const latest = live.locator('[data-testid="stream-latest"] tr');
    await waitFor(async () => (await latest.count()) === 2, { what: "the latest reading of both sensors" });
    assert.match((await live.locator('[data-testid="stream-latest"]').textContent())!, /North.*temp 2\d/s);
    // The island polls the subscription: its status follows the node's.
    await waitFor(
      async () => (await live.locator('[data-testid="subscription-status"]').textContent()) === "active",
      {
        timeoutMs: 20_000,
        what: "the subscription to show active",
      },
    );

    // Renew from the page (an active subscription has the control): previewed (nothing bought), confirmed,
    // and the expiry moves.
    await page.reload();
    await live.waitFor({ timeout: 10_000 });
    await waitFor(
      () => page.locator('kosmos-island[data-island="stream_renew"][data-hydrated="true"]').count(),
      { what: "the renew control to hydrate" },
    );
    const expiry = live.locator('[data-testid="subscription-expiry"]');
    const endsBefore = Number(await expiry.getAttribute("data-to"));
    assert.equal(endsBefore, sub.to);
    await live.locator('[data-testid="renew-amount"]').fill("1");
    await live.locator('[data-testid="renew-unit"]').selectOption("minutes");
    await live.locator('[data-testid="renew-review"]').click();
    const renewal = live.locator('[data-testid="renew-preview"]');
    await renewal.waitFor({ timeout: 20_000 });
    const renewTo = Number(await renewal.getAttribute("data-to"));
    assert.ok(renewTo >= endsBefore + 60_000, `renewal previewed to ${renewTo}, was ${endsBefore}`);
    const span = /epochs (\d+)–(\d+)/.exec((await renewal.textContent())!)!;
    assert.equal(Number(span[1]) * 5000, endsBefore, "the renewal starts where the span bought ends");
    assert.equal(
      BigInt((await renewal.getAttribute("data-price"))!),
      BigInt(Number(span[2]) - Number(span[1]) + 1) * 5n * 10n ** 16n,
    );
    assert.equal(
      (await call<SubscriptionView>(buyer, `/api/v1/subscriptions/${sub.id}`)).saleIds.length,
      1,
      "the renewal preview bought nothing",
    );
    await live.locator('[data-testid="fee-confirm-button"]').click();
    const renewed = live.locator('[data-testid="renew-status"]');
    await renewed.waitFor({ timeout: 30_000 });
    assert.match((await renewed.textContent())!, /^Renewed/, (await renewed.textContent())!);
    assert.equal(Number(await renewed.getAttribute("data-to")), renewTo);
    await page.reload();
    await live.waitFor({ timeout: 10_000 });
    assert.equal(Number(await expiry.getAttribute("data-to")), renewTo, "the expiry moved");
    assert.equal(
      (await call<SubscriptionView>(buyer, `/api/v1/subscriptions/${sub.id}`)).saleIds.length,
      2,
    );

    // The gateway's own page: its sensors with their owner, the owner as an identity proxy.
    const gatewayPage = await browser.newPage();
    await logIn(gatewayPage, gateway);
    await gatewayPage.goto(`${gateway.url}/streams`);
    const sensors = gatewayPage.locator('[data-testid="gateway-sensors"] [data-testid="sensor"]');
    assert.equal(await sensors.count(), 2);
    assert.match((await sensors.first().textContent())!, /Greenhouse owner/);
    assert.match(
      (await gatewayPage.locator(`[data-testid="owner"][data-owner="${owner.address}"]`).textContent())!,
      /identity proxy/,
    );
    assert.equal(
      await gatewayPage.locator('[data-testid="subscribe-form"]').count(),
      0,
      "no subscribing to one's own",
    );
    assert.deepEqual(pageErrors, []);
  } finally {
    feeding.abort();
    await feeder;
    await browser.close();
  }
});
