import assert from "node:assert/strict";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import * as raw from "multiformats/codecs/raw";
import { createLogger } from "../../log.ts";
import { waitFor } from "../../../tests/helpers.ts";
import { createP2P, type P2P, type P2PInit } from "./mod.ts";
import {
  checkLimits,
  type ConnectionLimits,
  highWater,
  HOME_LIMITS,
  inboundReserve,
  lowWater,
  PUBLIC_LIMITS,
  selectTrim,
  type TrimCandidate,
} from "./limits.ts";

const limits: ConnectionLimits = { targetPeers: 4, maxConnections: 8, gracePeriod: 1000 };
const NOW = 100_000;

function candidate(id: string, over: Partial<TrimCandidate> = {}): TrimCandidate {
  const c = { id, peer: id, opened: NOW - 60_000, value: 0, streams: 1, kept: false, ...over };
  return { firstSeen: c.opened, ...c };
}

Deno.test("connection limits keep an eighth of the cap (at least one slot) free for newcomers", () => {
  assert.equal(inboundReserve(8), 1);
  assert.equal(inboundReserve(64), 8);
  assert.equal(highWater(limits), 7);
  assert.equal(lowWater(limits), 4);
  assert.equal(lowWater({ ...limits, targetPeers: 8 }), 7, "the low water mark never exceeds the high one");
  assert.throws(
    () => checkLimits({ ...limits, targetPeers: 9 }),
    /targetPeers 9 must be .* to maxConnections \(8\)/,
  );
  assert.throws(() => checkLimits({ ...limits, maxConnections: 1, targetPeers: 1 }), /at least 2/);
  assert.throws(() => checkLimits({ ...limits, gracePeriod: -1 }), RangeError);
});

Deno.test("selectTrim() does nothing below the high water mark, then closes the lowest-value old connections down to the target", () => {
  const six = Array.from({ length: 6 }, (_, i) => candidate(`c${i}`));
  assert.deepEqual(selectTrim(six, limits, NOW), []);
  const eight = [
    candidate("mesh", { value: 100 }),
    candidate("close", { value: 50 }),
    candidate("kept", { kept: true }),
    candidate("busy", { streams: 5 }),
    candidate("older", { opened: NOW - 90_000 }),
    candidate("newer", { opened: NOW - 30_000 }),
    candidate("young", { opened: NOW - 10 }),
    candidate("table", { value: 1 }),
  ];
  // 8 > 7: back down to 4, sparing the young one (grace) and the keep-alive one; lowest value
  // first, then fewer streams, then newest.
  assert.deepEqual(selectTrim(eight, limits, NOW), ["newer", "older", "busy", "table"]);
});

Deno.test("selectTrim() closes second connections to a peer first, and young ones only to free the reserve, long-known peers before newcomers", () => {
  const twice = [
    ...Array.from({ length: 6 }, (_, i) => candidate(`p${i}`, { value: 100 })),
    candidate("dup-a", { peer: "p0", streams: 0 }),
    candidate("dup-b", { peer: "p1", streams: 3, opened: NOW - 1 }),
  ];
  // p1's busier connection stays, its quiet one goes; then mesh peers down to the target.
  const picked = selectTrim(twice, limits, NOW);
  assert.deepEqual(picked.slice(0, 2), ["dup-a", "p1"]);
  assert.equal(twice.length - picked.length, 4);
  const young = Array.from({ length: 8 }, (_, i) => candidate(`y${i}`, { opened: NOW - 100 * (i + 1) }));
  assert.deepEqual(
    selectTrim(young, limits, NOW),
    ["y7"],
    "only the reserve is freed, by the first newcomer",
  );
  // A peer known for an hour that reconnected just now (a DHT query) goes before any newcomer.
  young[0] = candidate("back", { opened: NOW - 5, firstSeen: NOW - 3_600_000 });
  assert.deepEqual(selectTrim(young, limits, NOW), ["back"]);
});

Deno.test("createP2P() keeps 16 of at most 64 connections at home, 32 of 256 on a public or relaying node, or what it is given", async () => {
  const log = createLogger({ level: "error" }).forComponent("kosmos:p2p");
  const identity = await memoryIdentity();
  assert.deepEqual(createP2P({ identity, log }).limits, HOME_LIMITS);
  assert.deepEqual(createP2P({ identity, log }, { relay: true }).limits, PUBLIC_LIMITS);
  assert.deepEqual(
    createP2P({ identity, log }, { announce: ["/ip4/203.0.113.7/tcp/4001"] }).limits,
    PUBLIC_LIMITS,
  );
  assert.deepEqual(
    createP2P({ identity, log }, { maxConnections: 10 }).limits,
    { ...HOME_LIMITS, maxConnections: 10, targetPeers: 10 },
    "the target never exceeds the cap given",
  );
  assert.throws(() => createP2P({ identity, log }, { maxConnections: 8, targetPeers: 9 }), RangeError);
});

