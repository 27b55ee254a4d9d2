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
  /** Connected peers, each `direct` or reached through a circuit relay (`direct: false`). */
  connections: { peerId: string; direct: boolean }[];
  /** How other nodes reach this one (`--announce`, `--relay`, AutoNAT, circuit relay). */
  reachability: {
    /**
     * `public`: a public address is confirmed (by AutoNAT, or announced); `private`: others
     * reach it only through a relay or from its own network; `unknown`: not confirmed yet.
     */
    status: "public" | "private" | "unknown";
    /** Confirmed public addresses. */
    publicAddresses: string[];
    /** Addresses through relays that hold a reservation for this node. */
    relayAddresses: string[];
    /** Whether this node relays for nodes behind NAT. */
    relaying: boolean;
  };
  version: string;
  chain: {
    chainId: number;
    rpcUrl: string;
    /** The wallet's native balance in wei, as a decimal string. */
    balance: string;
  };
  /** The network this node is on, and connected peers found on another one (never traded with). */
  network?: NetworkView;
}

/** `NodeInfo.network` */
export interface NetworkView {
  /** `local` (the embedded chain), `devnet`, a profile's name, or `rpc` (`--rpc-url` alone). */
  name: string;
  chainId: number;
  /** `null` on a chain without Kosmos contracts. */
  registry: string | null;
  /** What every gossip topic and protocol id starts with. */
  protocolPrefix: string;
  /** A development network (test ether, faucet). */
  dev: boolean;
  /** The bootstrap peer whose network this node joined, if it joined one. */
  joinedFrom: string | null;
  /** Peers that said they are on another network, with that network. */
  foreignPeers: { peerId: string; name: string; chainId: number; registry: string | null }[];
}

export interface NodeApi {
  getNodeInfo(options?: { signal?: AbortSignal }): Promise<NodeInfo>;
}
