/**
 * The one typed facade through which the web layer (API routes and pages)
 * reaches the node. `web/` never imports `node/services/*`; the node builds an
 * object of this shape in `node/node.ts` and hands it to `createApp()`.
 */

/** `GET /api/v1/node` */
export interface NodeInfo {
  peerId: string;
  /** The node's EVM wallet address. */
  address: `0x${string}`;
  /** Multiaddrs (with `/p2p/<peerId>`) other nodes can dial. */
  listen: string[];
  /** Peer ids of connected peers. */
  peers: string[];
  version: string;
  chain: {
    chainId: number;
    rpcUrl: string;
    /** The wallet's native balance in wei, as a decimal string. */
    balance: string;
  };
}

export interface KosmosFacade {
  getNodeInfo(options?: { signal?: AbortSignal }): Promise<NodeInfo>;
}
