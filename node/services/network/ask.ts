/**
 * Asks bootstrap peers which network they are on, before this node's own
 * libp2p host exists (the chain must be chosen before it starts): a
 * short-lived libp2p node with a random key dials each peer, reads its
 * network hello over `/kosmos/network/1.0.0`, and stops.
 *
 * A peer's network can be joined from here when it is a dev network with
 * Kosmos contracts whose RPC URL the peer shared: a local peer's embedded
 * anvil, on loopback, told only to peers dialling over loopback.
 *
 * ```ts
 * const joined = await askBootstrapPeers(["/ip4/127.0.0.1/tcp/4001/p2p/12D3…"], { log, timeout: 10_000 });
 * if (joined) console.log(joined.profile.rpcUrls[0]);
 * ```
 */
import { createLibp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { webSockets } from "@libp2p/websockets";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { multiaddr } from "@multiformats/multiaddr";
import { describeNetwork, NETWORK_PROTOCOL, type NetworkProfile } from "../../../protocol/network.ts";
import type { Logger } from "../../log.ts";
import { readPeerHello } from "./handshake.ts";
import { isLoopbackAddr, isLoopbackUrl } from "./loopback.ts";

export async function askBootstrapPeers(
  bootstrap: string[],
  options: { log: Logger; timeout: number; signal?: AbortSignal },
): Promise<{ profile: NetworkProfile; from: string } | undefined> {
  const { log } = options;
  const node = await createLibp2p({
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  });
  try {
    for (const addr of bootstrap) {
      const signal = AbortSignal.any(
        [AbortSignal.timeout(options.timeout), options.signal].filter((s) => s !== undefined),
      );
      let hello;
      try {
        const stream = await node.dialProtocol(multiaddr(addr), NETWORK_PROTOCOL, { signal });
        hello = await readPeerHello(stream, { signal });
      } catch (err) {
        log.warn("failed to ask a bootstrap peer for its network", { addr, error: err });
        continue;
      }
      const joinable = hello.dev && hello.contracts !== null && hello.rpcUrls.length > 0 &&
        isLoopbackAddr(addr) && hello.rpcUrls.every(isLoopbackUrl);
      if (!joinable) {
        log.info(
          `found bootstrap peer on network ${
            describeNetwork(hello)
          }, which this node cannot join by itself (start it with --network NAME|FILE to use that network)`,
          { addr },
        );
        continue;
      }
      return {
        from: addr,
        profile: {
          name: hello.name,
          chainId: hello.chainId,
          rpcUrls: hello.rpcUrls,
          contracts: hello.contracts!,
          bootstrap: [addr],
          protocolPrefix: hello.protocolPrefix,
          dev: hello.dev,
        },
      };
    }
    return undefined;
  } finally {
    await node.stop();
  }
}
