/**
 * A repair round's cost follows what a node holds or could be asked to
 * replicate, not every listing it watches: on one of eight real nodes, a full
 * round looks up the providers of exactly the datasets it holds or ranks
 * closest to (counted on the node's real DHT client), visits only its circle,
 * and makes at most `maxLookupsPerRound` lookups, reaching the rest in the
 * next rounds.
 */
import assert from "node:assert/strict";
import { CID } from "multiformats/cid";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { prepareDataset } from "../node/services/blocks/mod.ts";
import { datasetKey, peerKey, sortByDistance } from "../node/services/replication/mod.ts";
import { datasetKeyHex, Neighbourhood } from "../node/services/replication/neighbourhood.ts";
import type { ReplicationInit } from "../node/services/replication/mod.ts";
import { makeManifestCid } from "../node/services/catalog/fixtures_test.ts";
import { CHUNKS_PROTOCOL } from "../protocol/topics.ts";
import { makeCsv, waitFor } from "./helpers.ts";
import { type LightNode, startLightNodes } from "./light_nodes.ts";

const seller = privateKeyToAccount(generatePrivateKey());

/** Eight meshed light nodes; `a` (the first) counts every DHT provider lookup it makes. */
async function setUp(replication: ReplicationInit) {
  const net = await startLightNodes(8, {
    prefix: "kosmos-circle-",
    replication: { repairInterval: 3_600_000, findTimeout: 300, probeTimeout: 300, ...replication },
  });
  const a = net.nodes[0];
  // Every other node bootstraps to `a`: its candidates are all eight once it has identified them. A node whose
  // bootstrap dial to `a` failed does not retry it while it has other peers, so `a` dials what it misses (this
  // test is about repair rounds, not joining).
  let lastDial = Date.now();
  try {
    await waitFor(
      "a to know every node's chunk protocol",
      async () => {
        const known = await a.components.p2p.protocolPeers(CHUNKS_PROTOCOL);
        if (known.length === 7) return true;
        if (Date.now() - lastDial > 2_000) {
          lastDial = Date.now();
          for (const n of net.nodes.slice(1)) {
            if (known.includes(n.peerId)) continue;
            await a.components.p2p.libp2p.dial(n.components.p2p.libp2p.getMultiaddrs()[0]).catch(() => {});
          }
        }
        return false;
      },
      { timeout: 30_000 },
    );
  } catch (err) {
    await net.stop();
    throw err;
  }
  const looked: string[] = [];
  const routing = a.components.p2p.libp2p.contentRouting;
  const find = routing.findProviders.bind(routing);
  routing.findProviders = (cid, options) => {
    looked.push(cid.toString());
    return find(cid, options);
  };
  return { net, a, looked };
}

/** Watched CIDs ranked for `a` among all eight nodes: those where it is among the `k` closest. */
async function closeTo(a: LightNode, nodes: LightNode[], cids: string[], k: number): Promise<Set<string>> {
  const out = new Set<string>();
  for (const cid of cids) {
    const order = await sortByDistance(await datasetKey(CID.parse(cid)), nodes.map((n) => n.peerId));
    if (order.indexOf(a.peerId) < k) out.add(cid);
  }
  return out;
}

async function holdOne(a: LightNode): Promise<string> {
  const { manifestCid } = await prepareDataset(a.components.blocks, ReadableStream.from([makeCsv(4096)]), {
    title: "Held here",
    category: "sensors",
    seller: seller.address,
    price: 1n,
    licence: "kosmos-research-1",
    filename: "held.csv",
  });
  await a.components.replication.provideDataset(manifestCid);
  return manifestCid;
}

