/**
 * A trade from the command line, between two nodes on one anvil with our
 * contracts: node A publishes and lists a dataset with `kosmos publish
 * --stake`; node B buys it with `kosmos buy` (the fee confirmed with `--yes`;
 * without it nothing is signed), exports it and delivers it to a directory;
 * A sees the sale and withdraws its payout with `kosmos withdraw`, then lets
 * B sell the listing for it and takes that back (`kosmos delegates`). Every
 * `--json` answer is checked against the chain or the data.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { DeliveryView, MyListingView, PurchaseView, SaleView, WalletView } from "../protocol/api/mod.ts";
import { makeCsv, tempDir } from "./helpers.ts";
import { kosmos, kosmosJson, readEscrowBalance, readIsDelegate, readTokenBalance } from "./cli.ts";
import { startMarketCluster, waitForListing } from "./market_cluster.ts";

const ONE = 10n ** 18n;

Deno.test("node A publishes and stakes with the CLI, node B buys, exports and delivers it, A withdraws", async (t) => {
  await using cluster = await startMarketCluster({ prefix: "kosmos-cli-trade-" });
  await using files = await tempDir("kosmos-cli-trade-files-");
  // No replicas: B must download what it buys.
  const seller = await cluster.start({ config: { storage: { quotaGB: 0 } } });
  const buyer = await cluster.start({ config: { storage: { quotaGB: 0 } } });
  const data = makeCsv(1.5 * 1024 * 1024);
  const file = join(files.path, "readings.csv");
  await Deno.writeFile(file, data);
  let manifestCid = "";
  let listingId = 0n;
  let purchase: PurchaseView;

  await t.step("A publishes and lists with kosmos publish --stake 100 --yes", async () => {
    const out = await kosmosJson<{ manifestCid: string; stake: { listingId: string; created: boolean } }>(
      seller,
      [
        "publish",
        file,
        "--title",
        "Readings",
        "--category",
        "sensors",
        "--price",
        "12.5",
        "--license",
        "CC-BY-4.0",
        "--stake",
        "100",
        "--yes",
      ],
    );
    manifestCid = out.manifestCid;
    listingId = BigInt(out.stake.listingId);
    assert.equal(out.stake.created, true);
    const { listings } = await kosmosJson<{ listings: MyListingView[] }>(seller, ["listings", "--mine"]);
    assert.deepEqual(listings.map((l) => [l.manifestCid, l.stake]), [[manifestCid, String(100n * ONE)]]);
    const gateway = await kosmosJson<{ gateway: string; thisNode: boolean }>(seller, [
      "gateway",
      manifestCid,
    ]);
    assert.deepEqual([gateway.gateway, gateway.thisNode], [seller.address, true]);
    await waitForListing(buyer, manifestCid);
  });

  await t.step("B's kosmos buy without --yes signs nothing; with --yes it completes", async () => {
    const refused = await kosmos(buyer, ["buy", manifestCid]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /Buy .* for 12\.5 KOS/);
    assert.deepEqual((await kosmosJson<{ purchases: PurchaseView[] }>(buyer, ["purchases"])).purchases, []);

    const tokens = await readTokenBalance(buyer, buyer.address);
    purchase = await kosmosJson<PurchaseView>(buyer, ["buy", manifestCid, "--yes"]);
    assert.equal(purchase.status, "complete");
    assert.equal(purchase.price, String(12_500_000_000_000_000_000n));
    assert.equal(await readTokenBalance(buyer, buyer.address), tokens - 12_500_000_000_000_000_000n);
    const listed = await kosmosJson<PurchaseView>(buyer, ["purchases", purchase.id]);
    assert.equal(listed.status, "complete");
  });

  await t.step("B exports the purchase as the original file and as NDJSON", async () => {
    const original = join(files.path, "bought.csv");
    const out = await kosmosJson<{ bytes: number; path: string }>(buyer, [
      "exports",
      purchase.id,
      "--format",
      "original",
      "--output",
      original,
    ]);
    assert.equal(out.bytes, data.byteLength);
    assert.deepEqual(await Deno.readFile(original), data);
    const ndjson = join(files.path, "bought.ndjson");
    await kosmosJson(buyer, ["exports", purchase.id, "--format", "ndjson", "--output", ndjson]);
    const lines = (await Deno.readTextFile(ndjson)).trim().split("\n");
    const rows = new TextDecoder().decode(data).trim().split("\n").length - 1;
    assert.equal(lines.length, rows);
    assert.ok(typeof JSON.parse(lines[0]) === "object");
    const usage = await kosmos(buyer, ["exports", purchase.id, "--json"]);
    assert.equal(usage.code, 2);
  });

  await t.step("B delivers the rows to a directory and waits for it", async () => {
    const dir = join(buyer.config.dataDir, "deliveries", "cli");
    const delivery = await kosmosJson<DeliveryView>(buyer, [
      "deliveries",
      purchase.id,
      "--dir",
      dir,
      "--wait",
    ]);
    assert.equal(delivery.status, "delivered");
    assert.ok(delivery.rows > 0);
    const written = [...Deno.readDirSync(dir)].filter((e) => e.isFile);
    assert.ok(written.length > 0, "the directory holds the delivered batches");
    const { deliveries } = await kosmosJson<{ deliveries: DeliveryView[] }>(buyer, ["deliveries"]);
    assert.deepEqual(deliveries.map((d) => d.id), [delivery.id]);
  });

  await t.step("A sees the sale and withdraws its payout", async () => {
    const { sales } = await kosmosJson<{ sales: SaleView[] }>(seller, ["sales"]);
    assert.equal(sales.length, 1);
    assert.equal(sales[0].status, "complete");
    const owed = await readEscrowBalance(seller, seller.address);
    assert.ok(owed > 0n);
    const wallet = await kosmosJson<WalletView>(seller, ["wallet"]);
    assert.equal(wallet.payouts, String(owed));
    const tokens = await readTokenBalance(seller, seller.address);
    const out = await kosmosJson<{ amount: string; txHash: string }>(seller, ["withdraw", "--yes"]);
    assert.equal(out.amount, String(owed));
    assert.equal(await readEscrowBalance(seller, seller.address), 0n);
    assert.equal(await readTokenBalance(seller, seller.address), tokens + owed);
    // Nothing left: the node refuses, the CLI says so in one line with code 1.
    const again = await kosmos(seller, ["withdraw", "--yes"]);
    assert.equal(again.code, 1);
    assert.equal(again.stderr.trim().split("\n").length, 1, again.stderr);
    assert.match(again.stderr, /^kosmos: withdraw: .*NothingToWithdraw/);
  });

  await t.step("A adds B as a sale delegate and removes it again", async () => {
    const added = await kosmosJson<{ delegate: string; peerId: string }>(seller, [
      "delegates",
      manifestCid,
      "add",
      buyer.peerId,
      "--yes",
    ]);
    assert.deepEqual([added.peerId, added.delegate], [buyer.peerId, buyer.address]);
    assert.equal(await readIsDelegate(seller, listingId, buyer.address), true);
    const listed = await kosmosJson<{ delegates: { delegate: string }[] }>(seller, [
      "delegates",
      manifestCid,
    ]);
    assert.deepEqual(listed.delegates.map((d) => d.delegate), [buyer.address]);

    const refused = await kosmos(seller, ["delegates", manifestCid, "remove", buyer.address]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.equal(await readIsDelegate(seller, listingId, buyer.address), true);
    await kosmosJson(seller, ["delegates", manifestCid, "remove", buyer.address, "--yes"]);
    assert.equal(await readIsDelegate(seller, listingId, buyer.address), false);
    const after = await kosmosJson<{ delegates: unknown[] }>(seller, ["delegates", manifestCid]);
    assert.deepEqual(after.delegates, []);
  });
});
