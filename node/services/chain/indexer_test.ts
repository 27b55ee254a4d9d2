import assert from "node:assert/strict";
import { join } from "node:path";
import { createTestClient, http } from "viem";
import { anvil as anvilChain } from "viem/chains";
import { openDatabase } from "../db/mod.ts";
import { createLogger } from "../../log.ts";
import { createChainIndexer, type IndexedDetail } from "./indexer.ts";
import { challengeListing, listDataset, withdrawPayouts } from "./actions/mod.ts";
import { makeDekCommit, makeManifestCid, ONE, startTestChain } from "./testing.ts";

const chain = await startTestChain();
const { clients, addresses, contracts } = chain;
const log = createLogger({ level: "error" }).forComponent("kosmos:chain");
const testClient = createTestClient({
  chain: anvilChain,
  transport: http(chain.anvil.rpcUrl),
  mode: "anvil",
});
const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn: () => chain.isolate(fn) });

async function withIndexer<T>(
  dir: string,
  fn: (indexer: ReturnType<typeof createChainIndexer>) => Promise<T>,
) {
  const db = openDatabase(join(dir, "kosmos.db"));
  const indexer = createChainIndexer({
    db,
    log,
    publicClient: clients.deployer.publicClient,
    contracts,
    chainId: anvilChain.id,
  }, { reorgDepth: 16, batchSize: 5 });
  try {
    return await fn(indexer);
  } finally {
    await indexer.stop();
    db.close();
  }
}

test("ChainIndexer stores registry and escrow events with their blocks and resumes after a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-indexer-" });
  try {
    const manifestCid = await makeManifestCid("indexed");
    const { listingId } = await listDataset(clients.alice, {
      manifestCid,
      dekCommit: makeDekCommit(manifestCid),
      stake: 100n * ONE,
    });
    await challengeListing(clients.bob, { listingId, amount: 10n * ONE });
    await withIndexer(dir, async (indexer) => {
      const head = Number(await clients.alice.publicClient.getBlockNumber({ cacheTime: 0 }));
      assert.equal(await indexer.sync(), head);
      const events = indexer.listEvents({ listingId: String(listingId) });
      assert.deepEqual(events.map((e) => e.name), ["Listed", "Challenged"]);
      const [listed, challenged] = events;
      assert.equal(listed.account, addresses.alice.toLowerCase());
      assert.equal(listed.args.stake, String(100n * ONE));
      assert.equal(challenged.account, addresses.bob.toLowerCase());
      const block = await clients.alice.publicClient.getBlock({ blockNumber: BigInt(listed.blockNumber) });
      assert.equal(listed.blockHash, block.hash);
      assert.deepEqual(indexer.listListingIds({ name: "Listed", account: addresses.alice }), [listingId]);
    });
    await chain.completeSale("alice", "carol", listingId, 20n * ONE);
    await withdrawPayouts(clients.alice);
    await withIndexer(dir, async (indexer) => {
      const before = indexer.block;
      assert.ok(before > 0, "the cursor survives the restart");
      await indexer.sync();
      assert.ok(indexer.block > before);
      assert.deepEqual(indexer.listEvents({ contract: "escrow" }).map((e) => e.name), [
        "Opened",
        "Revealed",
        "Completed",
        "Withdrawn",
      ]);
      assert.equal(indexer.listEvents({ name: "Listed" }).length, 1, "nothing is stored twice");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("ChainIndexer rolls back the events of blocks a reorg replaced and reads the new chain", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-indexer-" });
  try {
    await withIndexer(dir, async (indexer) => {
      const { listingId: kept } = await listDataset(clients.alice, {
        manifestCid: await makeManifestCid("kept"),
        dekCommit: makeDekCommit("kept"),
        stake: 100n * ONE,
      });
      await indexer.sync();
      const fork = await testClient.snapshot();
      const { listingId: orphaned } = await listDataset(clients.alice, {
        manifestCid: await makeManifestCid("orphaned"),
        dekCommit: makeDekCommit("orphaned"),
        stake: 100n * ONE,
      });
      await challengeListing(clients.bob, { listingId: kept, amount: 10n * ONE });
      await indexer.sync();
      assert.deepEqual(indexer.listEvents().map((e) => e.name), ["Listed", "Listed", "Challenged"]);
      const oldHead = indexer.block;

      await testClient.revert({ id: fork });
      const { listingId: replacement } = await listDataset(clients.bob, {
        manifestCid: await makeManifestCid("replacement"),
        dekCommit: makeDekCommit("replacement"),
        stake: 120n * ONE,
      });
      assert.equal(replacement, orphaned, "the new chain reuses the id");
      await testClient.mine({ blocks: 3 });
      assert.ok(indexer.block === oldHead);
      await indexer.sync();
      const events = indexer.listEvents();
      assert.deepEqual(events.map((e) => [e.name, e.account]), [
        ["Listed", addresses.alice.toLowerCase()],
        ["Listed", addresses.bob.toLowerCase()],
      ]);
      assert.equal(events[1].args.stake, String(120n * ONE));
      const block = await clients.bob.publicClient.getBlock({ blockNumber: BigInt(events[1].blockNumber) });
      assert.equal(events[1].blockHash, block.hash);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("ChainIndexer polls in the background once started", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-indexer-" });
  try {
    const db = openDatabase(join(dir, "kosmos.db"));
    const indexer = createChainIndexer({
      db,
      log,
      publicClient: clients.deployer.publicClient,
      contracts,
      chainId: anvilChain.id,
    }, { pollInterval: 20 });
    try {
      const listed = new Promise<IndexedDetail>((resolve) => {
        const onIndexed = (e: Event) => {
          const { detail } = e as CustomEvent<IndexedDetail>;
          if (!detail.events.some((x) => x.name === "Listed")) return;
          indexer.removeEventListener("indexed", onIndexed);
          resolve(detail);
        };
        indexer.addEventListener("indexed", onIndexed);
      });
      await indexer.start();
      const { listingId } = await listDataset(clients.alice, {
        manifestCid: await makeManifestCid("polled"),
        dekCommit: makeDekCommit("polled"),
        stake: 100n * ONE,
      });
      const { events } = await listed;
      assert.equal(events.find((e) => e.name === "Listed")?.listingId, String(listingId));
      assert.equal(indexer.listEvents({ name: "Listed" }).length, 1);
    } finally {
      await indexer.stop();
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "stop the test chain",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => chain.stop(),
});
