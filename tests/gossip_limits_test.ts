/**
 * What one gossip peer can make a node hold: its subscriptions beyond
 * MAX_TOPICS_PER_PEER topics are ignored (the library's default would admit
 * about 1,000), and one it drops gives room back.
 */
import assert from "node:assert/strict";
import { MAX_TOPICS_PER_PEER } from "../node/services/p2p/gossipsub.ts";
import { waitFor } from "./helpers.ts";
import { startLightNodes } from "./light_nodes.ts";

Deno.test("a peer subscribing to 400 topics occupies at most MAX_TOPICS_PER_PEER of them on the node", async () => {
  await using net = await startLightNodes(2, { prefix: "kosmos-gossip-limits-" });
  await net.waitForMesh();
  const [a, b] = net.nodes.map((n) => n.components.p2p.libp2p.services.pubsub);
  const bId = net.nodes[1].peerId;
  const topic = (i: number) => `/kosmos/stream/1/parked-${String(i).padStart(40, "0")}`;
  const sees = (t: string) => a.getSubscribers(t).some((p) => p.toString() === bId);
  // Once `a` has b's first subscription, b's gossip stream to `a` is open and each later one goes alone
  // (before that, b would send all its topics in one message when the stream opens).
  b.subscribe("/kosmos/stream/1/warm-up");
  await waitFor("b's gossip stream to a", () => sees("/kosmos/stream/1/warm-up"), { timeout: 10_000 });
  b.unsubscribe("/kosmos/stream/1/warm-up");

  for (let i = 0; i < 400; i++) b.subscribe(topic(i));
  // Subscriptions reach `a` in order on one stream: once it has the marker, it has handled all before it.
  b.unsubscribe(topic(0));
  b.subscribe("/kosmos/stream/1/marker");
  await waitFor("the marker subscription", () => sees("/kosmos/stream/1/marker"), { timeout: 10_000 });
  const kept = Array.from({ length: 400 }, (_, i) => i).filter((i) => sees(topic(i)));
  assert.ok(kept.length <= MAX_TOPICS_PER_PEER, `${kept.length} topics held for one peer`);
  assert.ok(
    kept.length >= MAX_TOPICS_PER_PEER * 0.85,
    `only ${kept.length} topics held: the budget is too tight`,
  );
  assert.deepEqual(
    kept,
    Array.from({ length: kept.length }, (_, i) => i + 1),
    "the first ones are kept, in order",
  );
  assert.ok(!kept.includes(399));
});
