/**
 * `deno task bench gossip [--nodes 20] [--messages 30] [--gap 100]`: announcement
 * propagation over gossipsub between real nodes on loopback, all in this
 * process (one event loop, so every node's validation shares the CPU).
 *
 * One node publishes signed announcements through `catalog.publishAnnouncement`,
 * one at a time: each is timed from the call until the last other node's
 * `p2p.subscribe` handler on the announcement topic receives it. Gossipsub
 * delivers to handlers only after the topic validator accepted the message, and
 * the catalog's validator indexes it, so that moment is when the listing is in
 * the node's catalog (checked with `getListing` in the handler). The next
 * message goes `--gap` ms after every node has the previous one (gossipsub has
 * no backpressure). A warm-up message is not counted.
 *
 * Reference, same run: libp2p ping round trip between two of the nodes.
 *
 * Prints one JSON line:
 * `{"bench":"gossip","nodes":20,"messages":30,"p50Ms":…,"p95Ms":…,"target":{"p95Ms":200},"reference":{"pingRttP50Ms":…}}`
 */
import * as dagCbor from "@ipld/dag-cbor";
import { peerIdFromString } from "@libp2p/peer-id";
import { type Announcement, signAnnouncement } from "../../protocol/announcement.ts";
import { announcementTopic } from "../../protocol/topics.ts";
import { makeBody } from "../../node/services/catalog/fixtures_test.ts";
import type { KosmosNode } from "../../node/node.ts";
import { numberFlag, percentile, progress, round2, startBenchNetwork, waitUntil } from "./net.ts";

const NODES = numberFlag("nodes", 20);
const MESSAGES = numberFlag("messages", 30);
const GAP_MS = numberFlag("gap", 100);
const PINGS = 30;
const MESSAGE_TIMEOUT_MS = 10_000;
const CATEGORY = "environment";
const topic = announcementTopic(CATEGORY);

function hasListing(node: KosmosNode, id: string): boolean {
  try {
    node.components.catalog.getListing(id);
    return true;
  } catch (err) {
    if ((err as Error).name === "NotFoundError") return false;
    throw err;
  }
}

/** Peers in the node's gossipsub mesh for `topic` (the method exists at runtime but not on the exported type). */
function meshSize(node: KosmosNode): number {
  const pubsub = node.components.p2p.libp2p.services.pubsub as unknown as {
    getMeshPeers(t: string): unknown[];
  };
  return pubsub.getMeshPeers(topic).length;
}

const net = await startBenchNetwork(NODES, { logLevel: "error" });
let exitCode = 0;
try {
  const [publisher, ...others] = net.nodes;
  progress(`started ${NODES} nodes; waiting for connections and the ${topic} mesh`);

  // Every node connected to several peers, subscribed peers known, and a
  // gossipsub mesh on the topic (formed on heartbeats, once a second).
  const want = Math.min(4, NODES - 1);
  const stats = () =>
    net.nodes.map((n) =>
      `${n.components.p2p.peers().length}/${n.components.p2p.topicPeers(topic).length}/${meshSize(n)}`
    ).join(" ");
  const ticker = setInterval(() => progress(`peers/topic peers/mesh: ${stats()}`), 5000);
  await waitUntil("the gossipsub mesh", () =>
    net.nodes.every((n) => {
      return n.components.p2p.topicPeers(topic).length >= want && meshSize(n) >= want;
    }), { timeout: 60_000, interval: 200 }).finally(() => clearInterval(ticker));
  progress(
    `mesh ready: peers/node min ${Math.min(...net.nodes.map((n) => n.components.p2p.peers().length))}, ` +
      `mesh/node min ${Math.min(...net.nodes.map((n) => meshSize(n)))}`,
  );

  // Arrival times per announcement id, per receiving node.
  const arrivals = new Map<string, Map<string, number>>();
  let notIndexed = 0;
  const unsubscribe = others.map((node) =>
    node.components.p2p.subscribe(topic, ({ data }) => {
      const at = performance.now();
      const id = String((dagCbor.decode(data) as { manifestCid: unknown }).manifestCid);
      if (!hasListing(node, id)) notIndexed++;
      let seen = arrivals.get(id);
      if (!seen) arrivals.set(id, seen = new Map());
      if (!seen.has(node.peerId)) seen.set(node.peerId, at);
    })
  );

  const account = publisher.components.identity.account;
  const announcements: Announcement[] = [];
  for (let i = 0; i <= MESSAGES; i++) {
    announcements.push(
      await signAnnouncement(
        account,
        await makeBody(account.address, { title: `Bench reading ${i}`, providers: [publisher.peerId] }),
      ),
    );
  }

  const latencies: number[] = [];
  for (const [i, announcement] of announcements.entries()) {
    const id = announcement.manifestCid;
    const start = performance.now();
    await publisher.components.catalog.publishAnnouncement(announcement);
    await waitUntil(
      `announcement ${i} to reach ${others.length} nodes`,
      () => (arrivals.get(id)?.size ?? 0) === others.length,
      { timeout: MESSAGE_TIMEOUT_MS, interval: 1 },
    );
    const last = Math.max(...arrivals.get(id)!.values());
    if (i > 0) latencies.push(last - start); // message 0 warms up
    await new Promise((r) => setTimeout(r, GAP_MS));
  }
  for (const u of unsubscribe) u();
  if (notIndexed > 0) {
    throw new Error(`${notIndexed} deliveries reached a handler before the catalog had them`);
  }
  progress(`measured ${latencies.length} announcements`);

  // Reference: ping RTT between the publisher and one receiver.
  const pinger = publisher.components.p2p.libp2p;
  const target = peerIdFromString(others[0].peerId);
  await pinger.services.ping.ping(target);
  const rtts: number[] = [];
  for (let i = 0; i < PINGS; i++) {
    // ping() reports whole milliseconds; time the round trip here instead.
    const t = performance.now();
    await pinger.services.ping.ping(target);
    rtts.push(performance.now() - t);
  }

  console.log(JSON.stringify({
    bench: "gossip",
    nodes: NODES,
    messages: latencies.length,
    p50Ms: round2(percentile(latencies, 50)),
    p95Ms: round2(percentile(latencies, 95)),
    maxMs: round2(Math.max(...latencies)),
    target: { p95Ms: 200 },
    reference: { pingRttP50Ms: round2(percentile(rtts, 50)) },
    measuredAt: "last receiver's p2p handler (after its catalog indexed the announcement)",
  }));
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  await net.stop();
}
Deno.exit(exitCode);
