/**
 * Real Kosmos nodes on loopback sharing one anvil with our contracts deployed,
 * for tests that buy and sell: every node gets the contracts file, bootstraps
 * to up to three nodes already running, and (unless it reuses a data dir) is
 * funded from the dev faucet.
 *
 * ```ts
 * await using cluster = await startMarketCluster();
 * const seller = await cluster.start();
 * const buyer = await cluster.start({ config: { storage: { quotaGB: 0 } } });
 * ```
 */
import { lpStream } from "@libp2p/utils";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Hex } from "viem";
import { createNode, type CreateNodeOptions, type KosmosNode } from "../node/node.ts";
import type { NodeConfig } from "../node/config.ts";
import { type Anvil, startAnvil } from "../node/services/chain/anvil.ts";
import { type DevChain, setUpDevChain } from "../node/services/chain/dev_chain.ts";
import { getContractsPath, writeContractsFile } from "../node/services/chain/contracts.ts";
import { loadIdentity } from "../node/services/identity/mod.ts";
import { decodeSaleResponse, encodeSaleRequest, type SaleResponse } from "../node/services/market/mod.ts";
import { SALE_PROTOCOL } from "../protocol/topics.ts";
import { testLogger, waitFor } from "./helpers.ts";

export interface MarketCluster extends AsyncDisposable {
  anvil: Anvil;
  dev: DevChain;
  /** Starts one more node. */
  start(options?: StartMarketNodeOptions): Promise<KosmosNode>;
  /** Moves the chain's clock forward and mines a block. */
  increaseTime(seconds: number): Promise<void>;
}

export interface StartMarketNodeOptions {
  /** An existing data dir, to restart a node; such a node is not funded again. @default a fresh temp dir */
  dataDir?: string;
  /** Node settings over the defaults, e.g. `{ storage: { quotaGB: 0 } }` for a node that keeps no replicas. @default {} */
  config?: Partial<NodeConfig>;
  /** Whether the node's wallet gets a faucet drip. @default true for a fresh data dir, false for a reused one */
  fund?: boolean;
}

export interface StartMarketClusterOptions {
  /** Prefix of the nodes' temp data dirs. @default "kosmos-market-" */
  prefix?: string;
  /** Service settings every node gets, over `{ market: { tickInterval: 1000 } }`. @default {} */
  services?: CreateNodeOptions["services"];
  /**
   * A data dir whose wallet (made now when the dir is new) is the dev chain's arbiter and treasury, which on
   * dev chains is also the mining distributor; start its node with `start({ dataDir: roles, fund: true })`.
   * @default the deployer holds both roles
   */
  roles?: string;
}

export async function startMarketCluster(options: StartMarketClusterOptions = {}): Promise<MarketCluster> {
  const anvil = await startAnvil();
  let dev: DevChain;
  try {
    const roles = options.roles === undefined
      ? undefined
      : (await loadIdentity(options.roles)).account.address;
    dev = await setUpDevChain(anvil.rpcUrl, { arbiter: roles, treasury: roles });
  } catch (err) {
    await anvil.stop();
    throw err;
  }
  const services = { market: { tickInterval: 1000 }, ...options.services };
  const nodes: KosmosNode[] = [];
  const dirs = new Set<string>();
  const rpc = (method: string, params: unknown[]) =>
    fetch(anvil.rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    }).then((r) => r.json());
  return {
    anvil,
    dev,
    async start({ dataDir, config = {}, fund } = {}) {
      const fresh = dataDir === undefined;
      dataDir ??= await Deno.makeTempDir({ prefix: options.prefix ?? "kosmos-market-" });
      dirs.add(dataDir);
      await writeContractsFile(getContractsPath(dataDir), { chainId: 31337, contracts: dev.contracts });
      const live = nodes.flatMap((n) => {
        try {
          return n.components.p2p.libp2p.status === "started"
            ? n.components.p2p.listenAddresses().slice(0, 1)
            : [];
        } catch {
          return [];
        }
      });
      const node = await createNode({
        dataDir,
        port: 0,
        listen: ["/ip4/127.0.0.1/tcp/0"],
        bootstrap: live.slice(0, 3),
        rpcUrl: anvil.rpcUrl,
        ...config,
      }, { logger: testLogger(), services });
      await node.start();
      nodes.push(node);
      if (fund ?? fresh) await dev.fund(node.address);
      return node;
    },
    async increaseTime(seconds) {
      await rpc("evm_increaseTime", [seconds]);
      await rpc("evm_mine", []);
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
      await anvil.stop();
      await Promise.all([...dirs].map((d) => Deno.remove(d, { recursive: true }).catch(() => {})));
    },
  };
}

export interface ListForSaleOptions {
  /** @default "Sensor readings" */
  title?: string;
  /** Token base units. */
  price: bigint;
  /** @default "readings.csv" */
  filename?: string;
  /** @default the seller */
  gateway?: string;
  /** Nodes that must have the listing in their catalog before this resolves. @default [] */
  viewers?: KosmosNode[];
}

/** Publishes `data` on `seller`, stakes 100 KOS on the listing and waits until every viewer lists it. */
export async function listForSale(
  seller: KosmosNode,
  data: Uint8Array,
  options: ListForSaleOptions,
): Promise<{ manifestCid: string; listingId: bigint }> {
  const { manifestCid } = await seller.components.datasets.publishDataset(ReadableStream.from([data]), {
    title: options.title ?? "Sensor readings",
    category: "sensors",
    price: options.price,
    licence: "kosmos-research-1",
    filename: options.filename ?? "readings.csv",
    gateway: options.gateway ?? seller.address,
  });
  const { listingId } = await seller.facade.stakeListing({ manifestCid, amount: 100n * 10n ** 18n });
  for (const viewer of options.viewers ?? []) await waitForListing(viewer, manifestCid);
  return { manifestCid, listingId: BigInt(listingId) };
}

/** Resolves with `node`'s catalog entry for `manifestCid` once it has one. */
export function waitForListing(node: KosmosNode, manifestCid: string) {
  return waitFor("the listing to reach the buyer", () => {
    try {
      return node.components.catalog.getListing(manifestCid);
    } catch {
      return undefined;
    }
  });
}

/** One quote request over the raw sale protocol, as any peer can send it: `from` asks `seller` to quote `buyer`. */
export async function askQuote(
  from: KosmosNode,
  seller: KosmosNode,
  manifestCid: string,
  buyer: Hex,
): Promise<SaleResponse> {
  const stream = await from.components.p2p.libp2p.dialProtocol(
    peerIdFromString(seller.peerId),
    SALE_PROTOCOL,
  );
  const lp = lpStream(stream, { maxDataLength: 4096 });
  await lp.write(encodeSaleRequest({ v: 1, type: "quote", listingId: manifestCid, buyer }));
  const response = decodeSaleResponse((await lp.read()).subarray());
  await stream.close().catch(() => {});
  return response;
}
