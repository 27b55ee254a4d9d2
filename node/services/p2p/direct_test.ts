import assert from "node:assert/strict";
import { createLibp2p, type Libp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify } from "@libp2p/identify";
import { circuitRelayServer, circuitRelayTransport } from "@libp2p/circuit-relay-v2";
import { multiaddr } from "@multiformats/multiaddr";
import "../../polyfills.ts";
import { preferDirect } from "./direct.ts";
import { isRelayAddress } from "./addresses.ts";

/** A relay, a node holding a slot on it, and a node connected to that one through the relay only. */
async function relayedPair(): Promise<{ nodes: Libp2p[]; home: Libp2p; buyer: Libp2p }> {
  const base = {
    transports: [tcp(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  };
  const relay = await createLibp2p({
    ...base,
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
    services: { identify: identify(), relay: circuitRelayServer() },
  });
  const relayAddr = relay.getMultiaddrs()[0].toString();
  const home = await createLibp2p({
    ...base,
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0", `${relayAddr}/p2p-circuit`] },
    services: { identify: identify() },
  });
  const buyer = await createLibp2p({ ...base, services: { identify: identify() } });
  const circuit = home.getMultiaddrs().find(isRelayAddress);
  assert.ok(circuit, "the home node holds a relay slot");
  const conn = await buyer.dial(circuit);
  assert.ok(isRelayAddress(conn.remoteAddr));
  return { nodes: [buyer, home, relay], home, buyer };
}

Deno.test({
  name: "preferDirect() waits once per relayed connection, then lets the stream go through the relay",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const { nodes, home, buyer } = await relayedPair();
  try {
    const started = Date.now();
    await Promise.all([preferDirect(buyer, home.peerId, { wait: 300 }), preferDirect(buyer, home.peerId)]);
    const waited = Date.now() - started;
    assert.ok(waited >= 250 && waited < 3000, `both callers share the 300 ms wait (took ${waited} ms)`);
    const again = Date.now();
    await preferDirect(buyer, home.peerId, { wait: 300 });
    assert.ok(Date.now() - again < 200, "the same relayed connection is not waited on twice");
    assert.ok(buyer.getConnections(home.peerId).every((c) => isRelayAddress(c.remoteAddr)));
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

Deno.test({
  name: "preferDirect() returns as soon as a direct connection to the peer opens, and honours its signal",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const { nodes, home, buyer } = await relayedPair();
  try {
    const aborted = new AbortController();
    const cancelled = preferDirect(buyer, home.peerId, { wait: 10_000, signal: aborted.signal });
    aborted.abort(new Error("gave up"));
    await assert.rejects(cancelled, /gave up/);

    const started = Date.now();
    const waiting = preferDirect(buyer, home.peerId, { wait: 10_000 });
    const direct = home.getMultiaddrs().find((ma) => !isRelayAddress(ma))!;
    await buyer.dial(multiaddr(direct.toString()));
    await waiting;
    assert.ok(Date.now() - started < 5000, "it did not wait out the 10 s");
    assert.ok(buyer.getConnections(home.peerId).some((c) => !isRelayAddress(c.remoteAddr)));
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
});
