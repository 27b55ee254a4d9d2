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

/** The fields of `POST /api/v1/datasets` besides the file, already validated by the route. */
export interface PublishDatasetFields {
  title: string;
  /** @default "" */
  description?: string;
  /** One of the protocol's categories. */
  category: string;
  /** Price in token base units, as a decimal string. */
  price: string;
  /** Licence id, e.g. `"kosmos-research-1"` or `"CC-BY-4.0"`. */
  license: string;
  /** Gateway operator credited with 10 % of sales. @default this node's wallet */
  gateway?: string;
  /** The uploaded file's name; used to detect the format. */
  filename?: string;
  /** The uploaded file's media type; used to detect the format. */
  contentType?: string;
}

/** `201` answer of `POST /api/v1/datasets`. */
export interface PublishedDataset {
  /** The listing id, which is the manifest CID. */
  id: string;
  manifestCid: string;
}

/** `GET /api/v1/listings` query. */
export interface ListingsQuery {
  q?: string;
  category?: string;
  /** @default "relevance" with `q`, else "newest" */
  sort?: "newest" | "price" | "stake" | "relevance";
  /** @default 20 */
  limit?: number;
  /** @default 0 */
  offset?: number;
}

/** How well a dataset is replicated, as this node last counted. */
export interface ListingReplication {
  target: number;
  /** Live providers at the last count, this node included when it holds the dataset. */
  providers: string[];
  /** Whether this node holds the whole dataset. */
  local: boolean;
  status: "pending" | "replicated" | "under-replicated" | "fetching" | "unavailable";
  /** ms since the epoch of the last count; 0 before the first. */
  checkedAt: number;
}

/** A catalog listing. */
export interface ListingView {
  id: string;
  manifestCid: string;
  title: string;
  description: string;
  category: string;
  /** Token base units, decimal string. */
  price: string;
  seller: `0x${string}`;
  gateway: `0x${string}`;
  byteLength: number;
  rowCount: number;
  chunkCount: number;
  schema: { name: string; type: string }[];
  /** A few rows, identifying columns masked. */
  preview: (string | number | boolean | null)[][];
  licence: string;
  /** Peer ids known to hold the chunks. */
  providers: string[];
  createdAt: number;
  announcedAt: number;
  /** Registry stake, token base units. */
  stake: string;
  /** This node's replication count for the dataset; `null` when it neither holds nor watches it. */
  replication: ListingReplication | null;
}

/** `GET /api/v1/listings` answer. */
export interface ListingsPage {
  listings: ListingView[];
  /** Matches ignoring `limit` and `offset`. */
  total: number;
}

/** Manifest facts beyond the announcement, when this node holds the manifest. */
export interface ManifestSummary {
  format: string;
  contentType: string;
  filename?: string;
  chunkSize: number;
  merkleRoot: string;
  dekCommit: string;
  timeRange?: { from?: number; to?: number };
  privacy: { k?: number; epsilon?: number };
}

/** `GET /api/v1/listings/:id` answer. */
export interface ListingDetail extends ListingView {
  /** `null` until this node holds the manifest. */
  manifest: ManifestSummary | null;
  /** This node's fetch of the dataset, if it started one. */
  fetch: FetchView | null;
}

/** Progress of a fetch, `GET /api/v1/fetches/:cid`. */
export interface FetchView {
  manifestCid: string;
  status: "queued" | "running" | "complete" | "failed";
  chunksVerified: number;
  chunksTotal: number;
  /** Ciphertext bytes verified and stored. */
  bytes: number;
  /** Peers that served verified chunks. */
  providers: string[];
  /** Why it failed, when it did. */
  error?: string;
}

/** `GET /api/v1/chain` */
export interface ChainInfo {
  chainId: number;
  rpcUrl: string;
  /** The chain's latest block number. */
  block: number;
  /** `null` on a chain without the Kosmos contracts. */
  contracts: {
    token: `0x${string}`;
    registry: `0x${string}`;
    escrow: `0x${string}`;
    consent: `0x${string}`;
    rewards: `0x${string}`;
    anchor: `0x${string}`;
  } | null;
}

/** A registry listing owned by this node's wallet. Amounts in token base units, decimal strings. */
export interface StakeView {
  /** The registry's listing id (decimal). */
  listingId: string;
  manifestCid: string;
  kind: "dataset" | "stream";
  stake: string;
  /** Unix seconds from which the stake can be withdrawn; `null` when no withdrawal was requested. */
  withdrawableAt: number | null;
  challengeCount: number;
}

