/**
 * The one typed facade through which the web layer (API routes and pages)
 * reaches the node. `web/` never imports `node/services/*`; the node builds an
 * object of this shape in `node/node.ts` and hands it to `createApp()`.
 */

import type { EventDropReason, EventPayload } from "../protocol/analytics.ts";

export type { EventDropReason, EventPayload } from "../protocol/analytics.ts";

/** Who sent an analytics event, as the HTTP layer saw the request. */
export interface EventClient {
  /** The socket's peer address ("" when unknown). */
  remoteAddress: string;
  /** `X-Forwarded-For`; the node trusts it only from its configured proxies. */
  forwardedFor?: string;
  userAgent: string;
  /** The request carried `DNT: 1` or `Sec-GPC: 1`. */
  optOut?: boolean;
}

/** What became of one analytics event. */
export interface RecordEventResult {
  /** Why it was not kept; absent when it was. */
  dropped?: EventDropReason;
  /** With `rate_limited`: seconds before the client should send again. */
  retryAfter?: number;
}

/** A website registered for analytics (`GET /api/v1/sites`). */
export interface SiteView {
  domain: string;
  /** The owner's wallet. */
  owner: string;
  /** The owner's node, where events are delivered. */
  peerId: string;
  /** X25519 public key (`0x` + 64 hex digits) to which proxies seal events. */
  encryptionKey: string;
  /** When the registration was signed, ms since the epoch. */
  registeredAt: number;
  /** "verified": the domain publishes this node's proof and the site is announced; "pending": not yet. */
  status: "pending" | "verified";
  /** Where the owner publishes the proof: `https://DOMAIN/.well-known/kosmos-site.json`. */
  proofUrl: string;
  /** The exact JSON document to publish there. */
  proof: string;
  /** When the node last looked for the proof, ms since the epoch. */
  checkedAt?: number;
  /** Why the last look did not find it. */
  proofError?: string;
  /** The node that holds the domain now, when it is another one. */
  heldBy?: { owner: string; peerId: string };
}

/** One analytics proxy of a site, as its owner's node counts it. */
export interface SiteProxyView {
  /** The proxy's peer id (it signed the batches). */
  peerId: string;
  /** Events it delivered (all days kept). */
  events: number;
  /** Events it delivered today (UTC), counted against its daily quota. */
  today: number;
  batches: number;
  /** Its batches this node refused. */
  refused: number;
  blocked: boolean;
  /** Last delivery or refusal, ms since the epoch. */
  lastAt?: number;
}

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
  status: "pending" | "replicated" | "under-replicated" | "fetching" | "unavailable" | "elsewhere";
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
  /** Active registry stake on the manifest CID, token base units (decimal string). */
  stake: string;
  /** Open registry challenges against it. */
  challenges: number;
  /** Its active registry listing ids (decimal), oldest first; empty when not staked. */
  onChain: string[];
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
  /** Sum of the open challenge stakes, in the token's smallest unit. */
  challenged: string;
  /** Challenged stake at which the arbiter may resolve at once, in the token's smallest unit. */
  threshold: string;
  /** Unix seconds from which the arbiter may resolve whatever the challenged stake. */
  reviewableAt: number;
  /** Whether the arbiter may resolve now (threshold reached or review period over). */
  resolvable: boolean;
  challenges: { challenger: `0x${string}`; amount: string }[];
}

/** Answer of a chain write: what changed and the transaction. */
export interface ChainWriteResult {
  txHash: `0x${string}`;
}

/** `POST /api/v2/query` answer (Plausible's Stats API v2 shape); see `node/services/analytics/query.ts`. */
export interface StatsResult {
  /** One row per group: metric values in the order asked, dimension values in the order asked. */
  results: { metrics: number[]; dimensions: string[] }[];
  meta: Record<string, unknown>;
  /** The query as it ran: defaults filled in, `date_range` resolved to two ISO 8601 UTC instants. */
  query: {
    site_id: string;
    date_range: [string, string];
    metrics: string[];
    dimensions: string[];
    filters: [string, string, string[]][];
    order_by: [string, "asc" | "desc"][];
    pagination: { limit: number; offset: number };
  };
}

