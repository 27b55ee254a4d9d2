import assert from "node:assert/strict";
import * as dagCbor from "@ipld/dag-cbor";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  ANNOUNCEMENT_DOMAIN,
  ANNOUNCEMENT_TYPES,
  encodeAnnouncement,
  MAX_ANNOUNCEMENT_BYTES,
  signAnnouncement,
  toTypedMessage,
} from "../protocol/announcement.ts";
import { announcementTopic } from "../protocol/topics.ts";
import type { KosmosNode } from "../node/node.ts";
import { makeBody } from "../node/services/catalog/fixtures_test.ts";
import { startNetwork } from "./nodes.ts";
import { waitFor } from "./helpers.ts";

const topic = announcementTopic("environment");

/** Resolves once `from` and every node in `to` see each other on the topic (gossip streams open both ways). */
async function waitForTopic(from: KosmosNode, to: KosmosNode[]) {
  await waitFor(
    "the announcement topic to connect the nodes",
    () =>
      to.every((n) =>
        from.components.p2p.topicPeers(topic).includes(n.peerId) &&
        n.components.p2p.topicPeers(topic).includes(from.peerId)
      ),
  );
}

function has(node: KosmosNode, id: string): boolean {
  try {
    node.components.catalog.getListing(id);
    return true;
  } catch (err) {
    if ((err as Error).name === "NotFoundError") return false;
    throw err;
  }
}

async function announce(node: KosmosNode, patch = {}) {
  const account = node.components.identity.account;
  return await signAnnouncement(
    account,
    await makeBody(account.address, { providers: [node.peerId], ...patch }),
  );
}

Deno.test("publishAnnouncement() reaches the catalogs of four other nodes within 2 s", async () => {
  await using net = await startNetwork(5);
  await net.waitForMesh();
  const [a, ...others] = net.nodes;
  await waitForTopic(a, others);
  const announcement = await announce(a, { title: "Hourly air quality" });
  const { listing, recipients } = await a.components.catalog.publishAnnouncement(announcement);
  assert.equal(recipients, 4);
  assert.equal(listing.id, announcement.manifestCid);
  await waitFor("b–e to list the announcement", () => others.every((n) => has(n, announcement.manifestCid)), {
    timeout: 2000,
  });
  for (const node of others) {
    const { listings } = node.components.catalog.listListings({ q: "air quality", category: "environment" });
    assert.equal(listings.length, 1);
    assert.equal(listings[0].seller, a.address);
    assert.deepEqual(listings[0].providers, [a.peerId]);
    assert.equal(listings[0].stake, "0");
  }
});

Deno.test("a node that joins after an announcement lists it through catalog sync", async () => {
  await using net = await startNetwork(2);
  await net.waitForMesh();
  const [a, b] = net.nodes;
  await waitForTopic(a, [b]);
  const announcement = await announce(a, { title: "Energy use per household", category: "energy" });
  await a.components.catalog.publishAnnouncement(announcement);
  await waitFor("b to list the announcement", () => has(b, announcement.manifestCid));
  const late = await net.addNode();
  await waitFor("the late node to list the announcement", () => has(late, announcement.manifestCid), {
    timeout: 5000,
  });
  assert.equal(
    late.components.catalog.getListing(announcement.manifestCid).title,
    "Energy use per household",
  );
});

Deno.test("a node that joins a network of 300 listings lists them all through catalog sync", async () => {
  // One round of 256 per sync: the joiner must go on from its cursor at once, not at the next sync (5 minutes).
  await using net = await startNetwork(1, {}, { services: { catalog: { maxSyncRounds: 1 } } });
  const [a] = net.nodes;
  // More than one sync batch of the largest frames a responder writes before the joiner reads them.
  const ids: string[] = [];
  for (let i = 0; i < 300; i++) {
    const announcement = await announce(a, { title: `Station ${i} readings`, description: "x".repeat(400) });
    await a.components.catalog.publishAnnouncement(announcement);
    ids.push(announcement.manifestCid);
  }
  const late = await net.addNode();
  await waitFor("the late node to list all 300 listings", () => ids.every((id) => has(late, id)), {
    timeout: 20_000,
  });
});

