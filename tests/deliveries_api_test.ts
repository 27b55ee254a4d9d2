/**
 * Exports and deliveries over HTTP with a real purchase: a seller and a buyer
 * on loopback and one anvil; the buyer exports the purchase as CSV and NDJSON
 * and delivers it to a directory and to a webhook that fails before accepting,
 * both allowed by the buyer's config (the webhook listens on loopback, which
 * deliveries reach only when `deliveryWebhookAllow` names it).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ownerFetch, waitFor } from "./helpers.ts";
import { listForSale, startMarketCluster } from "./market_cluster.ts";

const ONE = 10n ** 18n;
const ROWS = [
  { id: 1, city: "Paris, FR", note: 'said "hi"' },
  { id: 2, city: "Berlin", note: "two\nlines" },
  { id: 3, city: "Oslo", note: "" },
];

Deno.test("deliveries API exports a real purchase and delivers it to a directory and a webhook", async () => {
  await using cluster = await startMarketCluster({
    prefix: "kosmos-deliveries-",
    services: { connectors: { backoff: 10, batchSize: 2 } },
  });
  const dirs: string[] = [];
  const hookBodies: { seq: number; rows: unknown[] }[] = [];
  let hookCalls = 0;
  const hook = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.json();
    if (++hookCalls <= 2) return new Response(null, { status: 503 });
    hookBodies.push(body);
    return new Response(null, { status: 204 });
  });
  try {
    const outDir = await Deno.makeTempDir({ prefix: "kosmos-export-" });
    dirs.push(outDir);
    const seller = await cluster.start();
    const buyer = await cluster.start({
      config: { deliveryWebhookAllow: ["127.0.0.1"], deliveryDirectoryAllow: [outDir] },
    });

    const data = new TextEncoder().encode(ROWS.map((r) => JSON.stringify(r)).join("\n") + "\n");
    const { manifestCid } = await listForSale(seller, data, {
      title: "Cities",
      price: 1n * ONE,
      filename: "cities.ndjson",
      viewers: [buyer],
    });
    const api = (path: string, init?: RequestInit) => ownerFetch(buyer, `/api/v1${path}`, init);
    const post = (path: string, body: unknown) =>
      api(path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });

    const bought = await post("/purchases", { listingId: manifestCid });
    assert.equal(bought.status, 202);
    const { id } = await bought.json();

    const done = await buyer.components.market.waitForPurchase(id, { timeout: 30_000 });
    assert.equal(done.status, "complete");

    const csv = await api(`/purchases/${id}/export?format=csv`);
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get("content-type") ?? "", /^text\/csv/);
    assert.match(csv.headers.get("content-disposition") ?? "", /filename="cities\.csv"/);
    assert.equal(
      await csv.text(),
      'id,city,note\r\n1,"Paris, FR","said ""hi"""\r\n2,Berlin,"two\nlines"\r\n3,Oslo,\r\n',
    );
    const ndjson = await api(`/purchases/${id}/export?format=ndjson`);
    assert.deepEqual((await ndjson.text()).trimEnd().split("\n").map((l) => JSON.parse(l)), ROWS);

    // Bad input.
    const badFormat = await api(`/purchases/${id}/export?format=xml`);
    assert.equal(badFormat.status, 400);
    assert.equal((await badFormat.json()).error.code, "bad_request");
    for (
      const body of [
        [],
        { connector: "ftp", url: "x" },
        { connector: "directory", dir: "relative/dir" },
        { connector: "webhook", url: "file:///etc/passwd" },
        { connector: "webhook", url: "https://example.com", extra: 1 },
        { connector: "directory", dir: "/tmp", format: "xml" },
      ]
    ) {
      const res = await post(`/purchases/${id}/deliveries`, body);
      assert.equal(res.status, 422, JSON.stringify(body));
      assert.equal((await res.json()).error.code, "unprocessable");
    }
    const notJson = await api(`/purchases/${id}/deliveries`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    assert.equal(notJson.status, 400);
    // Targets outside the allow-lists: a clear 400 naming the problem.
    for (
      const body of [
        { connector: "directory", dir: "/tmp" },
        { connector: "directory", dir: `${outDir}/../elsewhere` },
        { connector: "webhook", url: "http://10.0.0.1/hook" },
        { connector: "webhook", url: `http://[::1]:${hook.addr.port}/hook` },
      ]
    ) {
      const res = await post(`/purchases/${id}/deliveries`, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      const { error } = await res.json();
      assert.equal(error.code, "bad_request");
      assert.match(error.message, /^Cannot deliver to .*(deliveryDirectoryAllow|deliveryWebhookAllow)/);
    }
    const missing = await post(`/purchases/${crypto.randomUUID()}/deliveries`, {
      connector: "directory",
      dir: "/tmp",
    });
    assert.equal(missing.status, 404);

    // A directory delivery, allowed by the config.
    const toDir = await post(`/purchases/${id}/deliveries`, {
      connector: "directory",
      dir: outDir,
      format: "csv",
    });
    assert.equal(toDir.status, 202);
    const dirDelivery = await toDir.json();
    assert.equal(dirDelivery.status, "pending");

    // A webhook delivery that is answered 503 twice first.
    const toHook = await post(`/purchases/${id}/deliveries`, {
      connector: "webhook",
      url: `http://127.0.0.1:${hook.addr.port}/hook`,
    });
    assert.equal(toHook.status, 202);
    const hookDelivery = await toHook.json();

    const list = await waitFor("both deliveries to finish", async () => {
      const { deliveries } = await (await api("/deliveries")).json();
      return deliveries.every((d: { status: string }) => d.status !== "pending") ? deliveries : undefined;
    });
    const byId = new Map(list.map((d: { id: string }) => [d.id, d]));
    assert.deepEqual(
      { ...byId.get(dirDelivery.id) as object, updatedAt: 0 },
      { ...dirDelivery, status: "delivered", attempts: 2, batches: 2, rows: 3, updatedAt: 0 },
    );
    const fromHook = byId.get(hookDelivery.id) as Record<string, unknown>;
    assert.equal(fromHook.status, "delivered");
    assert.equal(fromHook.attempts, 4);
    assert.match(String(fromHook.lastError), /answered 503/);
    assert.deepEqual(hookBodies.flatMap((b) => b.rows), ROWS);
    assert.equal(
      await Deno.readTextFile(join(outDir, "batch-000001.csv")),
      'id,city,note\r\n1,"Paris, FR","said ""hi"""\r\n2,Berlin,"two\nlines"\r\n',
    );
  } finally {
    await hook.shutdown();
    await Promise.all(dirs.map((d) => Deno.remove(d, { recursive: true }).catch(() => {})));
  }
});
