/**
 * `kosmos buy` as a person runs it: a real `kosmos` process asks an in-process
 * buyer node to buy a listing of an in-process seller on one anvil, follows
 * the sale's steps and the download with a progress bar on stderr, and prints
 * the final purchase as JSON (the fee accepted with `--yes`); a bad listing
 * id ends with one line and code 1.
 */
import assert from "node:assert/strict";
import type { KosmosNode } from "../node/node.ts";
import { asOwner, makeCsv } from "./helpers.ts";
import { listForSale, startMarketCluster } from "./market_cluster.ts";

const main = new URL("../node/main.ts", import.meta.url).pathname;
const ONE = 10n ** 18n;
const MiB = 1024 * 1024;

async function kosmos(args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  return { code, stdout: new TextDecoder().decode(stdout), stderr: new TextDecoder().decode(stderr) };
}

/** A seller and a buyer on one anvil with our contracts, both funded. */
async function startMarket(): Promise<{ seller: KosmosNode; buyer: KosmosNode } & AsyncDisposable> {
  const cluster = await startMarketCluster({ prefix: "kosmos-cli-buy-" });
  try {
    // No replicas: the buyer must download what it buys, not hold a copy already.
    const config = { storage: { quotaGB: 0 } };
    const seller = await cluster.start({ config });
    const buyer = await cluster.start({ config });
    return { seller, buyer, [Symbol.asyncDispose]: () => cluster[Symbol.asyncDispose]() };
  } catch (err) {
    await cluster[Symbol.asyncDispose]();
    throw err;
  }
}

Deno.test("kosmos buy follows a purchase to completion with a progress bar and prints it as JSON", async () => {
  await using market = await startMarket();
  const { seller, buyer } = market;
  const data = makeCsv(4 * MiB);
  const { manifestCid } = await listForSale(seller, data, {
    title: "Readings",
    price: 10n * ONE,
    viewers: [buyer],
  });
  // Slow the seller's disk reads so the CLI (polling every 250 ms) sees the download running.
  const store = seller.components.blocks;
  const get = store.get.bind(store);
  store.get = async (...args: Parameters<typeof store.get>) => {
    await new Promise((r) => setTimeout(r, 500));
    return await get(...args);
  };

  const { code, stdout, stderr } = await kosmos([
    "buy",
    manifestCid,
    "--yes",
    "--url",
    buyer.url,
    "--data-dir",
    buyer.config.dataDir,
  ]);
  assert.equal(code, 0, stderr);
  const purchase = JSON.parse(stdout.trim());
  assert.equal(purchase.status, "complete");
  assert.equal(purchase.listingId, manifestCid);
  const chunks = Math.ceil(data.byteLength / MiB);
  assert.deepEqual(purchase.progress, { chunksVerified: chunks, chunksTotal: chunks });
  assert.match(stderr, /Downloading .*100 % /);
  const readAt = stderr.match(
    new RegExp(`Bought ${manifestCid}: ${chunks} chunks verified; read it at (\\S+)`),
  );
  assert.ok(readAt, stderr);
  assert.equal(readAt[1], `${buyer.url}/api/v1/purchases/${purchase.id}/data`);
  const body = await fetch(readAt[1], asOwner(buyer));
  assert.equal(body.status, 200);
  assert.deepEqual(new Uint8Array(await body.arrayBuffer()), data);
});

Deno.test("kosmos buy of a bad listing id ends with one line and exit code 1", async () => {
  await using market = await startMarket();
  const { code, stdout, stderr } = await kosmos([
    "buy",
    "bafy-nope",
    "--url",
    market.buyer.url,
    "--data-dir",
    market.buyer.config.dataDir,
  ]);
  assert.equal(code, 1);
  assert.equal(stdout, "");
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0], /^kosmos: .*bafy-nope.*\(4\d\d\)/);
});
