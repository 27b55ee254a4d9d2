/**
 * The network of `deno task bench scale`: real Kosmos nodes in this process on
 * loopback (TCP only), sharing one anvil, each bootstrapping to the first (the
 * seed), with the default storage quota so that they keep replicas. Nodes can
 * leave for good (churn) and fresh ones join. Every libp2p connection a node
 * opens or accepts is remembered, so the bytes it wrote to its TCP sockets can
 * be summed at any time (closed sockets keep their count).
 *
 * The nodes it starts first can be given a catalog before they start:
 * `listings` (the bench's own signed listings, `scale_listings.ts`) are
 * decoded, validated and stored as the catalog stores what passed its check,
 * and once started each node watches their datasets, as its catalog does for
 * every listing it indexes. Nodes added later start empty and get the catalog
 * from their peers through the catalog sync protocol, which verifies every
 * signature.
 *
 * ```ts
 * await using net = await startScaleNetwork(10, { listings });
 * const sent = net.bytesSent(net.nodes[1]);
 * ```
 */
import * as dagCbor from "@ipld/dag-cbor";
import type { Connection } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { createNode, type CreateNodeOptions, type KosmosNode } from "../../../node/node.ts";
import { createLogger } from "../../../node/log.ts";
import { type Anvil, startAnvil } from "../../../node/services/chain/anvil.ts";
import { CatalogStore } from "../../../node/services/catalog/store.ts";
import { transaction } from "../../../node/services/db/mod.ts";
import { progress } from "./fair.ts";
import { fillCatalog } from "./scale_listings.ts";

export interface ScaleNetwork extends AsyncDisposable {
  /** The nodes running now; `nodes[0]` is the seed and never leaves. */
  nodes: KosmosNode[];
  anvil: Anvil;
  /** Starts one more node (fresh data dir and identity) that joins through the seed. */
  addNode(): Promise<KosmosNode>;
  /** Stops `node` for good and drops it from `nodes`. */
  removeNode(node: KosmosNode): Promise<void>;
  /** Bytes `node` has written to its TCP connections since it started. */
  bytesSent(node: KosmosNode): number;
  /** Bytes of every file in `node`'s data dir. */
  diskBytes(node: KosmosNode): Promise<number>;
  stop(): Promise<void>;
}

export interface StartScaleNetworkOptions {
  /** Announcement bytes every node of the first `count` indexes before it starts. @default [] */
  listings?: Uint8Array[];
  /** Service settings every node gets. @default {} */
  services?: CreateNodeOptions["services"];
  /** Most libp2p connections per node (the p2p service's own default when absent). */
  maxConnections?: number;
  /** Connections each node dials up to and trims back to (the p2p service's own default when absent). */
  targetPeers?: number;
  /**
   * Called with the network's stop function as soon as the anvil runs, before the nodes start (so
   * that a process told to end can stop what it started).
   */
  onStop?: (stop: () => Promise<void>) => void;
}

/** The TCP socket under a libp2p connection (`@libp2p/tcp` keeps it on its multiaddr connection). */
function socketOf(connection: Connection): { bytesWritten?: number } | undefined {
  return (connection as unknown as { maConn?: { socket?: { bytesWritten?: number } } }).maConn?.socket;
}

