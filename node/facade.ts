/**
 * Implements the web layer's {@link KosmosFacade} over the node's services.
 * Each method is a thin adapter: validation of domain input happens in the
 * services, HTTP concerns in `web/`.
 */
import type { KosmosFacade, NodeInfo } from "../web/facade.ts";
import type { NodeComponents } from "./node.ts";
import { VERSION } from "./constants.ts";

export function createFacade(c: NodeComponents): KosmosFacade {
  return {
    async getNodeInfo(options = {}): Promise<NodeInfo> {
      const balance = await c.chain.getBalance(options);
      return {
        peerId: c.identity.peerId.toString(),
        address: c.identity.account.address,
        listen: c.p2p.listenAddresses(),
        peers: c.p2p.peers(),
        version: VERSION,
        chain: { chainId: c.chain.chainId, rpcUrl: c.chain.rpcUrl, balance: balance.toString() },
      };
    },
  };
}
