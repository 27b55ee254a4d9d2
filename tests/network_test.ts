import assert from "node:assert/strict";
import { startNetwork } from "./nodes.ts";
import { waitFor } from "./helpers.ts";

Deno.test("three nodes on loopback find each other through one bootstrap peer and deliver gossip", async () => {
  await using net = await startNetwork(3);
  await net.waitForMesh();
  const [a, b, c] = net.nodes;
  for (const node of net.nodes) {
    const info = await node.facade.getNodeInfo();
    assert.equal(info.peers.length, 2);
    assert.deepEqual(
      info.peers,
      net.nodes.filter((n) => n !== node).map((n) => n.peerId).sort(),
    );
  }

  const topic = "/kosmos/test/1";
  const received = new Map<string, string[]>();
  for (const node of [b, c]) {
    received.set(node.peerId, []);
    node.components.p2p.subscribe(topic, (msg) => {
      assert.equal(msg.from, a.peerId);
      received.get(node.peerId)!.push(new TextDecoder().decode(msg.data));
    });
  }
  a.components.p2p.subscribe(topic, () => {});
  await waitFor("subscriptions to propagate", () => a.components.p2p.topicPeers(topic).length === 2);
  await a.components.p2p.publish(topic, new TextEncoder().encode("hello kosmos"));
  await waitFor("delivery to b and c", () => [...received.values()].every((m) => m.length === 1));
  assert.deepEqual([...received.values()], [["hello kosmos"], ["hello kosmos"]]);
});

Deno.test("a topic validator that rejects drops the message everywhere and lowers the sender's score", async () => {
  await using net = await startNetwork(2);
  await net.waitForMesh();
  const [a, b] = net.nodes;
  const topic = "/kosmos/test/validated";
  const got: string[] = [];
  b.components.p2p.setTopicValidator(topic, (_from, data) => data[0] === 0x21 ? "reject" : "accept");
  b.components.p2p.subscribe(topic, (m) => got.push(new TextDecoder().decode(m.data)));
  a.components.p2p.subscribe(topic, () => {});
  await waitFor("b to see a's subscription", () => a.components.p2p.topicPeers(topic).length === 1);
  for (let i = 0; i < 5; i++) await a.components.p2p.publish(topic, new TextEncoder().encode(`!bad ${i}`));
  await a.components.p2p.publish(topic, new TextEncoder().encode("good"));
  await waitFor("the good message", () => got.length === 1);
  assert.deepEqual(got, ["good"]);
  await waitFor("a's score at b to drop below zero", () => b.components.p2p.peerScore(a.peerId) < 0);
});