/** A site with analytics events on this node (the Sites page). */
export interface AnalyticsSiteView {
  domain: string;
  /** Visitors and pageviews in the last 30 days, today included. */
  visitors: number;
  pageviews: number;
  /** Events ever recorded. */
  events: number;
  firstEventAt: number;
  lastEventAt: number;
}

/** A site's differential-privacy budget: ε in total, spent by releases, and left. */
export interface PrivacyBudgetView {
  total: number;
  spent: number;
  remaining: number;
}

/** A release of a site's statistics (`GET /api/v1/sites/:domain/releases`); never the table itself. */
export interface ReleaseView {
  id: string;
  /** `published`; `empty` when every row was suppressed; `failed` when publishing failed (ε spent in all three). */
  status: "pending" | "published" | "empty" | "failed";
  /** First and last day, `YYYY-MM-DD` (UTC). */
  from: string;
  to: string;
  /** The breakdown besides the day; `null` for one row per day. */
  dimension: string | null;
  epsilon: number;
  /** The minimum count asked for. */
  k: number;
  /** The least noisy visitor count of a released row (k, raised for open dimensions). */
  threshold: number;
  /** δ of the release; 0 for days alone and devices. */
  delta: number;
  /** Rows released and suppressed. */
  rows: number;
  suppressed: number;
  title: string;
  /** Token base units, decimal string. */
  price: string;
  licence: string;
  /** The dataset, once published. */
  manifestCid: string | null;
  createdAt: number;
  error: string | null;
}

/** `POST /api/v1/sites/:domain/releases`, already shaped by the route. */
export interface CreateReleaseInput {
  /** `YYYY-MM-DD`, UTC, first and last day included. */
  from: string;
  to: string;
  /** One of page, entry_page, source, device, browser, os. @default none: one row per day */
  dimension?: string | null;
  epsilon: number;
  /** @default 10 */
  k?: number;
  title: string;
  /** @default "" */
  description?: string;
  /** Token base units, decimal string. */
  price: string;
  licence: string;
}

/** `201` answer of `POST /api/v1/sites/:domain/releases`. */
export interface CreatedRelease {
  /** The listing id, which is the manifest CID. */
  id: string;
  manifestCid: string;
  release: ReleaseView;
  budget: PrivacyBudgetView;
}

/**
 * Status of a purchase (buyer) or a sale (seller), in the order of the honest
 * path: the buyer downloads and verifies the data before it confirms. A buyer
 * whose data does not verify disputes the sale ("disputed") until the arbiter
 * rules ("refunded" or "complete").
 */
export type PurchaseStatus =
  | "quoted"
  | "opened"
  | "revealed"
  | "downloading"
  | "verified"
  | "disputed"
  | "complete"
  | "refunded"
  | "failed";

/** A transaction a node sent for a purchase or sale. */
export interface MarketTxView {
  action: "open" | "reveal" | "confirm" | "complain" | "dispute" | "refund" | "finalize";
  txHash: `0x${string}`;
}

/** `GET /api/v1/purchases/:id`. Amounts in token base units, decimal strings. */
export interface PurchaseView {
  id: string;
  /** The catalog's listing id (the manifest CID). */
  listingId: string;
  /** The registry's listing id (decimal). */
  registryListingId: string;
  status: PurchaseStatus;
  progress: { chunksVerified: number; chunksTotal: number };
  price: string;
  seller: `0x${string}`;
  gateway: `0x${string}`;
  saleId: `0x${string}`;
  /** Usage rights bought: the licence, from the purchase on, with no end. */
  rights: { licence: string; from: number; until: null };
  txs: MarketTxView[];
  error?: string;
  /** True when this node disputed the sale; its evidence is at `GET /api/v1/purchases/:id/evidence`. */
  hasEvidence?: boolean;
  createdAt: number;
  updatedAt: number;
}

