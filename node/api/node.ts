/** The node itself (`GET /api/v1/node`): identity, addresses, peers and chain. */
import type { NodeApi, NodeInfo } from "../../protocol/api/node.ts";
import { VERSION } from "../constants.ts";
import type { ChainService } from "../services/chain/mod.ts";
import type { Identity } from "../services/identity/mod.ts";
import type { P2P } from "../services/p2p/mod.ts";
import { getNetworkView, type NetworkViewComponents } from "./network.ts";

function reachabilityOf(p2p: P2P): NodeInfo["reachability"] {
  const { reachability, publicAddresses, relayAddresses, relaying } = p2p.reachability();
  return { status: reachability, publicAddresses, relayAddresses, relaying };
}

export function createNodeApi(
  c: { identity: Identity; p2p: P2P; chain: ChainService } & NetworkViewComponents,
): NodeApi {
  return {
    async getNodeInfo(options = {}): Promise<NodeInfo> {
      const balance = await c.chain.getBalance(options);
      return {
        peerId: c.identity.peerId.toString(),
        address: c.identity.account.address,
        listen: c.p2p.listenAddresses(),
        peers: c.p2p.peers(),
        connections: c.p2p.connections(),
        reachability: reachabilityOf(c.p2p),
        version: VERSION,
        chain: { chainId: c.chain.chainId, rpcUrl: c.chain.rpcUrl, balance: balance.toString() },
        network: getNetworkView(c),
      };
    },
  };
}