/** `GET /api/v1/wallet`. Amounts in base units (wei, token base units), decimal strings. */
export interface WalletView {
  address: `0x${string}`;
  chainId: number;
  /** Whether this node's wallet resolves the registry's challenges. */
  arbiter: boolean;
  /** False on a chain without the Kosmos contracts (token figures are then "0"). */
  contracts: boolean;
  balances: { eth: string; token: string };
  /** Earnings from completed sales, withdrawable now. */
  payouts: string;
  stakes: StakeView[];
}

/** A listing with open challenges, `GET /api/v1/challenges`. */
export interface ChallengeView {
  listingId: string;
  manifestCid: string;
  owner: `0x${string}`;
  stake: string;
  challengeCount: number;
  /** Open challenges needed before the arbiter may resolve. */
  threshold: number;
  challenges: { challenger: `0x${string}`; amount: string }[];
}

/** Answer of a chain write: what changed and the transaction. */
export interface ChainWriteResult {
  txHash: `0x${string}`;
}

/**
 * Domain failures cross the facade as errors whose `name` the web layer maps
 * to a status: `TypeError`/`RangeError` (bad input), `NotFoundError`,
 * `DatasetFormatError` (a file that is not what it claims), `FetchError`.
 */
export interface KosmosFacade {
  getNodeInfo(options?: { signal?: AbortSignal }): Promise<NodeInfo>;
  /**
   * Encrypts `stream` into the block store, signs and gossips its
   * announcement, and provides it in the DHT. Streams: memory stays bounded
   * whatever the size. Nothing is kept when it fails.
   */
  publishDataset(
    stream: ReadableStream<Uint8Array>,
    fields: PublishDatasetFields,
    options?: { signal?: AbortSignal },
  ): Promise<PublishedDataset>;
  listListings(query?: ListingsQuery, options?: { signal?: AbortSignal }): Promise<ListingsPage>;
  getListing(id: string, options?: { signal?: AbortSignal }): Promise<ListingDetail>;
  /** Starts (or returns) the fetch of a dataset by its manifest CID. */
  startFetch(manifestCid: string, options?: { signal?: AbortSignal }): Promise<FetchView>;
  /** Throws `NotFoundError` when this node never started fetching it. */
  getFetch(manifestCid: string, options?: { signal?: AbortSignal }): Promise<FetchView>;
  /**
   * Chain and wallet. Failures: `ChainUnavailableError` (no contracts, RPC down),
   * `ContractRevertError` (its `revert` is the contract's custom error name),
   * `NotArbiterError`.
   */
  getChainInfo(options?: { signal?: AbortSignal }): Promise<ChainInfo>;
  /** Whether this node's wallet is the registry's arbiter (false without contracts). */
  isArbiter(options?: { signal?: AbortSignal }): Promise<boolean>;
  getWallet(options?: { signal?: AbortSignal }): Promise<WalletView>;
  /** Withdraws every payout the escrow holds for this node. */
  withdrawPayouts(options?: { signal?: AbortSignal }): Promise<ChainWriteResult & { amount: string }>;
  /** Lists `manifestCid` with `amount` tokens, or adds them to this node's listing of it. */
  stakeListing(
    params: { manifestCid: string; amount: bigint },
    options?: { signal?: AbortSignal },
  ): Promise<ChainWriteResult & { listingId: string; stake: string; created: boolean }>;
  /** Requests the withdrawal of a stake, or withdraws it once the delay is over. */
  withdrawStake(
    listingId: bigint,
    options?: { signal?: AbortSignal },
  ): Promise<
    ChainWriteResult & { status: "requested" | "withdrawn"; withdrawableAt?: number; amount?: string }
  >;
  challengeListing(
    params: { listingId: bigint; amount: bigint },
    options?: { signal?: AbortSignal },
  ): Promise<ChainWriteResult & { listingId: string; challengeCount: number }>;
  /** Listings with open challenges. */
  listChallenges(options?: { signal?: AbortSignal }): Promise<ChallengeView[]>;
  /** Resolves a listing's challenges; arbiter only. `valid: false` removes the listing. */
  resolveChallenge(
    listingId: bigint,
    params: { valid: boolean },
    options?: { signal?: AbortSignal },
  ): Promise<
    ChainWriteResult & { valid: boolean; toChallengers: string; toOwner: string; toTreasury: string }
  >;
}