/** An identity held in memory only (these nodes have no data dir). */
async function memoryIdentity() {
  const privateKey = await generateKeyPair("Ed25519");
  return {
    privateKey,
    peerId: peerIdFromPrivateKey(privateKey),
    account: privateKeyToAccount(generatePrivateKey()),
  };
}

interface Watched {
  p2p: P2P;
  /** The most connections this node had open at any moment. */
  peak: number;
}

async function startWatched(
  init: P2PInit,
  identity?: Awaited<ReturnType<typeof memoryIdentity>>,
): Promise<Watched> {
  const log = createLogger({ level: "error" }).forComponent("kosmos:p2p");
  const p2p = createP2P({ identity: identity ?? await memoryIdentity(), log }, {
    listen: ["/ip4/127.0.0.1/tcp/0"],
    ...init,
  });
  await p2p.start();
  const watched = { p2p, peak: 0 };
  const count = () => watched.peak = Math.max(watched.peak, p2p.libp2p.getConnections().length);
  p2p.libp2p.addEventListener("connection:open", count);
  return watched;
}

Deno.test({
  name:
    "a seed at its connection limit still admits every newcomer; counts stay within limits; gossip and the DHT work",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const nodes: Watched[] = [];
  try {
    const seed = await startWatched({ maxConnections: 5, targetPeers: 3, gracePeriod: 1000 });
    nodes.push(seed);
    const seedAddr = seed.p2p.listenAddresses()[0];
    const peerLimits = { maxConnections: 8, targetPeers: 4, gracePeriod: 1000 };
    for (let i = 1; i < 14; i++) {
      const node = await startWatched({ ...peerLimits, bootstrap: [seedAddr] });
      nodes.push(node);
      await waitFor(`newcomer ${i} to join through the seed`, () => node.p2p.peers().length > 0, {
        timeout: 8000,
      });
    }
    for (const [i, n] of nodes.entries()) {
      const max = n.p2p.limits.maxConnections;
      assert.ok(n.peak <= max, `node ${i} had ${n.peak} connections open, over its limit of ${max}`);
      assert.ok(n.p2p.peers().length > 0, `node ${i} is still connected`);
    }
    assert.ok(
      nodes.every((n) => n.p2p.peers().length < nodes.length - 1),
      "no node is connected to all others",
    );

    const topic = "/kosmos/test/limits";
    const got = new Map<P2P, string[]>(nodes.map((n) => [n.p2p, []]));
    for (const n of nodes) {
      n.p2p.subscribe(topic, (m) => got.get(n.p2p)!.push(new TextDecoder().decode(m.data)));
    }
    const last = nodes.at(-1)!.p2p;
    await waitFor("the last node to have mesh peers on the topic", () => last.topicPeers(topic).length >= 2);
    await new Promise((r) => setTimeout(r, 1500)); // a gossipsub heartbeat or two to build every mesh
    await last.publish(topic, new TextEncoder().encode("to everyone"));
    await waitFor(
      "the message at every other node",
      () => nodes.slice(0, -1).every((n) => got.get(n.p2p)!.length === 1),
      {
        timeout: 8000,
      },
    );

    const cid = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode("limits test block")));
    const provider = nodes[1].p2p;
    await provider.libp2p.contentRouting.provide(cid, { signal: AbortSignal.timeout(8000) });
    const seeker = nodes.at(-1)!.p2p;
    const found = await waitFor("the seeker to find the provider", async () => {
      for await (
        const p of seeker.libp2p.contentRouting.findProviders(cid, { signal: AbortSignal.timeout(5000) })
      ) {
        if (p.id.equals(provider.peerId)) return true;
      }
      return false;
    }, { timeout: 10_000 });
    assert.equal(found, true);
    for (const [i, n] of nodes.entries()) {
      assert.ok(n.peak <= n.p2p.limits.maxConnections, `node ${i} stayed within its limit (${n.peak})`);
    }
  } finally {
    await Promise.all(nodes.map((n) => n.p2p.stop()));
  }
});

Deno.test({
  name:
    "a bootstrap peer that was not up at the first dial is dialled again, though the node joined through another",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const nodes: Watched[] = [];
  try {
    const other = await startWatched({});
    nodes.push(other);
    const identity = await memoryIdentity();
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    listener.close();
    const node = await startWatched({
      bootstrap: [other.p2p.listenAddresses()[0], `/ip4/127.0.0.1/tcp/${port}/p2p/${identity.peerId}`],
    });
    nodes.push(node);
    await waitFor("the node to join through the peer that is up", () => node.p2p.peers().length === 1);
    // The other bootstrap peer starts; nothing but the node's own retries can lead it there.
    const late = await startWatched({ listen: [`/ip4/127.0.0.1/tcp/${port}`] }, identity);
    nodes.push(late);
    await waitFor(
      "the node to reach the bootstrap peer that was down",
      () => node.p2p.peers().includes(identity.peerId.toString()),
      { timeout: 20_000 },
    );
  } finally {
    await Promise.all(nodes.map((n) => n.p2p.stop()));
  }
});
