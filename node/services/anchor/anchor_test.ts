import assert from "node:assert/strict";
import { join } from "node:path";
import { verifyMerkleProof } from "../../../protocol/merkle.ts";
import { contentCidOf, encodeEpochFile } from "../../../protocol/streams.ts";
import {
  anchorRoot,
  type ChainService,
  createChain,
  getAnchoredAt,
  verifyAnchorProof,
} from "../chain/mod.ts";
import { makeManifestCid } from "../chain/testing.ts";
import { type Database, openDatabase } from "../db/mod.ts";
import { loadIdentity } from "../identity/mod.ts";
import { createLogger } from "../../log.ts";
import { Anchor, AnchorInputError, anchorLeafOf } from "./mod.ts";
import { AnchorStore } from "./store.ts";

const log = createLogger({ level: "error" }).forComponent("kosmos:anchor");
const dataDir = await Deno.makeTempDir({ prefix: "kosmos-anchor-" });
const identity = await loadIdentity(dataDir);
const chainDb = openDatabase(join(dataDir, "chain.db"));
const chain: ChainService = createChain({ identity, db: chainDb, log }, { dataDir });
await chain.start();
let dbCount = 0;

function freshDb(): { db: Database; path: string } {
  const path = join(dataDir, `anchor-${++dbCount}.db`);
  return { db: openDatabase(path), path };
}

function epochCid(n: number): string {
  return contentCidOf(encodeEpochFile([{ sensorId: "s1", ts: n, values: { v: n } }]));
}

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });

test("Anchor: leaves become one anchored root; every proof verifies locally and on chain", async () => {
  const { db } = freshDb();
  const anchor = new Anchor({ db, chain, log }, { intervalMs: 60_000 });
  const cids = [epochCid(1), epochCid(2), await makeManifestCid("dataset a")];
  for (const cid of cids) assert.equal(anchor.add(cid).added, true);
  assert.equal(anchor.add(cids[0]).added, false, "a CID is a leaf once");
  assert.throws(() => anchor.add("not a cid"), AnchorInputError);
  assert.throws(() => anchor.add("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"), AnchorInputError);
  assert.equal(anchor.statusOf(cids[0]), "pending");
  assert.equal(anchor.proofOf(cids[0]), undefined);
  assert.equal(anchor.statusOf(epochCid(99)), "unknown");
  await anchor.flush();
  assert.deepEqual(anchor.stats(), { pending: 0, batched: 0, anchored: 3, batches: 1 });
  const roots = new Set<string>();
  for (const cid of cids) {
    assert.equal(anchor.statusOf(cid), "anchored");
    assert.equal(anchor.isAnchored(cid), true);
    const p = anchor.proofOf(cid)!;
    roots.add(p.root);
    assert.equal(p.leaf, anchorLeafOf(cid).leaf);
    assert.equal(p.chainId, 31337);
    assert.equal(p.anchor, chain.client.contracts.anchor.toLowerCase());
    assert.ok(verifyMerkleProof({ leaf: p.leaf, proof: p.proof, root: p.root }));
    assert.deepEqual(await verifyAnchorProof(chain.client, p), { ok: true, anchoredAt: p.anchoredAt });
    const receipt = await chain.publicClient.getTransactionReceipt({ hash: p.txHash });
    assert.equal(receipt.blockNumber.toString(), p.blockNumber);
  }
  assert.equal(roots.size, 1);
  assert.equal(
    await getAnchoredAt(chain.client, [...roots][0] as `0x${string}`),
    anchor.proofOf(cids[0])!.anchoredAt,
  );
  await anchor.flush();
  assert.equal(anchor.stats().batches, 1, "nothing pending: no new batch");
  db.close();
});

test("Anchor: pending leaves and a batch built before a crash are anchored after a restart", async () => {
  const { db, path } = freshDb();
  const first = new Anchor({ db, chain, log });
  const pending = epochCid(10);
  first.add(pending);
  const built = epochCid(11);
  first.add(built);
  // A crash after the batch was built and before its transaction: the batch row holds both leaves.
  new AnchorStore(db).buildBatch({ max: 4096, label: "crashed", now: Date.now() });
  const later = epochCid(12);
  first.add(later);
  db.close();

  const reopened = openDatabase(path);
  const second = new Anchor({ db: reopened, chain, log }, { maxBatch: 1 });
  assert.equal(second.statusOf(pending), "anchoring");
  assert.equal(second.statusOf(later), "pending");
  await second.flush();
  for (const cid of [pending, built, later]) {
    const p = second.proofOf(cid);
    assert.ok(p, `${cid} anchored after the restart`);
    assert.equal((await verifyAnchorProof(chain.client, p)).ok, true);
  }
  assert.equal(second.proofOf(pending)!.root, second.proofOf(built)!.root);
  assert.notEqual(second.proofOf(later)!.root, second.proofOf(built)!.root);
  reopened.close();
});

test("Anchor: a root another node anchored first is recorded with that node's transaction", async () => {
  const { db } = freshDb();
  const anchor = new Anchor({ db, chain, log });
  const cid = epochCid(20);
  const { leaf } = anchorLeafOf(cid);
  // One leaf: the root is the leaf itself. Someone else anchors it first.
  const other = await chain.exclusive(() => anchorRoot(chain.client, { root: leaf, label: "another node" }));
  anchor.add(cid);
  await anchor.flush();
  const p = anchor.proofOf(cid)!;
  assert.equal(p.root, leaf);
  assert.deepEqual(p.proof, []);
  assert.equal(p.txHash, other.txHash);
  assert.equal(p.anchoredAt, other.anchoredAt);
  db.close();
});

test("Anchor: the timer anchors what is added while it runs, and stop() ends it", async () => {
  const { db } = freshDb();
  const anchor = new Anchor({ db, chain, log }, { intervalMs: 100 });
  await anchor.start();
  const cid = epochCid(30);
  anchor.add(cid);
  const deadline = Date.now() + 10_000;
  while (!anchor.isAnchored(cid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(anchor.isAnchored(cid), true);
  await anchor.stop();
  anchor.add(epochCid(31));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(anchor.statusOf(epochCid(31)), "pending", "no round after stop()");
  db.close();
});

test("cleanup", async () => {
  await chain.stop();
  chainDb.close();
  await Deno.remove(dataDir, { recursive: true });
});