Deno.test("a full repair round looks up exactly the datasets a node holds or ranks closest to, and visits its circle only", async () => {
  // No lookup bound here (the next test is about it): `a` ranks closest for about an eighth of the 400.
  const { net, a, looked } = await setUp({ target: 1, maxLookupsPerRound: 1_000 });
  await using _ = net;
  const held = await holdOne(a);
  const cids = await Promise.all(Array.from({ length: 400 }, (_, i) => makeManifestCid(`circle-${i}`)));
  for (const cid of cids) a.components.replication.watch(cid);
  await waitFor(
    "the new listings' first check",
    () => cids.every((cid) => a.components.replication.getReplication(cid)!.status !== "pending"),
    { timeout: 30_000 },
  );
  await a.components.replication.whenIdle();

  looked.length = 0;
  await a.components.replication.repairNow();
  const expected = await closeTo(a, net.nodes, cids, 1);
  expected.add(held);
  assert.deepEqual(new Set(looked), expected, "lookups other than the datasets held or ranked closest");
  assert.equal(looked.length, expected.size, "a dataset looked up twice in one round");
  const stats = a.components.replication.repairStats;
  assert.equal(stats.lookups, expected.size);
  // The circle: every dataset where `a` ranks below 2 (the target and as many more), found through the key
  // ranges of its neighbourhood; the round reads those ranges and the held dataset, nothing else. How much of
  // the key space the ranges cover depends on the random peer ids (half of it when at most one of the seven
  // others differs from `a` in the first bit), so the bound is the ranges' own count, not a share of all.
  const circle = await closeTo(a, net.nodes, cids, 2);
  const hood = new Neighbourhood(
    await peerKey(a.peerId),
    await Promise.all(net.nodes.slice(1).map((n) => peerKey(n.peerId))),
  );
  const ranges = hood.ranges(2);
  const inRanges = cids.filter((cid) => {
    const key = datasetKeyHex(CID.parse(cid).bytes);
    return ranges.some(([lo, hi]) => key >= lo && key <= hi);
  });
  assert.ok(stats.datasets >= circle.size + 1, `visited ${stats.datasets}, circle ${circle.size}`);
  assert.ok(
    stats.datasets <= inRanges.length + 1,
    `visited ${stats.datasets}, but the circle's key ranges hold ${inRanges.length} of ${cids.length} watched`,
  );
  for (const cid of cids) {
    const state = a.components.replication.getReplication(cid)!;
    if (expected.has(cid)) assert.equal(state.status, "unavailable", "a close dataset without providers");
    else assert.equal(state.status, "elsewhere");
  }

  // A listing the catalog gives up is forgotten here unless held.
  a.components.replication.unwatch(cids[0]);
  assert.equal(a.components.replication.getReplication(cids[0]), undefined);
  a.components.replication.unwatch(held);
  assert.equal(a.components.replication.getReplication(held)?.local, true);
});

Deno.test("repair rounds make at most maxLookupsPerRound lookups and reach every close dataset over the next rounds", async () => {
  const { net, a, looked } = await setUp({ target: 1, maxLookupsPerRound: 20 });
  await using _ = net;
  // Enough datasets for `a` to be the closest to 60 of them (its share depends on its key).
  const cids: string[] = [];
  const expected = new Set<string>();
  while (expected.size < 60) {
    const batch = await Promise.all(
      Array.from({ length: 100 }, (_, i) => makeManifestCid(`bounded-${cids.length + i}`)),
    );
    cids.push(...batch);
    for (const cid of await closeTo(a, net.nodes, batch, 1)) expected.add(cid);
  }
  for (const cid of cids) a.components.replication.watch(cid);
  await waitFor(
    "the watches' round",
    () => a.components.replication.getReplication(cids.at(-1)!)!.status !== "pending" || looked.length >= 20,
  );
  await a.components.replication.whenIdle();
  assert.ok(looked.length <= 20, `${looked.length} lookups in the round of new listings`);

  const rounds = Math.ceil(expected.size / 20) + 1;
  for (let r = 0; r < rounds; r++) {
    const before = looked.length;
    await a.components.replication.repairNow();
    const stats = a.components.replication.repairStats;
    assert.equal(looked.length - before, stats.lookups);
    assert.equal(stats.lookups, 20, `round ${r} made ${stats.lookups} lookups`);
    assert.ok(stats.deferred > 0 || r === rounds - 1);
  }
  assert.ok(looked.every((cid) => expected.has(cid)), "a far dataset was looked up");
  for (const cid of expected) {
    assert.notEqual(a.components.replication.getReplication(cid)!.checkedAt, 0, `${cid} never counted`);
  }
});