Deno.test("invalid announcements gossiped raw are rejected everywhere and cost the sender its score", async () => {
  await using net = await startNetwork(3);
  await net.waitForMesh();
  const [a, b, mallory] = net.nodes;
  const receivers = [a, b];
  const p2p = mallory.components.p2p;
  await waitForTopic(mallory, receivers);
  const wallet = mallory.components.identity.account;
  const body = await makeBody(wallet.address);
  const stranger = privateKeyToAccount(generatePrivateKey());
  const forged = await makeBody(wallet.address);
  const forgedSignature = await stranger.signTypedData({
    domain: ANNOUNCEMENT_DOMAIN,
    types: ANNOUNCEMENT_TYPES,
    primaryType: "Announcement",
    message: toTypedMessage(forged),
  });
  const future = Date.now() + 3_600_000;
  const farFuture = await signAnnouncement(wallet, await makeBody(wallet.address, { timestamp: future }), {
    now: future,
  });
  const big = await signAnnouncement(wallet, await makeBody(wallet.address));
  const oversized = dagCbor.encode({ ...big, description: "x".repeat(MAX_ANNOUNCEMENT_BYTES) });
  assert.ok(
    oversized.byteLength > MAX_ANNOUNCEMENT_BYTES && oversized.byteLength < MAX_ANNOUNCEMENT_BYTES + 1024,
  );
  const bad = [
    dagCbor.encode({ ...forged, signature: forgedSignature }),
    new TextEncoder().encode("not an announcement"),
    dagCbor.encode({ ...body, price: "free", signature: forgedSignature }),
    oversized,
    encodeAnnouncement(farFuture, { now: future }),
  ];
  for (const bytes of bad) assert.equal(await p2p.publish(topic, bytes), 2);
  await waitFor(
    "mallory's score to drop below zero at a and b",
    () => receivers.every((n) => n.components.p2p.peerScore(mallory.peerId) < 0),
  );
  // 10 MB is over the transport's 1 MiB limit: dropped before any validator.
  await p2p.publish(topic, new Uint8Array(10 * 1024 * 1024).fill(0xa1)).catch(() => 0);

  const honest = await announce(a, { title: "Still working" });
  await a.components.catalog.publishAnnouncement(honest);
  await waitFor("b to list the honest announcement", () => has(b, honest.manifestCid), { timeout: 2000 });
  const invalidIds: string[] = [forged.manifestCid, body.manifestCid, big.manifestCid, farFuture.manifestCid];
  for (const node of net.nodes) {
    const ids = node.components.catalog.listListings({ limit: 100 }).listings.map((l) => l.id);
    assert.deepEqual(ids.filter((id) => invalidIds.includes(id)), [], `no invalid listing at ${node.peerId}`);
  }
  assert.deepEqual(b.components.catalog.listListings().listings.map((l) => l.title), ["Still working"]);
  for (const node of receivers) assert.ok(node.components.p2p.peerScore(mallory.peerId) < 0);
});

Deno.test("publishAnnouncement() refuses an announcement not signed by its seller, and listings it does not know", async () => {
  await using net = await startNetwork(1);
  const [a] = net.nodes;
  const stranger = privateKeyToAccount(generatePrivateKey());
  const body = await makeBody(a.address);
  const signature = await stranger.signTypedData({
    domain: ANNOUNCEMENT_DOMAIN,
    types: ANNOUNCEMENT_TYPES,
    primaryType: "Announcement",
    message: toTypedMessage(body),
  });
  await assert.rejects(
    () => a.components.catalog.publishAnnouncement({ ...body, signature }),
    (err: Error) => err instanceof TypeError && /not the seller/.test(err.message),
  );
  const announcement = await announce(a);
  await a.components.catalog.publishAnnouncement(announcement);
  await assert.rejects(() => a.components.catalog.publishAnnouncement(announcement), RangeError);
  assert.throws(() => a.components.catalog.getListing(body.manifestCid), { name: "NotFoundError" });
  assert.throws(() => a.components.catalog.getListing("nope"), TypeError);
  assert.throws(() => a.components.catalog.addProvider(body.manifestCid, a.peerId), {
    name: "NotFoundError",
  });
  a.components.catalog.addProvider(announcement.manifestCid, net.nodes[0].peerId);
  assert.throws(() => a.components.catalog.addProvider(announcement.manifestCid, "not-a-peer"), TypeError);
  // getProviders() is the listing's providers, or none for a dataset the catalog does not list.
  const providers = a.components.catalog.getProviders(announcement.manifestCid);
  assert.ok(providers.includes(net.nodes[0].peerId));
  assert.deepEqual(providers, a.components.catalog.getListing(announcement.manifestCid).providers);
  assert.deepEqual(a.components.catalog.getProviders(body.manifestCid), []);
  assert.throws(() => a.components.catalog.getProviders("nope"), TypeError);
});
