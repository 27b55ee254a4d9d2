/**
 * Composes a Kosmos node from its services and runs them: started in order,
 * stopped in reverse. No global state and no work at import time; signal
 * handling lives in `main.ts`.
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
import { defaultConfig, type NodeConfig, validateConfig } from "./config.ts";
import { type ComponentLogger, createLogger } from "./log.ts";
import { ConfigError, StartError } from "./errors.ts";
import { type Database, openDatabase } from "./services/db/mod.ts";
import { type Identity, loadIdentity } from "./services/identity/mod.ts";
import { type ChainService, createChain, type StakesDetail } from "./services/chain/mod.ts";
import { createP2P, type P2P } from "./services/p2p/mod.ts";
import { type BlockStore, openBlockStore } from "./services/blocks/mod.ts";
import {
  createFetches,
  createTransfer,
  type Fetches,
  type FetchesInit,
  type Transfer,
  type TransferInit,
} from "./services/transfer/mod.ts";
import { createReplication, type Replication, type ReplicationInit } from "./services/replication/mod.ts";
import {
  type Catalog,
  type CatalogInit,
  createCatalog,
  type ListingIndexedDetail,
} from "./services/catalog/mod.ts";
import { createDatasets, type Datasets } from "./services/datasets/mod.ts";
import { createMarket, type Market, type MarketInit } from "./services/market/mod.ts";
import { createDelegation, type Delegation } from "./services/market/delegate.ts";
import { type Connectors, type ConnectorsInit, createConnectors } from "./services/connectors/mod.ts";
import { createSites, type Sites, type SitesInit } from "./services/sites/mod.ts";
import { createIngest, type Ingest, type IngestInit } from "./services/ingest/mod.ts";
import {
  type Analytics,
  createAnalytics,
  createReleases,
  EventsReader,
  type Releases,
  type ReleasesInit,
} from "./services/analytics/mod.ts";
import type { KosmosFacade } from "../web/facade.ts";
import { createFacade } from "./facade.ts";
import { createApp } from "../web/app.ts";
import { type ApiAuth, createApiAuth } from "../web/auth.ts";
import { LOOPBACK_HOSTS } from "../web/request_guard.ts";
import { loadApiToken } from "./api_token.ts";

/** A started service; `stop()` undoes `start()`. */
interface Service {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Everything services share; built once in {@link createNode}. */
export interface NodeComponents {
  config: NodeConfig;
  logger: ComponentLogger;
  db: Database;
  identity: Identity;
  chain: ChainService;
  p2p: P2P;
  blocks: BlockStore;
  transfer: Transfer;
  fetches: Fetches;
  replication: Replication;
  catalog: Catalog;
  datasets: Datasets;
  market: Market;
  delegation: Delegation;
  connectors: Connectors;
  sites: Sites;
  ingest: Ingest;
  analytics: Analytics;
  releases: Releases;
  /** The worker that reads whole ranges of analytics events. */
  eventsReader: EventsReader;
}

export interface KosmosNode {
  readonly config: NodeConfig;
  readonly components: NodeComponents;
  readonly facade: KosmosFacade;
  /** `http://HOST:PORT` of the API and web UI, once started. */
  readonly url: string;
  readonly peerId: string;
  readonly address: `0x${string}`;
  /** The owner's API token (`<dataDir>/api-token`), sent as `Authorization: Bearer`. Never log it. */
  readonly apiToken: string;
  /** Checks the token and session cookies, and mints login links. */
  readonly auth: ApiAuth;
  /** A one-time link that logs a browser in (valid for 10 minutes), under a name the node answers to. */
  createLoginLink(): string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

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
    /** Site proof lookups (tests shorten how long failures are cached). */
    sites?: Omit<SitesInit, "dataDir" | "proofOrigins">;
    /** Privacy budget of statistics releases (ε per site). */
    releases?: ReleasesInit;
  };
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
  const identity = await loadIdentity(config.dataDir);
  const apiToken = await loadApiToken(config.dataDir);
  let db: Database;
  try {
    db = openDatabase(join(config.dataDir, "kosmos.db"));
  } catch (cause) {
    throw new ConfigError(`cannot open database in ${config.dataDir}: ${(cause as Error).message}`, {
      cause,
    });
  }
  const chain = createChain({ identity, db, log: logger.forComponent("kosmos:chain") }, {
    dataDir: config.dataDir,
    rpcUrl: config.rpcUrl,
  });
  const p2p = createP2P({ identity, log: logger.forComponent("kosmos:p2p") }, {
    listen: config.listen,
    bootstrap: config.bootstrap,
  });
  const blocks = await openBlockStore(config.dataDir, { log: logger.forComponent("kosmos:blocks") });
  const transfer = createTransfer(
    { p2p, blocks, log: logger.forComponent("kosmos:transfer") },
    options.services?.transfer,
  );
  const fetches = createFetches(
    { db, blocks, p2p, transfer, log: logger.forComponent("kosmos:fetches") },
    options.services?.fetches,
  );
  const replication = createReplication(
    {
      db,
      blocks,
      p2p,
      transfer,
      fetches,
      log: logger.forComponent("kosmos:replication"),
      quotaGB: config.storage.quotaGB,
    },
    options.services?.replication,
  );
  const catalog = createCatalog(
    { db, identity, p2p, log: logger.forComponent("kosmos:catalog") },
    options.services?.catalog,
  );
  const log = logger.forComponent("kosmos:node");
  // Every listing this node indexes (gossip, sync or its own) it helps keep at its replication target.
  catalog.addEventListener("listing", (e) => {
    const { manifestCid } = (e as CustomEvent<ListingIndexedDetail>).detail;
    try {
      replication.watch(manifestCid);
    } catch (err) {
      log.warn("failed to watch dataset", { manifestCid, error: err });
    }
  });
  // Listings show the registry's stake and challenges as the chain index learns them.
  chain.addEventListener("stakes", (e) => {
    const { stakes, replace } = (e as CustomEvent<StakesDetail>).detail;
    try {
      catalog.setStakes(stakes, { replace });
    } catch (err) {
      log.warn("failed to record listing stakes", { count: stakes.length, error: err });
    }
  });
  const datasets = createDatasets({
    db,
    blocks,
    identity,
    p2p,
    catalog,
    replication,
    log: logger.forComponent("kosmos:datasets"),
  });
  const delegation = createDelegation({
    db,
    identity,
    p2p,
    chain,
    datasets,
    blocks,
    transfer,
    log: logger.forComponent("kosmos:delegate"),
    encryptionKey: () => sites.encryptionKey,
  });
  const market = createMarket({
    db,
    identity,
    p2p,
    chain,
    catalog,
    datasets,
    blocks,
    transfer,
    fetches,
    log: logger.forComponent("kosmos:market"),
    delegation,
  }, options.services?.market);
  const connectors = createConnectors(
    { db, market, log: logger.forComponent("kosmos:connectors") },
    {
      deliveriesDir: join(config.dataDir, "deliveries"),
      directoryAllow: config.deliveryDirectoryAllow,
      webhookAllow: config.deliveryWebhookAllow,
      ...options.services?.connectors,
    },
  );
  const sites = createSites({ db, identity, p2p, log: logger.forComponent("kosmos:sites") }, {
    ...options.services?.sites,
    dataDir: config.dataDir,
    proofOrigins: config.siteProofOrigins,
  });
  // Reads of every event in a range (some stats queries, release tables) run
  // on one worker with its own read-only connection, off the event loop.
  const eventsReader = new EventsReader(join(config.dataDir, "kosmos.db"));
  const analytics = createAnalytics({ db, log: logger.forComponent("kosmos:analytics") }, {
    reader: eventsReader,
    isOwnedSite: (domain) => {
      const site = sites.getSite(domain);
      return site !== undefined && sites.isOwnSite(site);
    },
  });
  const releases = createReleases({
    db,
    datasets,
    isOwnedSite: (domain) => {
      const site = sites.getSite(domain);
      return site !== undefined && sites.isOwnSite(site);
    },
    log: logger.forComponent("kosmos:releases"),
  }, { reader: eventsReader, ...options.services?.releases });
  const ingest = createIngest({
    db,
    p2p,
    blocks,
    transfer,
    quotaGB: config.storage.quotaGB,
    sites,
    identity,
    recordEvents: (site, events, options) => analytics.recordEvents(site, events, options),
    trustedProxies: config.trustedProxies,
    log: logger.forComponent("kosmos:ingest"),
  }, { proxyEventQuota: config.proxyEventQuota, ...options.services?.ingest });
  const components: NodeComponents = {
    config,
    logger,
    db,
    identity,
    chain,
    p2p,
    blocks,
    transfer,
    fetches,
    replication,
    catalog,
    datasets,
    market,
    delegation,
    connectors,
    sites,
    ingest,
    analytics,
    releases,
    eventsReader,
  };
  return new Node(components, apiToken);
}

