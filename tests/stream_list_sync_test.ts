/**
 * Real nodes on loopback (libp2p, SQLite, anvil): a node that joins after a stream was announced learns it
 * from the peers it meets (`/kosmos/streams/1.0.0` stream list), within seconds rather than at the owner's
 * next re-announcement (every 5 minutes) — from the publisher, and from a replica with the publisher stopped.
 */
import assert from "node:assert/strict";
import type { KosmosNode } from "../node/node.ts";
import { makeStream } from "../node/services/streams/epochs_fixtures_test.ts";
import { waitFor } from "./helpers.ts";
import { startNetwork } from "./nodes.ts";

const lists = (node: KosmosNode, streamId: string) =>
  node.components.streams.listStreams().some((s) => s.row.streamId === streamId);

Deno.test("a node that joins after a stream was announced lists it within seconds, also from a replica with the publisher stopped", async () => {
  await using net = await startNetwork(1, { listen: ["/ip4/127.0.0.1/tcp/0"] });
  const [a] = net.nodes;
  const c = a.components;
  const stream = await makeStream({
    gateway: c.identity.account,
    publisherPeer: c.p2p.peerId.toString(),
    chainId: c.chain.chainId,
    listingId: "3",
  });
  c.streams.catalog.registerOwnStream(stream.bytes);
  // Announced while A is alone: gossip reaches nobody, and the next re-announcement is minutes away.
  await c.streams.catalog.publishAnnouncement(stream.announcement);
  assert.ok(lists(a, stream.streamId));

  // B joins (bootstraps to A) and learns it from A.
  let t0 = Date.now();
  const b = await net.addNode();
  await waitFor("B to list the stream", () => lists(b, stream.streamId), { timeout: 5000, interval: 50 });
  const fromPublisher = Date.now() - t0;
  const known = b.components.streams.catalog.knownStream(stream.streamId);
  assert.equal(known?.listingId, 3n);
  assert.equal(known?.manifest.title, stream.manifest.title);

  // A stops; C joins through B only and learns it from B.
  await a.stop();
  t0 = Date.now();
  const cNode = await net.addNode({ bootstrap: [b.components.p2p.listenAddresses()[0]] });
  await waitFor("C to list the stream", () => lists(cNode, stream.streamId), { timeout: 5000, interval: 50 });
  const fromReplica = Date.now() - t0;
  assert.ok(!cNode.components.p2p.peers().includes(c.p2p.peerId.toString()));
  console.log(`learned a stream ${fromPublisher} ms after joining (publisher), ${fromReplica} ms (replica)`);
});
