/**
 * Attack: take over another seller's listing in every catalog, and crowd
 * staked listings out of the catalog with free announcements.
 *
 * What the attacker tried: watch for a new manifest CID and announce it
 * under its own key before the real seller's announcement reaches the other
 * nodes; then flood the network with announcements of made-up datasets signed
 * by fresh keys (free: a key per announcement, no stake).
 *
 * What the old code gave the attacker: the first announcement of a manifest
 * CID won for good on every node that saw it first ("the first seller keeps
 * the listing"), even after the real seller staked it on the registry, so
 * buyers saw and paid the squatter; and once the flood filled the catalog's
 * cap (100,000, here 8), every new listing was refused, a freshly staked
 * one included.
 *
 * Now: once the registry binds the manifest CID to its owner, every node
 * hides the squatter's copy and takes the owner's announcement (the owner
 * re-announces when its stake is indexed), the squatter's further
 * announcements are rejected by the gossip validator (costing it peer
 * score), and a full catalog gives up unstaked listings for staked ones, and
 * never a staked one for an unstaked one.
 *
 * Real nodes on loopback, one anvil with our contracts, the real registry.
 */
import assert from "node:assert/strict";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { multiaddr } from "@multiformats/multiaddr";
import { type Announcement, encodeAnnouncement, signAnnouncement } from "../../protocol/announcement.ts";
import { announcementTopic } from "../../protocol/topics.ts";
import type { KosmosNode } from "../../node/node.ts";
import { makeBody } from "../../node/services/catalog/fixtures_test.ts";
import { makeCsv, waitFor } from "../helpers.ts";
import { startMarketCluster } from "../market_cluster.ts";

const CAP = 8;
const CATEGORY = "sensors";
const topic = announcementTopic(CATEGORY);
const STAKE = 100n * 10n ** 18n;

function sellerOn(node: KosmosNode, id: string): string | undefined {
  try {
    return node.components.catalog.getListing(id).seller;
  } catch (err) {
    if ((err as Error).name === "NotFoundError") return undefined;
    throw err;
  }
}

async function publish(seller: KosmosNode, title: string): Promise<string> {
  const { manifestCid } = await seller.components.datasets.publishDataset(
    ReadableStream.from([makeCsv(2048 + title.length)]),
    { title, category: CATEGORY, price: 10n ** 18n, licence: "kosmos-research-1", filename: `${title}.csv` },
  );
  return manifestCid;
}

/** Fresh-key announcements of made-up datasets, gossiped raw by `from`; resolves once `to` saw them all. */
async function flood(from: KosmosNode, to: KosmosNode[], count: number, label: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const key = privateKeyToAccount(generatePrivateKey());
    const signed = await signAnnouncement(
      key,
      await makeBody(key.address, { title: `${label} ${i}`, category: CATEGORY }),
    );
    ids.push(signed.manifestCid);
    await from.components.p2p.publish(topic, encodeAnnouncement(signed));
    // Paced like a publishing node, so gossipsub keeps every message.
    await new Promise((r) => setTimeout(r, 30));
  }
  await waitFor(`the ${label} flood to arrive`, () =>
    to.every((n) => {
      const held = new Set(
        n.components.catalog.listListings({ limit: 100 }).listings.map((l): string => l.id),
      );
      return ids.slice(-3).some((id) => held.has(id));
    }));
  return ids;
}

