/**
 * The HTTP API contract: the views the routes answer with, and `KosmosApi`, the one object
 * through which the web layer (API routes and pages) reaches the node. `web/` imports this
 * and never `node/`; `node/api/` implements it over the services.
 *
 * Domain failures cross it as errors whose `name` the web layer's error table maps to a
 * status: `TypeError`/`RangeError` (bad input), `NotFoundError`, `DatasetFormatError` (a file
 * that is not what it claims), `FetchError`, and the others listed in `web/http_error.ts`.
 */

import type { AnalyticsApi } from "./analytics.ts";
import type { ChainApi } from "./chain.ts";
import type { ConsentsApi } from "./consents.ts";
import type { DatasetsApi } from "./datasets.ts";
import type { EarningsApi } from "./earnings.ts";
import type { FaucetApi } from "./faucet.ts";
import type { FeesApi } from "./fees.ts";
import type { MarketApi } from "./market.ts";
import type { MyDataApi } from "./my_data.ts";
import type { NodeApi } from "./node.ts";
import type { ImportsApi } from "./imports.ts";
import type { PoolsApi } from "./pools.ts";
import type { SitesApi } from "./sites.ts";
import type { SourcesApi } from "./sources.ts";
import type { StatsApi } from "./stats.ts";
import type { ExtensionApi } from "./extension.ts";
import type { GatewayApi } from "./gateway.ts";
import type { StreamsApi } from "./streams.ts";
import type { AnchorApi } from "./anchor.ts";
import type { IpfsApi } from "./ipfs.ts";

export type * from "./analytics.ts";
export type * from "./chain.ts";
export type * from "./consents.ts";
export type * from "./datasets.ts";
export type * from "./earnings.ts";
export type * from "./faucet.ts";
export type * from "./fees.ts";
export type * from "./imports.ts";
export type * from "./market.ts";
export type * from "./my_data.ts";
export type * from "./node.ts";
export type * from "./pools.ts";
export type * from "./sites.ts";
export type * from "./sources.ts";
export type * from "./stats.ts";
export type * from "./extension.ts";
export type * from "./gateway.ts";
export type * from "./streams.ts";
export type * from "./anchor.ts";
export type * from "./ipfs.ts";
export { RELEASE_DIMENSION_OPTIONS } from "./analytics.ts";

export type KosmosApi =
  & NodeApi
  & DatasetsApi
  & MarketApi
  & ChainApi
  & FeesApi
  & FaucetApi
  & SitesApi
  & AnalyticsApi
  & ImportsApi
  & StatsApi
  & MyDataApi
  & SourcesApi
  & ConsentsApi
  & EarningsApi
  & ExtensionApi
  & GatewayApi
  & StreamsApi
  & AnchorApi
  & IpfsApi
  & PoolsApi;