export async function startScaleNetwork(
  count: number,
  options: StartScaleNetworkOptions = {},
): Promise<ScaleNetwork> {
  const anvil = await startAnvil();
  const logger = createLogger({ level: "error" });
  const nodes: KosmosNode[] = [];
  const dirs = new Map<KosmosNode, string>();
  const connections = new Map<KosmosNode, Set<Connection>>();
  /** Nodes created (and filled) but not started yet. */
  const waiting = new Set<KosmosNode>();
  /** The seed's TCP address, `/ip4/127.0.0.1/tcp/PORT/p2p/ID`, known before it starts. */
  let seedAddress: string | undefined;
  /** A node with `listings` in its catalog, not started; bootstrapping to the seed, or the seed itself. */
  const make = async (listings: Uint8Array[]) => {
    const dataDir = await Deno.makeTempDir({ prefix: "kosmos-scale-" });
    const port = seedAddress === undefined ? freePort() : 0;
    const node = await createNode({
      dataDir,
      port: 0,
      listen: [`/ip4/127.0.0.1/tcp/${port}`],
      bootstrap: seedAddress === undefined ? [] : [seedAddress],
      rpcUrl: anvil.rpcUrl,
      ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
      ...(options.targetPeers !== undefined ? { targetPeers: options.targetPeers } : {}),
    }, { logger, services: options.services });
    seedAddress ??= `/ip4/127.0.0.1/tcp/${port}/p2p/${node.peerId}`;
    dirs.set(node, dataDir);
    waiting.add(node);
    if (listings.length > 0) {
      fillCatalog(new CatalogStore(node.components.db, { own: node.address }), listings);
    }
    return node;
  };
  const launch = async (node: KosmosNode, listings: Uint8Array[]) => {
    waiting.delete(node);
    await node.start();
    // What the catalog does for every listing it indexes once running: watch its dataset, a sync
    // batch (256) at a time, letting the other nodes' work run in between.
    for (let i = 0; i < listings.length; i += 256) {
      transaction(node.components.db, () => {
        for (const bytes of listings.slice(i, i + 256)) {
          node.components.replication.watch(manifestCidOf(bytes));
        }
      });
      await new Promise((r) => setTimeout(r, 0));
    }
    const seen = new Set<Connection>(node.components.p2p.libp2p.getConnections());
    node.components.p2p.libp2p.addEventListener("connection:open", (e) => seen.add(e.detail));
    connections.set(node, seen);
    if (nodes.length > 0) await joinNetwork(node, nodes[0]);
    nodes.push(node);
    return node;
  };
  const create = async (listings: Uint8Array[]) => launch(await make(listings), listings);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all([...nodes, ...waiting].map((n) => n.stop().catch(() => {})));
    await anvil.stop().catch(() => {});
    await Promise.all([...dirs.values()].map((d) => Deno.remove(d, { recursive: true }).catch(() => {})));
  };
  options.onStop?.(stop);
  try {
    // Every catalog is filled before any node starts, so that filling one neither waits behind
    // the repair work of running nodes nor stalls them.
    const listings = options.listings ?? [];
    const made: KosmosNode[] = [];
    for (let i = 0; i < count; i++) {
      made.push(await make(listings));
      if (listings.length >= 10_000) progress(`filled ${i + 1}/${count} catalogs`);
    }
    for (const [i, node] of made.entries()) {
      await launch(node, listings);
      if ((i + 1) % 10 === 0) progress(`started ${i + 1}/${count} nodes`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    nodes,
    anvil,
    addNode: () => create([]),
    async removeNode(node) {
      if (node === nodes[0]) throw new RangeError("Cannot remove the seed node");
      const i = nodes.indexOf(node);
      if (i >= 0) nodes.splice(i, 1);
      await node.stop().catch(() => {});
    },
    bytesSent(node) {
      let sum = 0;
      for (const c of connections.get(node) ?? []) sum += socketOf(c)?.bytesWritten ?? 0;
      return sum;
    },
    diskBytes: (node) => dirSize(dirs.get(node)!),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * Waits until `node` is connected to at least one peer; dials `seed` itself
 * when bootstrapping has not connected it within a second (nodes started back
 * to back can hit the seed's inbound connection rate limit).
 */
async function joinNetwork(node: KosmosNode, seed: KosmosNode): Promise<void> {
  const p2p = node.components.p2p;
  // A process busy with many nodes' work accepts connections late.
  const deadline = performance.now() + 60_000;
  for (let waited = 0; p2p.peers().length === 0; waited += 50) {
    if (performance.now() > deadline) throw new Error(`node ${node.peerId} could not join the network`);
    if (waited >= 1000 && waited % 1000 === 0) {
      await p2p.libp2p.dial(multiaddr(seed.components.p2p.listenAddresses()[0])).catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A TCP port free on loopback now (the OS picks it; the seed listens on it moments later). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

function manifestCidOf(announcement: Uint8Array): string {
  return String((dagCbor.decode(announcement) as { manifestCid: unknown }).manifestCid);
}

async function dirSize(path: string): Promise<number> {
  let sum = 0;
  for await (const entry of Deno.readDir(path)) {
    const full = `${path}/${entry.name}`;
    if (entry.isDirectory) sum += await dirSize(full);
    else if (entry.isFile) sum += (await Deno.stat(full).catch(() => ({ size: 0 }))).size;
  }
  return sum;
}

/** How many listings `node`'s catalog holds. */
export function catalogSize(node: KosmosNode): number {
  return node.components.catalog.listListings({ limit: 1 }).total;
}
