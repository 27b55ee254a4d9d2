/** The node's network as `GET /api/v1/node` shows it (`NodeInfo.network`). */
import type { NetworkView } from "../../protocol/api/node.ts";
import type { ChainService } from "../services/chain/mod.ts";
import type { Handshake, NetworkService } from "../services/network/mod.ts";

export interface NetworkViewComponents {
  chain: ChainService;
  network: NetworkService;
  handshake: Handshake;
}

export function getNetworkView(c: NetworkViewComponents): NetworkView {
  const target = c.network.target;
  return {
    name: c.network.name,
    chainId: c.chain.chainId,
    registry: c.chain.contracts?.registry ?? null,
    protocolPrefix: c.network.protocolPrefix,
    dev: c.network.dev,
    joinedFrom: target.kind === "profile" ? target.joinedFrom ?? null : null,
    foreignPeers: c.handshake.foreignPeers().map(({ peerId, hello }) => ({
      peerId,
      name: hello.name,
      chainId: hello.chainId,
      registry: hello.contracts?.registry ?? null,
    })),
  };
}
