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
import { VERSION } from "./constants.ts";
import { type Database, openDatabase } from "./services/db/mod.ts";
import { type Identity, loadIdentity } from "./services/identity/mod.ts";
import { type ChainService, createChain } from "./services/chain/mod.ts";
import { createP2P, type P2P } from "./services/p2p/mod.ts";
import type { KosmosFacade, NodeInfo } from "../web/facade.ts";
import { createApp } from "../web/app.ts";

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
}

export interface KosmosNode {
  readonly config: NodeConfig;
  readonly components: NodeComponents;
  readonly facade: KosmosFacade;
  /** `http://HOST:PORT` of the API and web UI, once started. */
  readonly url: string;
  readonly peerId: string;
  readonly address: `0x${string}`;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface CreateNodeOptions {
  /** A logger to use instead of one built from `config.logLevel`. */
  logger?: ComponentLogger;
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
  let db: Database;
  try {
    db = openDatabase(join(config.dataDir, "kosmos.db"));
  } catch (cause) {
    throw new ConfigError(`cannot open database in ${config.dataDir}: ${(cause as Error).message}`, { cause });
  }
  const chain = createChain({ identity, log: logger.forComponent("kosmos:chain") }, {
    dataDir: config.dataDir,
    rpcUrl: config.rpcUrl,
  });
  const p2p = createP2P({ identity, log: logger.forComponent("kosmos:p2p") }, {
    listen: config.listen,
    bootstrap: config.bootstrap,
  });
  const components: NodeComponents = { config, logger, db, identity, chain, p2p };
  return new Node(components);
}

class Node implements KosmosNode {
  readonly components: NodeComponents;
  readonly facade: KosmosFacade;
  #server?: Deno.HttpServer<Deno.NetAddr>;
  #started: Service[] = [];
  #url = "";

  constructor(components: NodeComponents) {
    this.components = components;
    this.facade = createFacade(components);
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

  async start(): Promise<void> {
    const { chain, p2p, config, logger } = this.components;
    const log = logger.forComponent("kosmos:node");
    const http: Service = {
      start: async () => {
        const app = await createApp(this.facade, { log: logger.forComponent("kosmos:http") });
        try {
          this.#server = Deno.serve({
            hostname: config.host,
            port: config.port,
            onListen: () => {},
          }, app.fetch);
        } catch (cause) {
          if (cause instanceof Deno.errors.AddrInUse) {
            throw new StartError(`port ${config.port} on ${config.host} is already in use (set --port)`, { cause });
          }
          throw new StartError(`cannot listen on ${config.host}:${config.port}: ${(cause as Error).message}`, { cause });
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
      for (const service of [chain, p2p, http]) {
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
    try {
      this.components.db.close();
    } catch { /* already closed */ }
  }
}

function createFacade(c: NodeComponents): KosmosFacade {
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
