/**
 * The network handshake (`/kosmos/network/1.0.0`, the one protocol id without
 * a network prefix) from the attacker's side. Anyone who can connect may ask a
 * node for its network, so it must learn only what is public: the network's
 * name, chain id, contracts and prefix, and an RPC URL only where that URL is
 * a dev chain's loopback anvil asked for over loopback. An RPC URL of any other
 * network (which may carry an API key in its path or query) is never sent.
 * A node without chain flags that asks a bootstrap peer must join only a dev
 * network on loopback; and hostile frames end the stream without harming the
 * node.
 *
 * What the attack tried: ask a node on a non-dev network for its hello and
 * read its RPC URL; get a node to adopt a chain named by a peer that is not a
 * dev network; send garbage and oversized frames. Before the handshake
 * existed there was nothing to ask; this test fails if the hello ever carries
 * the RPC URL of such a network, if a node joins it, or if a bad frame stops
 * the handshake from answering.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { lpStream } from "@libp2p/utils";
import { createNode, type KosmosNode } from "../../node/node.ts";
import { createLogger } from "../../node/log.ts";
import { startAnvil } from "../../node/services/chain/anvil.ts";
import { setUpDevChain } from "../../node/services/chain/dev_chain.ts";
import { readPeerHello } from "../../node/services/network/handshake.ts";
import { writeNetworkProfile } from "../../node/network.ts";
import { NETWORK_PROTOCOL, type NetworkHello, networkPrefix } from "../../protocol/network.ts";
import { tempDir } from "../helpers.ts";

const quiet = () => ({ logger: createLogger({ level: "error" }) });

/** What `victim` tells `attacker`, asked the way a node that has no network yet asks (an empty frame). */
async function askHello(attacker: KosmosNode, victim: KosmosNode): Promise<NetworkHello> {
  const signal = AbortSignal.timeout(10_000);
  const stream = await attacker.components.p2p.libp2p.dialProtocol(
    victim.components.p2p.peerId,
    NETWORK_PROTOCOL,
    {
      signal,
    },
  );
  return await readPeerHello(stream, { signal });
}

Deno.test("the network handshake never hands out the RPC URL of a network that is not a dev chain on loopback, and a node never joins such a network", async () => {
  await using dir = await tempDir("kosmos-attack-hello-");
  await using anvil = await startAnvil();
  const chain = await setUpDevChain(anvil.rpcUrl);
  const profile = join(dir.path, "prod.json");
  await writeNetworkProfile(profile, {
    name: "prod",
    chainId: 31337,
    rpcUrls: [anvil.rpcUrl],
    contracts: { ...chain.contracts },
    bootstrap: [],
    protocolPrefix: networkPrefix("prod", chain.contracts.registry),
    dev: false,
  });
  const nodes: KosmosNode[] = [];
  const start = async (config: Parameters<typeof createNode>[0]) => {
    const node = await createNode(config, quiet());
    nodes.push(node);
    await node.start();
    return node;
  };
  try {
    // The victim: on a network that is not a dev network (its RPC URL could be a provider's, with a key).
    const victim = await start({ dataDir: join(dir.path, "victim"), port: 0, network: profile });
    // The control: a plain node on its embedded dev chain, which does share its loopback anvil over loopback.
    const local = await start({ dataDir: join(dir.path, "local"), port: 0 });
    // The attackers: nodes that can connect, on loopback (the most a peer is trusted with). The one asking the
    // victim is even on the victim's own network, so nothing hangs up on it.
    const attacker = await start({ dataDir: join(dir.path, "attacker"), port: 0, network: profile });
    const asker = await start({ dataDir: join(dir.path, "asker"), port: 0 });
    await attacker.components.p2p.libp2p.dial(victim.components.p2p.libp2p.getMultiaddrs()[0]);
    await asker.components.p2p.libp2p.dial(local.components.p2p.libp2p.getMultiaddrs()[0]);

    const control = await askHello(asker, local);
    assert.deepEqual(
      control.rpcUrls,
      [local.components.chain.rpcUrl],
      "the control shares its loopback anvil",
    );

    const told = await askHello(attacker, victim);
    assert.equal(told.name, "prod");
    assert.equal(told.dev, false);
    assert.deepEqual(told.rpcUrls, [], "no RPC URL of a non-dev network reaches a peer");
    assert.ok(!JSON.stringify(told).includes(anvil.rpcUrl), "the RPC URL is nowhere in the hello");

    // Hostile frames: garbage, then a frame over the limit. Each ends its stream; the handshake still answers.
    for (const frame of [new Uint8Array([0xa1, 0x61, 0x76, 0xff]), new Uint8Array(64 * 1024)]) {
      const stream = await attacker.components.p2p.libp2p.dialProtocol(
        victim.components.p2p.peerId,
        NETWORK_PROTOCOL,
      );
      const lp = lpStream(stream, { maxDataLength: 128 * 1024 });
      await lp.write(frame).catch(() => {});
      await assert.rejects(lp.read({ signal: AbortSignal.timeout(5_000) }));
    }
    assert.equal(
      (await askHello(attacker, victim)).name,
      "prod",
      "the handshake still serves after bad frames",
    );

    // A node without chain flags bootstrapped to the victim must not adopt its chain: it is not a dev network.
    const newcomer = await start({
      dataDir: join(dir.path, "newcomer"),
      port: 0,
      bootstrap: [victim.components.p2p.listenAddresses()[0]],
    });
    assert.notEqual(newcomer.components.chain.rpcUrl, anvil.rpcUrl, "the newcomer runs a chain of its own");
    assert.notEqual(newcomer.components.chain.contracts?.registry, chain.contracts.registry);
  } finally {
    for (const node of nodes.reverse()) await node.stop().catch(() => {});
  }
});
