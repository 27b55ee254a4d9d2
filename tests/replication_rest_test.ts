/**
 * A dataset nobody provides cannot be repaired, so repair rounds count it
 * ever less often: after its second empty count in a row it rests 1, 3, 7…
 * repair intervals (at most 31) between counts, while a dataset this node
 * holds is counted every round; and a newly watched dataset is counted before
 * the listings never counted yet. Two real light nodes; the rests are moved
 * through the rows' last-count times instead of waiting hours.
 */
import assert from "node:assert/strict";
import { prepareDataset } from "../node/services/blocks/mod.ts";
import { makeManifestCid } from "../node/services/catalog/fixtures_test.ts";
import { datasetKeyHex } from "../node/services/replication/neighbourhood.ts";
import { CID } from "multiformats/cid";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { makeCsv, waitFor } from "./helpers.ts";
import { startLightNodes } from "./light_nodes.ts";

const INTERVAL = 3_600_000;

Deno.test("repair rounds count a dataset nobody provides ever less often, and a held one every round", async () => {
  await using net = await startLightNodes(2, {
    prefix: "kosmos-rest-",
    replication: { target: 2, repairInterval: INTERVAL, findTimeout: 300, probeTimeout: 300 },
  });
  const a = net.nodes[0];
  await waitFor("the two nodes to connect", () => a.components.p2p.peers().length === 1, { timeout: 15_000 });
  const seller = privateKeyToAccount(generatePrivateKey());
  const { manifestCid: held } = await prepareDataset(
    a.components.blocks,
    ReadableStream.from([makeCsv(4096)]),
    {
      title: "Held",
      category: "sensors",
      seller: seller.address,
      price: 1n,
      licence: "kosmos-research-1",
      filename: "held.csv",
    },
  );
  await a.components.replication.provideDataset(held);
  const nowhere = await makeManifestCid("provided by nobody");
  const counted: string[] = [];
  a.components.replication.addEventListener("checked", (e) => {
    counted.push((e as CustomEvent<{ manifestCid: string }>).detail.manifestCid);
  });
  a.components.replication.watch(nowhere);
  await waitFor("the new listing's first count", () => counted.includes(nowhere), { timeout: 15_000 });
  await a.components.replication.whenIdle();
  assert.equal(a.components.replication.getReplication(nowhere)?.status, "unavailable");

  const round = async () => {
    counted.length = 0;
    await a.components.replication.repairNow();
    return { nowhere: counted.includes(nowhere), held: counted.includes(held) };
  };
  /** Moves the last count of the dataset nobody provides `intervals` repair intervals back. */
  const age = (intervals: number) =>
    a.components.db.prepare("UPDATE replication SET checked_at = ? WHERE manifest_cid = ?")
      .run(Date.now() - intervals * INTERVAL, nowhere);

  // One empty count: counted again in the next round, as any dataset.
  assert.deepEqual(await round(), { nowhere: true, held: true });
  // Two in a row: it rests one interval; the held dataset is counted every round.
  assert.deepEqual(await round(), { nowhere: false, held: true });
  assert.deepEqual(await round(), { nowhere: false, held: true });
  age(1.01);
  assert.deepEqual(await round(), { nowhere: true, held: true });
  // Three: three intervals.
  age(2);
  assert.deepEqual(await round(), { nowhere: false, held: true });
  age(3.01);
  assert.deepEqual(await round(), { nowhere: true, held: true });
  // And never more than 31.
  for (let i = 0; i < 4; i++) {
    age(40);
    assert.deepEqual(await round(), { nowhere: true, held: true });
  }
  age(30);
  assert.deepEqual(await round(), { nowhere: false, held: true });
  age(31.01);
  assert.deepEqual(await round(), { nowhere: true, held: true });
  assert.equal(a.components.replication.getReplication(nowhere)?.status, "unavailable");
});

Deno.test("a full repair round counts a newly watched dataset first, before listings never counted", async () => {
  await using net = await startLightNodes(2, {
    prefix: "kosmos-due-",
    replication: {
      target: 2,
      repairInterval: INTERVAL,
      findTimeout: 300,
      probeTimeout: 300,
      maxLookupsPerRound: 5,
    },
  });
  const a = net.nodes[0];
  await waitFor("the two nodes to connect", () => a.components.p2p.peers().length === 1, { timeout: 15_000 });
  // 41 listings nobody provides; the one with the highest dataset key is watched last, so that a round
  // taking the others in key order (as the circle's key ranges return them) would reach it last.
  const cids = await Promise.all(Array.from({ length: 41 }, (_, i) => makeManifestCid(`never-${i}`)));
  const keyed = cids.map((cid) => ({ cid, key: datasetKeyHex(CID.parse(cid).bytes) }));
  keyed.sort((x, y) => x.key < y.key ? -1 : 1);
  const last = keyed.pop()!.cid;
  for (const { cid } of keyed) a.components.replication.watch(cid);
  // Their round (5 lookups; the other 35 wait for full rounds, least recently counted first).
  await waitFor(
    "the new listings' round",
    () => keyed.some(({ cid }) => a.components.replication.getReplication(cid)?.status !== "pending"),
    { timeout: 15_000 },
  );
  await a.components.replication.whenIdle();
  const never = () =>
    keyed.filter(({ cid }) => a.components.replication.getReplication(cid)?.status === "pending");
  assert.ok(never().length > 30, `${never().length} listings never counted`);

  const counted: string[] = [];
  a.components.replication.addEventListener("checked", (e) => {
    counted.push((e as CustomEvent<{ manifestCid: string }>).detail.manifestCid);
  });
  a.components.replication.watch(last);
  await a.components.replication.repairNow();
  assert.equal(counted[0], last, "the newly watched dataset was not counted first");
  assert.equal(counted.length, 5);
});
