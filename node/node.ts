/**
 * Composes a Kosmos node from one list of services ({@link nodeServices}) and
 * runs them: created and started in list order, stopped in reverse, closed
 * last. No global state and no work at import time; signal handling lives in
 * `main.ts`. The contract every entry follows is in `service.ts`; how to add
 * one is in `docs/add-a-service.md`.
 *
 * ```ts
 * const node = await createNode({ dataDir: "/tmp/k1", port: 0 });
 * await node.start();
 * console.log(node.url, node.peerId);
 * await node.stop();
 * ```
 */
import "./polyfills.ts";
import { join } from "node:path";
import type { KosmosApi } from "../protocol/api/mod.ts";
import { defaultConfig, type NodeConfig, validateConfig } from "./config.ts";
import { type ComponentLogger, createLogger } from "./log.ts";
import { ConfigError } from "./errors.ts";
import { loadApiToken } from "./api_token.ts";
import { type Composed, composeServices, type Service, ServiceGroup } from "./service.ts";
import { identity } from "./services/identity/mod.ts";
import { db } from "./services/db/mod.ts";
import { chain } from "./services/chain/mod.ts";
import { handshake, network } from "./services/network/mod.ts";
import { p2p } from "./services/p2p/mod.ts";
import { blocks } from "./services/blocks/mod.ts";
import { transfer, type TransferInit } from "./services/transfer/mod.ts";
import { fetches, type FetchesInit } from "./services/fetches/mod.ts";
import { replication, type ReplicationInit } from "./services/replication/mod.ts";
import { catalog, type CatalogInit } from "./services/catalog/mod.ts";
import { datasets } from "./services/datasets/mod.ts";
import { sites, type SitesInit } from "./services/sites/mod.ts";
import { delegation } from "./services/delegation/mod.ts";
import { market, type MarketInit } from "./services/market/mod.ts";
import { connectors, type ConnectorsInit } from "./services/connectors/mod.ts";
import { analytics, type AnalyticsServiceInit } from "./services/analytics/mod.ts";
import { releases, type ReleasesInit } from "./services/releases/mod.ts";
import { privacy, type PrivacyInit } from "./services/privacy/mod.ts";
import { consent } from "./services/consent/mod.ts";
import { rewards } from "./services/rewards/mod.ts";
import { ingest, type IngestInit } from "./services/ingest/mod.ts";
import { sources } from "./services/sources/mod.ts";
import { pools, type PoolsInit } from "./services/pools/mod.ts";
import { extension, type ExtensionInit } from "./services/extension/mod.ts";
import { streams, type StreamsInit } from "./services/streams/mod.ts";
import { anchor, type AnchorInit } from "./services/anchor/mod.ts";
import { facade } from "./api/mod.ts";
import { http, type HttpService } from "./http.ts";

export interface CreateNodeOptions {
  /** A logger to use instead of one built from `config.logLevel`. */
  logger?: ComponentLogger;
  /** Service settings that are not part of the config file (tests shorten intervals here). @default {} */
  services?: {
    transfer?: TransferInit;
    fetches?: FetchesInit;
    replication?: ReplicationInit;
    market?: MarketInit;
    connectors?: ConnectorsInit;
    /** Catalog limits (tests use a small `maxListings`). */
    catalog?: CatalogInit;
    ingest?: IngestInit;
    /** The analytics clock and retention batches (tests inject a clock and call `pruneRawEvents()`). */
    analytics?: AnalyticsServiceInit;
    /** Site proof lookups (tests shorten how long failures are cached). */
    sites?: Omit<SitesInit, "dataDir" | "proofOrigins">;
    /** Privacy budget of statistics releases (ε per site). */
    releases?: Omit<ReleasesInit, "reader">;
    /** ε budget of each source kind's aggregates, and the noise's random source. */
    privacy?: PrivacyInit;
    /** Pairing code lifetime and the extension routes' rate limits. */
    extension?: ExtensionInit;
    /** Pool timeouts (tests shorten how long a silent member is waited for). */
    pools?: PoolsInit;
    /** Stream epochs, live batching, subscriptions (tests use short intervals). */
    streams?: StreamsInit;
    /** Anchoring batches (tests use an interval of a second or two). */
    anchor?: AnchorInit;
  };
}

