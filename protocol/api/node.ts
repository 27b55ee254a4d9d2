/**
 * The HTTP API contract, the node itself: `GET /api/v1/node`.
 * Views are the JSON bodies the routes answer with; `NodeApi` is what the node implements.
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

export interface NodeApi {
  getNodeInfo(options?: { signal?: AbortSignal }): Promise<NodeInfo>;
}