Deno.test("a squatter loses a manifest CID once its owner stakes it, and a fresh-key flood cannot crowd out staked listings", async () => {
  await using cluster = await startMarketCluster({
    prefix: "kosmos-attack-squat-",
    services: { catalog: { maxListings: CAP, syncInterval: 60_000 } },
  });
  const squatter = await cluster.start();
  const a = await cluster.start();
  const b = await cluster.start();
  const observers = [a, b];
  // The honest seller publishes while not yet connected, so the squatter's copy reaches the others first.
  const honest = await cluster.start({ config: { bootstrap: [] } });
  await waitFor(
    "the squatter to reach the observers on the topic",
    () =>
      observers.every((n) =>
        squatter.components.p2p.topicPeers(topic).includes(n.peerId) &&
        n.components.p2p.topicPeers(topic).includes(squatter.peerId)
      ),
    { timeout: 30_000 },
  );

  const cid = await publish(honest, "Honest readings");
  assert.equal(sellerOn(honest, cid), honest.address);
  const wallet = squatter.components.identity.account;
  const squat: Announcement = await signAnnouncement(wallet, {
    ...(await makeBody(wallet.address, { title: "Honest readings", category: CATEGORY })),
    manifestCid: cid as Announcement["manifestCid"],
  });
  await squatter.components.catalog.publishAnnouncement(squat);
  await waitFor(
    "the squat to reach the observers",
    () => observers.every((n) => sellerOn(n, cid) === squatter.address),
  );

  // The honest seller joins and stakes its manifest CID on the registry.
  await honest.components.p2p.libp2p.dial(multiaddr(a.components.p2p.listenAddresses()[0]));
  await waitFor(
    "the honest seller to join the topic",
    () =>
      a.components.p2p.topicPeers(topic).includes(honest.peerId) &&
      honest.components.p2p.topicPeers(topic).includes(a.peerId),
    { timeout: 30_000 },
  );
  await honest.facade.stakeListing({ manifestCid: cid, amount: STAKE });
  for (const node of [a, b, squatter, honest]) {
    await waitFor(
      `${node === squatter ? "the squatter" : "every node"} to show the honest seller`,
      () => sellerOn(node, cid) === honest.address,
      { timeout: 20_000 },
    );
  }

  // The squatter announces again, newer, straight onto the topic: every observer rejects it.
  const { signature: _, ...body } = squat;
  const again = await signAnnouncement(wallet, { ...body, timestamp: Date.now() + 1000 });
  await assert.rejects(squatter.components.catalog.publishAnnouncement(again), RangeError);
  const scoreBefore = observers.map((n) => n.components.p2p.peerScore(squatter.peerId));
  assert.ok((await squatter.components.p2p.publish(topic, encodeAnnouncement(again))) > 0);
  await waitFor(
    "the observers to penalise the squatter",
    () => observers.every((n, i) => n.components.p2p.peerScore(squatter.peerId) < scoreBefore[i]),
  );
  for (const node of observers) assert.equal(sellerOn(node, cid), honest.address);

  // A flood of fresh-key listings twice the cap: the staked listing stays.
  const first = await flood(squatter, observers, 2 * CAP, "flood");
  for (const node of observers) {
    assert.equal(sellerOn(node, cid), honest.address, "the staked listing was not pushed out");
    assert.ok(node.components.catalog.listListings({ limit: 100 }).total <= CAP);
  }
  // The catalogs are full of the flood; a listing staked now still gets in everywhere.
  const cid2 = await publish(honest, "Honest readings, part two");
  await honest.facade.stakeListing({ manifestCid: cid2, amount: STAKE });
  for (const node of observers) {
    await waitFor(
      "the newly staked listing to enter the full catalogs",
      // Staked as this node sees it, not only listed.
      () =>
        sellerOn(node, cid2) === honest.address &&
        node.components.catalog.getListing(cid2).onChain.length > 0,
      { timeout: 20_000 },
    );
  }
  // More flood: neither staked listing goes, the flood only displaces itself.
  const second = await flood(squatter, observers, 2 * CAP, "second flood");
  for (const node of observers) {
    const held = node.components.catalog.listListings({ limit: 100 }).listings.map((l): string => l.id);
    assert.ok(
      held.includes(cid) && held.includes(cid2),
      "both staked listings stay",
    );
    assert.ok(held.length <= CAP);
    assert.ok(held.some((id) => second.includes(id)), "the flood is admitted in place of older flood");
    assert.ok(!held.some((id) => first.slice(0, CAP).includes(id)), "the oldest flood went first");
  }
});
