/**
 * What a repair round costs at rest: a dataset whose last count found its
 * target is counted from its known providers, without a DHT lookup, while
 * they still answer; one that leaves sends the next count to the DHT. And a
 * dataset watched while a paced round spreads its lookups over the repair
 * interval is counted in that round's rests, not after it. Real light nodes.
 */
import assert from "node:assert/strict";
import { prepareDataset } from "../node/services/blocks/mod.ts";
import { makeManifestCid } from "../node/services/catalog/fixtures_test.ts";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { makeCsv, waitFor } from "./helpers.ts";
import { startLightNodes } from "./light_nodes.ts";

Deno.test("a dataset at its target is counted from its live known providers without a DHT lookup, and looked up again when one leaves", async () => {
  await using net = await startLightNodes(2, {
    prefix: "kosmos-known-",
    replication: { target: 2, repairInterval: 3_600_000, findTimeout: 2_000, probeTimeout: 500 },
  });
  const [a, b] = net.nodes;
  await net.waitForMesh();
  const seller = privateKeyToAccount(generatePrivateKey());
  const { manifestCid } = await prepareDataset(a.components.blocks, ReadableStream.from([makeCsv(4096)]), {
    title: "Known",
    category: "sensors",
    seller: seller.address,
    price: 1n,
    licence: "kosmos-research-1",
    filename: "known.csv",
  });
  await a.components.replication.provideDataset(manifestCid);
  b.components.fetches.startFetch(manifestCid, { providers: [a.peerId] });
  await waitFor(
    "b to hold and provide the dataset",
    () => b.components.replication.getReplication(manifestCid)?.local,
    {
      timeout: 15_000,
    },
  );
  await b.components.replication.whenIdle();
  const replication = a.components.replication;
  await replication.whenIdle();

  const round = async () => {
    const before = replication.repairTotals;
    await replication.repairNow();
    const after = replication.repairTotals;
    return { lookups: after.lookups - before.lookups, confirmed: after.confirmed - before.confirmed };
  };
  // The first count of the round looks the providers up.
  await round();
  assert.equal(replication.getReplication(manifestCid)?.status, "replicated");
  assert.deepEqual(replication.getReplication(manifestCid)?.providers, [a.peerId, b.peerId].sort());
  // At its target: the next rounds confirm the known provider, no lookup.
  for (let i = 0; i < 3; i++) assert.deepEqual(await round(), { lookups: 0, confirmed: 1 });
  assert.equal(replication.repairStats.confirmed, 1);
  assert.equal(replication.repairStats.lookups, 0);

  // The other provider leaves: the next count does not trust the stale list.
  await b.stop();
  await waitFor("a to see b gone", () => a.components.p2p.peers().length === 0, { timeout: 15_000 });
  assert.deepEqual(await round(), { lookups: 1, confirmed: 0 });
  const state = replication.getReplication(manifestCid)!;
  assert.equal(state.status, "under-replicated");
  assert.deepEqual(state.providers, [a.peerId]);
  // Under its target, every round looks it up (to find a new provider).
  assert.deepEqual(await round(), { lookups: 1, confirmed: 0 });
});

Deno.test("a dataset watched during a paced round is counted in the round's rests, before the round ends", async () => {
  const INTERVAL = 4_000;
  await using net = await startLightNodes(2, {
    prefix: "kosmos-paced-",
    replication: { target: 2, repairInterval: INTERVAL, findTimeout: 300, probeTimeout: 300 },
  });
  const a = net.nodes[0];
  await net.waitForMesh();
  const cids = await Promise.all(Array.from({ length: 40 }, (_, i) => makeManifestCid(`paced-${i}`)));
  for (const cid of cids) a.components.replication.watch(cid);
  await waitFor(
    "the first count of every listing",
    () => cids.every((cid) => a.components.replication.getReplication(cid)?.status === "unavailable"),
    { timeout: 20_000 },
  );
  // The next timer round counts all 40 again (one empty count each so far), a lookup every 90 ms.
  const counted: string[] = [];
  a.components.replication.addEventListener("checked", (e) => {
    counted.push((e as CustomEvent<{ manifestCid: string }>).detail.manifestCid);
  });
  await waitFor("the paced round to begin", () => counted.length >= 5, { timeout: INTERVAL * 2 });
  const late = await makeManifestCid("watched during the round");
  a.components.replication.watch(late);
  await waitFor("the round to end", () => cids.every((cid) => counted.includes(cid)), {
    timeout: INTERVAL * 2,
  });
  const at = counted.indexOf(late);
  assert.ok(at >= 0, "the dataset watched during the round was not counted by its end");
  assert.ok(at < counted.length - 1, `counted only after the round (at ${at} of ${counted.length})`);
});
