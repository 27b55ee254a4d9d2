/**
 * Attack: make the node deliver bought data where only the node can reach.
 *
 * Whoever gets a delivery created (a page that drives the owner's browser, a
 * script the owner runs, a leaked token) names the target. The old code sent
 * webhook batches to any http(s) URL: 127.0.0.1 services, the LAN (10.x),
 * the cloud metadata service at 169.254.169.254, [::1], or a name resolving
 * to any of those, including a name that resolved to a public address when
 * checked and to loopback when used (DNS rebinding). It wrote directory
 * batches to any absolute path (`/tmp/x`, `<dataDir>/../..`, through a
 * symlink inside the data dir). Each of those gave the attacker a request
 * from inside the owner's network, or a file written anywhere the node may
 * write.
 *
 * Now every such target is refused with a 400 when the delivery is created,
 * before any connection or write, and checked again before every batch; the
 * webhook connects to exactly the addresses it checked. Nothing in this test
 * sends a packet beyond loopback: the non-loopback targets are refused
 * before a connection would be made, and the loopback webhook records every
 * request so the test can see it received none.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { systemLookup } from "../../node/services/connectors/targets.ts";
import { ownerFetch } from "../helpers.ts";
import { listForSale, startMarketCluster } from "../market_cluster.ts";

const ONE = 10n ** 18n;

Deno.test("deliveries to loopback, private, link-local and metadata addresses, or outside the data dir, are refused", async () => {
  const hits: string[] = [];
  const hook = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    hits.push(`${req.method} ${new URL(req.url).pathname}`);
    await req.body?.cancel();
    return new Response(null, { status: 204 });
  });
  const port = hook.addr.port;
  // For the rebinding attack at the end, the name the attacker controls
  // answers with a public address when the delivery is created and with
  // loopback afterwards. It is "localhost" so that code resolving it again
  // itself (as the old code did) also lands on loopback, where the test can
  // see it, and never off this machine. Until then every name goes to the
  // system resolver.
  let rebinding = false;
  let lookups = 0;
  const lookup = (host: string) => {
    if (!rebinding || host !== "localhost") return systemLookup(host);
    return Promise.resolve(++lookups === 1 ? ["93.184.215.14"] : ["127.0.0.1"]);
  };
  await using cluster = await startMarketCluster({
    prefix: "kosmos-attack-deliveries-",
    services: { connectors: { backoff: 10, retries: 1, lookup } },
  });
  const outside = await Deno.makeTempDir({ prefix: "kosmos-attack-outside-" });
  try {
    const seller = await cluster.start();
    const buyer = await cluster.start();
    const data = new TextEncoder().encode("id,v\n1,secret row\n2,another\n");
    const { manifestCid } = await listForSale(seller, data, { price: 1n * ONE, viewers: [buyer] });
    const post = (path: string, body: unknown) =>
      ownerFetch(buyer, `/api/v1${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const bought = await post("/purchases", { listingId: manifestCid });
    assert.equal(bought.status, 202);
    const { id } = await bought.json();
    assert.equal((await buyer.components.market.waitForPurchase(id, { timeout: 30_000 })).status, "complete");

    const deliveries = buyer.components.connectors;
    const refused = async (body: Record<string, string>, status = 400) => {
      const res = await post(`/purchases/${id}/deliveries`, body);
      const json = await res.json();
      assert.equal(res.status, status, `${JSON.stringify(body)}: ${JSON.stringify(json)}`);
      return json.error.message as string;
    };

    for (
      const url of [
        `http://127.0.0.1:${port}/hook`,
        `http://127.1:${port}/hook`, // the URL parser makes it 127.0.0.1
        `http://2130706433:${port}/hook`, // 127.0.0.1 as one number
        `http://0.0.0.0:${port}/hook`, // Linux connects it to loopback
        `http://[::1]:${port}/hook`,
        `http://[::ffff:127.0.0.1]:${port}/hook`,
        `http://localhost:${port}/hook`, // a name resolving to loopback (system resolver, /etc/hosts)
        "http://10.0.0.1/hook",
        "http://192.168.1.1/hook",
        "http://100.64.0.1/hook",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[fd00::1]/hook",
        "http://[fe80::1]/hook",
      ]
    ) {
      assert.match(await refused({ connector: "webhook", url }), /non-public address/, url);
    }

    const dataDir = buyer.config.dataDir;
    await Deno.mkdir(join(dataDir, "deliveries"), { recursive: true });
    await Deno.symlink(outside, join(dataDir, "deliveries", "escape"));
    for (
      const dir of [
        join(outside, "x"),
        `${dataDir}/deliveries/../../etc`,
        `${dataDir}/deliveries/../kosmos-keys`,
        join(dataDir, "deliveries", "escape"),
        join(dataDir, "deliveries", "escape", "deeper"),
        `${dataDir}/deliveries-evil`,
      ]
    ) {
      assert.match(await refused({ connector: "directory", dir }), /not under/, dir);
    }
    // A relative path is not even a target.
    await refused({ connector: "directory", dir: "../../etc" }, 422);
    assert.deepEqual(deliveries.listDeliveries(), [], "no refused delivery was recorded or started");

    // The data dir's deliveries directory is where deliveries may go.
    const ok = await post(`/purchases/${id}/deliveries`, {
      connector: "directory",
      dir: join(dataDir, "deliveries", "mine"),
    });
    assert.equal(ok.status, 202);
    const done = await deliveries.waitForDelivery((await ok.json()).id);
    assert.equal(done.status, "delivered");
    assert.equal(done.rows, 2, "a real delivery, with rows");

    // DNS rebinding: checked public when created, loopback when sent.
    rebinding = true;
    const rebound = await post(`/purchases/${id}/deliveries`, {
      connector: "webhook",
      url: `http://localhost:${port}/rebound`,
    });
    assert.equal(rebound.status, 202, "a public address when created");
    const failed = await deliveries.waitForDelivery((await rebound.json()).id);
    assert.equal(failed.status, "failed");
    assert.match(failed.lastError ?? "", /127\.0\.0\.1 is a loopback/);
    assert.equal(failed.batches, 0);
    assert.ok(lookups >= 2, "the host was resolved again before sending");

    assert.deepEqual(hits, [], "the loopback webhook received nothing");
    const written: string[] = [];
    for await (const entry of Deno.readDir(outside)) written.push(entry.name);
    assert.deepEqual(written, [], "nothing was written outside the data dir");
  } finally {
    await hook.shutdown();
    await Deno.remove(outside, { recursive: true }).catch(() => {});
  }
});
