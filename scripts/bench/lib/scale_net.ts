/**
 * The network of `deno task bench scale`: real Kosmos nodes in this process on
 * loopback (TCP only), sharing one anvil, each bootstrapping to the first (the
 * seed), with the default storage quota so that they keep replicas. Nodes can
 * leave for good (churn) and fresh ones join. Every libp2p connection a node
 * opens or accepts is remembered, so the bytes it wrote to its TCP sockets can
 * be summed at any time (closed sockets keep their count).
 *
 * The nodes it starts first can be given a catalog before they start:
 * `listings` go through `ingestAnnouncement`, the check and index step gossip
 * and sync use (decode, schema, EIP-712 signature recovery, store), not raw
 * SQL, and once started each node watches their datasets, as its catalog does
 * for every listing it indexes. Nodes added later start empty and get the
 * catalog from their peers through the catalog sync protocol.
 *
 * ```ts
 * await using net = await startScaleNetwork(10, { listings });
 * const sent = net.bytesSent(net.nodes[1]);
 * ```
 */
import * as dagCbor from "@ipld/dag-cbor";
import type { Connection } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { privateKeyToAccount } from "viem/accounts";
import { keccak256, toHex } from "viem";
import { createNode, type CreateNodeOptions, type KosmosNode } from "../../../node/node.ts";
import { createLogger } from "../../../node/log.ts";
import { type Anvil, startAnvil } from "../../../node/services/chain/anvil.ts";
import { ingestAnnouncement } from "../../../node/services/catalog/mod.ts";
import { CatalogStore } from "../../../node/services/catalog/store.ts";
import { makeBody } from "../../../node/services/catalog/fixtures_test.ts";
import { encodeAnnouncement, signAnnouncement } from "../../../protocol/announcement.ts";
import { CATEGORIES } from "../../../protocol/manifest.ts";
import { progress } from "./fair.ts";

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
  const create = async (listings: Uint8Array[]) => {
    const dataDir = await Deno.makeTempDir({ prefix: "kosmos-scale-" });
    const node = await createNode({
      dataDir,
      port: 0,
      listen: ["/ip4/127.0.0.1/tcp/0"],
      bootstrap: nodes.length > 0 ? [nodes[0].components.p2p.listenAddresses()[0]] : [],
      rpcUrl: anvil.rpcUrl,
    }, { logger, services: options.services });
    dirs.set(node, dataDir);
    if (listings.length > 0) await indexListings(node, listings);
    await node.start();
    // What the catalog does for every listing it indexes once running: watch its dataset.
    for (const bytes of listings) node.components.replication.watch(manifestCidOf(bytes));
    const seen = new Set<Connection>(node.components.p2p.libp2p.getConnections());
    node.components.p2p.libp2p.addEventListener("connection:open", (e) => seen.add(e.detail));
    connections.set(node, seen);
    if (nodes.length > 0) await joinNetwork(node, nodes[0]);
    nodes.push(node);
    return node;
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
    await anvil.stop().catch(() => {});
    await Promise.all([...dirs.values()].map((d) => Deno.remove(d, { recursive: true }).catch(() => {})));
  };
  try {
    for (let i = 0; i < count; i++) {
      await create(options.listings ?? []);
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

/** Indexes `listings` in `node`'s catalog before it starts, through the gossip and sync check. */
async function indexListings(node: KosmosNode, listings: Uint8Array[]): Promise<void> {
  const store = new CatalogStore(node.components.db, { own: node.address });
  for (const bytes of listings) {
    const check = await ingestAnnouncement(store, bytes);
    if (check.result !== "accept") {
      throw new Error(`A node did not index a generated listing: ${check.reason}`);
    }
  }
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

/** Sellers of the generated listings (fixed keys, so a run's listings look like many sellers'). */
const SELLERS = 16;

/**
 * `count` signed announcements (encoded) of made-up datasets by {@link SELLERS}
 * sellers, spread over every category, announced within the last minute.
 * Signing costs about a millisecond and a half each, so progress is logged.
 */
export async function generateListings(count: number, tag: string): Promise<Uint8Array[]> {
  const accounts = Array.from(
    { length: SELLERS },
    (_, i) => privateKeyToAccount(keccak256(toHex(`kosmos.bench.scale.seller.${i}`))),
  );
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const account = accounts[i % SELLERS];
    const body = await makeBody(account.address, {
      seed: `${tag}-${i}`,
      title: `Bench listing ${i}`,
      category: CATEGORIES[i % CATEGORIES.length],
    });
    out.push(encodeAnnouncement(await signAnnouncement(account, body)));
    if ((i + 1) % 5000 === 0) progress(`signed ${i + 1}/${count} listings`);
  }
  return out;
}
