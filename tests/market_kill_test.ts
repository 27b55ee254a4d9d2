/**
 * The buyer's node killed with SIGKILL between `open` and `reveal` (no
 * shutdown code runs) resumes the purchase when it restarts with the same
 * data dir, and completes it: the seller (and a replica) are in-process nodes
 * on one anvil, the buyer is a real `kosmos` process. The seller's market is
 * stopped as soon as it sees the sale opened, so the key cannot be revealed
 * before the buyer dies.
 */
import assert from "node:assert/strict";
import { createNode, type KosmosNode } from "../node/node.ts";
import { startAnvil } from "../node/services/chain/anvil.ts";
import { setUpDevChain } from "../node/services/chain/dev_chain.ts";
import { getContractsPath, writeContractsFile } from "../node/services/chain/contracts.ts";
import type { SaleRecord } from "../node/services/market/mod.ts";
import { makeCsv, ownerFetch, testLogger, waitFor } from "./helpers.ts";
import { listForSale } from "./market_cluster.ts";
import { startKosmosProcess } from "./process.ts";

const ONE = 10n ** 18n;

/** Starts `kosmos` as a child process, quiet, on a free port. */
function startKosmos(args: string[]) {
  return startKosmosProcess(["--port", "0", "--log-level", "error", ...args]);
}

async function getJson(node: { url: string; token: string }, path: string) {
  const url = `${node.url}${path}`;
  const res = await ownerFetch(node, path);
  const body = await res.json();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

Deno.test("a buyer's node killed with SIGKILL between open and reveal resumes after restart and completes", async () => {
  const anvil = await startAnvil();
  const dev = await setUpDevChain(anvil.rpcUrl);
  const nodes: KosmosNode[] = [];
  const dirs: string[] = [];
  const children: Deno.ChildProcess[] = [];
  const makeDir = async () => {
    const dir = await Deno.makeTempDir({ prefix: "kosmos-market-kill-" });
    dirs.push(dir);
    await writeContractsFile(getContractsPath(dir), { chainId: 31337, contracts: dev.contracts });
    return dir;
  };
  const startInProcess = async (dataDir: string, bootstrap: string[] = []) => {
    const node = await createNode({
      dataDir,
      port: 0,
      listen: ["/ip4/127.0.0.1/tcp/0"],
      bootstrap,
      rpcUrl: anvil.rpcUrl,
    }, { logger: testLogger(), services: { market: { tickInterval: 1000 } } });
    await node.start();
    nodes.push(node);
    return node;
  };
  const addressOf = (node: KosmosNode) => node.components.p2p.listenAddresses()[0];
  try {
    const seller = await startInProcess(await makeDir());
    await dev.fund(seller.address);
    const replica = await startInProcess(await makeDir(), [addressOf(seller)]);

    const buyerDir = await makeDir();
    const flags = (bootstrap: string[]) => [
      "--data-dir",
      buyerDir,
      "--rpc-url",
      anvil.rpcUrl,
      "--bootstrap",
      bootstrap.join(","),
    ];
    const first = await startKosmos(flags([addressOf(seller)]));
    children.push(first.child);
    await dev.fund(first.address);
    await waitFor("the buyer to connect to the seller", async () => {
      const info = await getJson(first, `/api/v1/node`);
      return info.peers.includes(seller.peerId);
    });

    const data = makeCsv(2 * 1024 * 1024);
    const { manifestCid } = await listForSale(seller, data, { title: "Readings", price: 10n * ONE });
    replica.components.fetches.startFetch(manifestCid, { providers: [seller.peerId] });
    await replica.components.fetches.waitForFetch(manifestCid, { timeout: 20_000 });
    await waitFor(
      "the listing to reach the buyer",
      () => getJson(first, `/api/v1/listings/${manifestCid}`),
      {
        timeout: 15_000,
      },
    );

    // Hold the reveal: the seller's market stops the moment it sees the sale opened.
    let held: Promise<void> | undefined;
    let heldSale: SaleRecord | undefined;
    seller.components.market.addEventListener("sale", (e) => {
      const sale = (e as CustomEvent<SaleRecord>).detail;
      if (!held && sale.status === "opened") {
        heldSale = sale;
        held = seller.components.market.stop().then(() => seller.stop());
      }
    });

    const res = await ownerFetch(first, `/api/v1/purchases`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ listingId: manifestCid }),
    });
    assert.equal(res.status, 202, await res.clone().text());
    const { id } = await res.json();
    const opened = await waitFor("the purchase to be opened", async () => {
      const view = await getJson(first, `/api/v1/purchases/${id}`);
      assert.ok(["quoted", "opened"].includes(view.status), `status ${view.status}: ${view.error}`);
      return view.status === "opened" ? view : undefined;
    }, { timeout: 15_000, interval: 20 });
    assert.deepEqual(opened.txs.map((tx: { action: string }) => tx.action), ["open"]);
    first.child.kill("SIGKILL");
    await first.child.status;

    await waitFor("the seller to see the sale opened and stop", () => held !== undefined, {
      timeout: 15_000,
    });
    await held;
    assert.equal(heldSale!.status, "opened");
    assert.deepEqual(heldSale!.txs, [], "the seller revealed nothing before the buyer was killed");

    const again = await startInProcess(seller.config.dataDir, [addressOf(replica)]);
    const second = await startKosmos(flags([addressOf(again), addressOf(replica)]));
    children.push(second.child);
    assert.equal(second.address, first.address, "the same wallet after restart");
    const done = await waitFor("the resumed purchase to complete", async () => {
      const view = await getJson(second, `/api/v1/purchases/${id}`);
      assert.ok(!["refunded", "failed"].includes(view.status), `status ${view.status}: ${view.error}`);
      return view.status === "complete" ? view : undefined;
    }, { timeout: 25_000, interval: 100 });
    assert.deepEqual(done.txs.map((tx: { action: string }) => tx.action), ["open", "confirm"]);
    const body = await ownerFetch(second, `/api/v1/purchases/${id}/data`);
    assert.equal(body.status, 200);
    assert.deepEqual(new Uint8Array(await body.arrayBuffer()), data);
    const sale = await waitFor("the seller to mark its sale complete", () => {
      const [s] = again.components.market.listSales();
      return s?.status === "complete" ? s : undefined;
    });
    assert.deepEqual(sale.txs.map((tx) => tx.action), ["reveal"]);
  } finally {
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch { /* already exited */ }
      await child.status;
    }
    await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
    await anvil.stop();
    await Promise.all(dirs.map((d) => Deno.remove(d, { recursive: true }).catch(() => {})));
  }
});