class Node implements KosmosNode {
  readonly components: NodeComponents;
  readonly facade: KosmosFacade;
  readonly apiToken: string;
  readonly auth: ApiAuth;
  #server?: Deno.HttpServer<Deno.NetAddr>;
  #started: Service[] = [];
  #url = "";

  constructor(components: NodeComponents, apiToken: string) {
    this.components = components;
    this.facade = createFacade(components);
    this.apiToken = apiToken;
    this.auth = createApiAuth(apiToken);
  }

  get config() {
    return this.components.config;
  }
  get url() {
    return this.#url;
  }
  get peerId() {
    return this.components.identity.peerId.toString();
  }
  get address() {
    return this.components.identity.account.address;
  }

  createLoginLink(): string {
    if (!this.#server) throw new Error("The node is not started, so it has no login link");
    const { host, publicName } = this.config;
    const port = this.#server.addr.port;
    // A wildcard listener is reached on 127.0.0.1, a loopback one on its own address, any other by
    // the first public name (or the address) it answers to.
    const name = isWildcard(host) ? "127.0.0.1" : isLoopback(host) ? host : publicName[0] ?? host;
    return this.auth.createLoginLink(`http://${name.includes(":") ? `[${name}]` : name}:${port}`).url;
  }

  async start(): Promise<void> {
    const { chain, p2p, transfer, fetches, replication, catalog, datasets, market, config, logger } =
      this.components;
    const { sites, ingest, connectors, delegation } = this.components;
    const log = logger.forComponent("kosmos:node");
    const http: Service = {
      start: async () => {
        const app = await createApp(this.facade, {
          auth: this.auth,
          log: logger.forComponent("kosmos:http"),
          // Any other name may be the attacker's, rebound to this node's address. An address it
          // listens on by number (a LAN address) is no name an attacker can rebind.
          allowedHosts: [
            ...LOOPBACK_HOSTS,
            ...config.publicName,
            ...(isLoopback(config.host) || isWildcard(config.host) ? [] : [config.host.toLowerCase()]),
          ],
        });
        try {
          this.#server = Deno.serve({
            hostname: config.host,
            port: config.port,
            onListen: () => {},
          }, app.fetch);
        } catch (cause) {
          if (cause instanceof Deno.errors.AddrInUse) {
            throw new StartError(`port ${config.port} on ${config.host} is already in use (set --port)`, {
              cause,
            });
          }
          throw new StartError(
            `cannot listen on ${config.host}:${config.port}: ${(cause as Error).message}`,
            { cause },
          );
        }
        const { hostname, port } = this.#server.addr;
        this.#url = `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
      },
      stop: async () => {
        await this.#server?.shutdown();
        this.#server = undefined;
      },
    };
    try {
      const data = [chain, p2p, transfer, fetches, replication, catalog, datasets, delegation, market];
      for (const service of [...data, connectors, sites, ingest, http]) {
        await service.start();
        this.#started.push(service);
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    log.info("started node", { url: this.#url, peerId: this.peerId, address: this.address });
  }

  async stop(): Promise<void> {
    const log = this.components.logger.forComponent("kosmos:node");
    for (const service of this.#started.reverse()) {
      try {
        await service.stop();
      } catch (err) {
        log.warn("failed to stop service", { error: err });
      }
    }
    this.#started = [];
    this.components.blocks.close(); // its worker thread; a later use starts one again
    this.components.eventsReader.close(); // its worker thread
    try {
      this.components.db.close();
    } catch { /* already closed */ }
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

/** Whether `host` means every interface. */
function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "[::]";
}

/** Whether `host` is a loopback address or name (127.0.0.0/8, ::1, localhost). */
function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