/** `GET /api/v1/sales`: a sale of this node's dataset. */
export interface SaleView {
  saleId: `0x${string}`;
  listingId: string;
  registryListingId: string;
  status: Exclude<PurchaseStatus, "verified" | "downloading">;
  price: string;
  buyer: `0x${string}`;
  /**
   * What the sale pays this node's wallet, in token wei: the seller's share
   * when it sells, plus the gateway's when it brokered the sale.
   */
  payout: string;
  rights: { licence: string; from: number; until: null };
  txs: MarketTxView[];
  error?: string;
  createdAt: number;
  updatedAt: number;
}

/** `POST /api/v1/listings/:id/delegates`: a node now selling one of this node's listings. */
export interface DelegateView {
  listingId: string;
  registryListingId: string;
  peerId: string;
  /** The delegate's wallet, approved on the escrow. */
  delegate: `0x${string}`;
  /** The approval transaction, when one was sent. */
  txHash?: `0x${string}`;
}

/** `GET /api/v1/listings/:id/quote`: what buying costs, before anything is signed. */
export interface QuotePreviewView {
  listingId: string;
  price: string;
  split: { seller: string; gateway: string; treasury: string };
  gas: { units: string; gasPrice: string; wei: string };
}

/** Formats of `GET /api/v1/purchases/:id/export` and of deliveries. */
export type ExportFormat = "csv" | "ndjson";

/** Where `POST /api/v1/purchases/:id/deliveries` sends a purchase's rows. */
export type DeliveryTargetInput =
  | { connector: "directory"; /** Absolute path. */ dir: string }
  | { connector: "webhook"; /** `http:` or `https:`. */ url: string };