/** Every part of a node in dependency order: created and started in this order, stopped in reverse. */
export function nodeServices(o: CreateNodeOptions["services"] = {}) {
  return [
    identity(),
    db(),
    network(),
    chain(),
    p2p(),
    handshake(),
    blocks(),
    transfer(o.transfer),
    fetches(o.fetches),
    replication(o.replication),
    catalog(o.catalog),
    anchor(o.anchor),
    datasets(),
    sites(o.sites),
    delegation(),
    market(o.market),
    connectors(o.connectors),
    analytics(o.analytics),
    releases(o.releases),
    privacy(o.privacy),
    consent(),
    rewards(),
    ingest(o.ingest),
    sources(),
    pools(o.pools),
    extension(o.extension),
    streams(o.streams),
    facade(),
    http(),
  ] as const;
}

/** Everything services share: the base components and one entry per service, by name. */
export type NodeComponents = Composed<ReturnType<typeof nodeServices>>;

export interface KosmosNode {
  readonly config: NodeConfig;
  readonly components: NodeComponents;
  readonly facade: KosmosApi;
  /** `http://HOST:PORT` of the API and web UI, once started. */
  readonly url: string;
  readonly peerId: string;
  readonly address: `0x${string}`;
  /** The owner's API token (`<dataDir>/api-token`), sent as `Authorization: Bearer`. Never log it. */
  readonly apiToken: string;
  /** Checks the token and session cookies, and mints login links. */
  readonly auth: HttpService["auth"];
  /** A one-time link that logs a browser in (valid for 10 minutes), under a name the node answers to. */
  createLoginLink(): string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Builds a node from a (partial) config, filling in defaults and validating.
 * Opens the data dir, database and keys; network services start in `start()`.
 */
export async function createNode(
  partial: Partial<NodeConfig> = {},
  options: CreateNodeOptions = {},
): Promise<KosmosNode> {
  const config = validateConfig({ ...defaultConfig(), ...partial } as unknown as Record<string, unknown>);
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  await prepareDataDir(config.dataDir);
  const apiToken = await loadApiToken(config.dataDir);
  const { components, services } = await composeServices(
    { config, logger, apiToken },
    nodeServices(options.services),
  );
  return new Node(components, services);
}

class Node implements KosmosNode {
  readonly components: NodeComponents;
  readonly #services: ServiceGroup;

  constructor(components: NodeComponents, services: Service[]) {
    this.components = components;
    this.#services = new ServiceGroup(services, { log: components.logger.forComponent("kosmos:node") });
  }

  get config(): NodeConfig {
    return this.components.config;
  }
  get facade(): KosmosApi {
    return this.components.facade;
  }
  get apiToken(): string {
    return this.components.apiToken;
  }
  get auth(): HttpService["auth"] {
    return this.components.http.auth;
  }
  get url(): string {
    return this.components.http.url;
  }
  get peerId(): string {
    return this.components.identity.peerId.toString();
  }
  get address(): `0x${string}` {
    return this.components.identity.account.address;
  }

  createLoginLink(): string {
    return this.components.http.createLoginLink();
  }

  /** Starts every service in list order; if one fails, stops those that started, closes all, and rethrows. */
  async start(): Promise<void> {
    try {
      await this.#services.start();
    } catch (err) {
      this.#services.close();
      throw err;
    }
    this.components.logger.forComponent("kosmos:node").info("started node", {
      url: this.url,
      peerId: this.peerId,
      address: this.address,
    });
  }

  /** Stops the started services in reverse, then closes every service (database, workers). */
  async stop(): Promise<void> {
    await this.#services.stop();
    this.#services.close();
  }
}

async function prepareDataDir(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const probe = join(dir, `.write-test-${crypto.randomUUID()}`);
    await Deno.writeFile(probe, new Uint8Array(), { createNew: true });
    await Deno.remove(probe);
  } catch (cause) {
    throw new ConfigError(`data dir ${dir} is not writable: ${(cause as Error).message}`, { cause });
  }
}
