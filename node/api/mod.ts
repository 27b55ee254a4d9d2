/**
 * Implements the HTTP API contract ({@link KosmosApi}, `protocol/api/`) over the node's
 * services. Each area file maps service records to the contract's views; validation of
 * domain input happens in the services, HTTP concerns in `web/`. Only this folder sees both
 * the services and the API's view types.
 *
 * ```ts
 * const api = createApi(node.components);
 * const { peerId } = await api.getNodeInfo();
 * ```
 */
import type { KosmosApi } from "../../protocol/api/mod.ts";
import { defineService } from "../service.ts";
import type { BlockStore } from "../services/blocks/mod.ts";
import type { Catalog } from "../services/catalog/mod.ts";
import type { ChainService } from "../services/chain/mod.ts";
import type { Consents } from "../services/consent/mod.ts";
import type { Handshake, NetworkService } from "../services/network/mod.ts";
import type { Connectors } from "../services/connectors/mod.ts";
import type { Datasets } from "../services/datasets/mod.ts";
import type { Delegation } from "../services/delegation/mod.ts";
import type { Fetches } from "../services/fetches/mod.ts";
import type { Identity } from "../services/identity/mod.ts";
import type { Ingest } from "../services/ingest/mod.ts";
import type { Market } from "../services/market/mod.ts";
import type { P2P } from "../services/p2p/mod.ts";
import type { Analytics } from "../services/analytics/mod.ts";
import type { Releases } from "../services/releases/mod.ts";
import type { Replication } from "../services/replication/mod.ts";
import type { Sites } from "../services/sites/mod.ts";
import type { Sources } from "../services/sources/mod.ts";
import type { Pools } from "../services/pools/mod.ts";
import type { Rewards } from "../services/rewards/mod.ts";
import type { Extension } from "../services/extension/mod.ts";
import type { Streams } from "../services/streams/mod.ts";
import type { Anchor } from "../services/anchor/mod.ts";
import { createAnalyticsApi } from "./analytics.ts";
import { createStatsApi } from "./stats.ts";
import { createImportsApi } from "./imports.ts";
import { createChainApi } from "./chain.ts";
import { createConsentsApi } from "./consents.ts";
import { createDatasetsApi } from "./datasets.ts";
import { createFaucetApi } from "./faucet.ts";
import { createFeesApi } from "./fees.ts";
import { createMarketApi } from "./market.ts";
import { createMyDataApi } from "./my_data.ts";
import { createNodeApi } from "./node.ts";
import { createSitesApi } from "./sites.ts";
import { createSourcesApi } from "./sources.ts";
import { createPoolsApi } from "./pools.ts";
import { createEarningsApi } from "./earnings.ts";
import { createExtensionApi } from "./extension.ts";
import { createGatewayApi } from "./gateway.ts";
import { createStreamsApi } from "./streams.ts";
import { createAnchorApi } from "./anchor.ts";
import { createIpfsApi } from "./ipfs.ts";

export type { KosmosApi } from "../../protocol/api/mod.ts";

/** The services the API reads. */
export interface ApiComponents {
  identity: Identity;
  network: NetworkService;
  handshake: Handshake;
  chain: ChainService;
  p2p: P2P;
  blocks: BlockStore;
  fetches: Fetches;
  replication: Replication;
  catalog: Catalog;
  datasets: Datasets;
  sites: Sites;
  delegation: Delegation;
  market: Market;
  connectors: Connectors;
  analytics: Analytics;
  releases: Releases;
  ingest: Ingest;
  consent: Consents;
  sources: Sources;
  pools: Pools;
  rewards: Rewards;
  extension: Extension;
  /** The streams service: its gateway, streams and subscriptions. */
  streams: Streams;
  /** Anchoring proofs. */
  anchor: Anchor;
  /** The config fields the API reads: the trusted proxies (the IPFS gateway's rate limit). */
  config: { trustedProxies: string[] };
}

const NEEDS = [
  "identity",
  "network",
  "handshake",
  "chain",
  "p2p",
  "blocks",
  "fetches",
  "replication",
  "catalog",
  "datasets",
  "sites",
  "delegation",
  "market",
  "connectors",
  "analytics",
  "releases",
  "ingest",
  "consent",
  "sources",
  "pools",
  "rewards",
  "extension",
  "streams",
  "anchor",
  "config",
] as const satisfies readonly (keyof ApiComponents)[];

export function createApi(c: ApiComponents): KosmosApi {
  return {
    ...createNodeApi(c),
    ...createDatasetsApi(c),
    ...createMarketApi(c),
    ...createChainApi(c),
    ...createFeesApi(c),
    ...createFaucetApi(c),
    ...createSitesApi(c),
    ...createAnalyticsApi(c),
    ...createStatsApi(c),
    ...createImportsApi(c),
    ...createMyDataApi(c),
    ...createConsentsApi(c),
    ...createSourcesApi(c),
    ...createPoolsApi(c),
    ...createEarningsApi(c),
    ...createExtensionApi(c),
    ...createGatewayApi(c),
    ...createStreamsApi(c),
    ...createAnchorApi(c),
    ...createIpfsApi(c),
  };
}

/** The `facade` component: the API over the services, which the `http` service serves. */
export function facade() {
  return defineService("facade", NEEDS, (c: ApiComponents) => createApi(c));
}