/** `GET /api/v1/deliveries`: a purchase's rows delivered, in batches, to a connector. */
export interface DeliveryView {
  id: string;
  purchaseId: string;
  connector: DeliveryTargetInput["connector"];
  /** The directory, or the webhook URL without its query. */
  target: string;
  format: ExportFormat;
  status: "pending" | "delivered" | "failed";
  /** Tries made, over all batches. */
  attempts: number;
  lastError: string | null;
  /** Batches delivered. */
  batches: number;
  rows: number;
  createdAt: number;
  updatedAt: number;
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
  /**
   * Analytics ingestion (`POST /api/event`): checks one validated event and
   * queues it for its site's owner, or says why it was dropped. Never throws
   * for bad client input.
   */
  recordEvent(
    payload: EventPayload,
    client: EventClient,
    options?: { signal?: AbortSignal },
  ): Promise<RecordEventResult>;
  /**
   * Registers a website of this node's owner: answers with the proof to
   * publish at the domain; the site is announced once the domain serves it.
   * Throws `TypeError` for a bad domain.
   */
  registerSite(domain: string, options?: { signal?: AbortSignal }): Promise<SiteView>;
  /** Looks for a registered site's proof at its domain now. Throws `NotFoundError` when not registered here. */
  checkSite(domain: string, options?: { signal?: AbortSignal }): Promise<SiteView>;
  /** Sites this node registered, pending and verified. */
  listSites(options?: { signal?: AbortSignal }): Promise<SiteView[]>;
  /** The proxies that delivered events of one of this node's sites. Throws `NotFoundError` for other sites. */
  listSiteProxies(domain: string, options?: { signal?: AbortSignal }): Promise<SiteProxyView[]>;
  /**
   * Refuses (`blocked: true`) or takes again a proxy's batches for one of this
   * node's sites. Throws `TypeError` for a bad peer id, `NotFoundError` for other sites.
   */
  setProxyBlocked(
    domain: string,
    peerId: string,
    blocked: boolean,
    options?: { signal?: AbortSignal },
  ): Promise<SiteProxyView[]>;
  /**
   * Analytics of sites this node owns or has events for. `queryStats` takes a
   * Plausible Stats API v2 body; it throws `TypeError` naming the bad field,
   * `NotFoundError` for a site this node neither owns nor has events for.
   */
  queryStats(query: unknown, options?: { signal?: AbortSignal }): Promise<StatsResult>;
  /** Distinct visitors of the last 5 minutes; throws like `queryStats`. */
  getRealtimeVisitors(domain: string, options?: { signal?: AbortSignal }): Promise<{ visitors: number }>;
  /** Sites with analytics events, most recently active first. */
  listAnalyticsSites(options?: { signal?: AbortSignal }): Promise<AnalyticsSiteView[]>;
  /**
   * Selling statistics of a site this node owns: computes a differentially private table,
   * charges its ε to the site's privacy budget, then publishes it as a dataset. Throws, with
   * nothing charged: `TypeError` naming a bad field, `NotFoundError` (not this node's site),
   * `PrivacyBudgetError`; with ε charged: `EmptyReleaseError` (every row suppressed), or the
   * publish path's errors.
   */
  createRelease(
    domain: string,
    input: CreateReleaseInput,
    options?: { signal?: AbortSignal },
  ): Promise<CreatedRelease>;
  /** A site's privacy budget and releases, newest first; throws like `createRelease`. */
  listReleases(
    domain: string,
    options?: { signal?: AbortSignal },
  ): Promise<{ budget: PrivacyBudgetView; releases: ReleaseView[] }>;
  /**
   * Buying. `buyListing` quotes and starts the key sale (a listing already bought returns its
   * purchase). Failures: `QuoteError`, `SaleProtocolError` (no valid quote), `NotFoundError`,
   * `PurchaseNotReadyError` (data of a purchase not complete).
   */
  buyListing(listingId: string, options?: { signal?: AbortSignal }): Promise<PurchaseView>;
  getPurchase(id: string, options?: { signal?: AbortSignal }): Promise<PurchaseView>;
  /**
   * The bad-data evidence of a disputed purchase: the JSON text the dispute committed to and its
   * keccak256. It holds the sale key: owner only. `NotFoundError` when the purchase has none.
   */
  getPurchaseEvidence(
    id: string,
    options?: { signal?: AbortSignal },
  ): Promise<{ evidence: string; evidenceHash: `0x${string}` }>;
  listPurchases(options?: { signal?: AbortSignal }): Promise<PurchaseView[]>;
  listSales(options?: { signal?: AbortSignal }): Promise<SaleView[]>;
  /** The verified plaintext of a complete purchase. */
  readPurchaseData(
    id: string,
    options?: { signal?: AbortSignal },
  ): Promise<
    { stream: ReadableStream<Uint8Array>; contentType: string; filename?: string; byteLength: number }
  >;
  previewQuote(listingId: string, options?: { signal?: AbortSignal }): Promise<QuotePreviewView>;
  /**
   * Lets another node quote and reveal keys for one of this node's listings while it is offline.
   * Throws `TypeError` (bad peer id), `NotFoundError` (not this node's listing), `DelegationError`.
   */
  delegateSales(
    listingId: string,
    params: { peerId: string },
    options?: { signal?: AbortSignal },
  ): Promise<DelegateView>;
  /** The rows of a complete purchase re-encoded as CSV or NDJSON, streamed; throws like `readPurchaseData`. */
  exportPurchase(
    id: string,
    params: { format: ExportFormat },
    options?: { signal?: AbortSignal },
  ): Promise<{ stream: ReadableStream<Uint8Array>; contentType: string; filename: string }>;
  /**
   * Starts delivering a complete purchase's rows to a connector in the background.
   * Throws `TypeError` for a bad target, and like `readPurchaseData`.
   */
  startDelivery(
    purchaseId: string,
    params: DeliveryTargetInput & { format?: ExportFormat },
    options?: { signal?: AbortSignal },
  ): Promise<DeliveryView>;
  /** Every delivery, newest first. */
  listDeliveries(options?: { signal?: AbortSignal }): Promise<DeliveryView[]>;
  /** Resolves a listing's challenges; arbiter only. `valid: false` removes the listing. */
  resolveChallenge(
    listingId: bigint,
    params: { valid: boolean },
    options?: { signal?: AbortSignal },
  ): Promise<
    ChainWriteResult & { valid: boolean; toChallengers: string; toOwner: string; toTreasury: string }
  >;
}
