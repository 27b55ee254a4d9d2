/**
 * Starts real Kosmos nodes in this process for multi-node tests: each with its
 * own data dir, an OS-chosen HTTP port, loopback libp2p listeners, and (by
 * default) one anvil shared by all, the way `deno task devnet` runs them.
 *
 * ```ts
 * await using net = await startNetwork(3);
 * await net.waitForMesh();
 * ```
 */
import { createNode, type CreateNodeOptions, type KosmosNode } from "../node/node.ts";
import { type Anvil, startAnvil } from "../node/services/chain/anvil.ts";
import type { NodeConfig } from "../node/config.ts";
import { testLogger, waitFor } from "./helpers.ts";

export interface TestNetwork extends AsyncDisposable {
  nodes: KosmosNode[];
  anvil: Anvil;
  /** Starts one more node that bootstraps to the first (or to all, see {@link StartNetworkOptions.bootstrap}). */
  addNode(config?: Partial<NodeConfig>): Promise<KosmosNode>;
  /** Resolves when every node is connected to every other. */
  waitForMesh(options?: { timeout?: number }): Promise<void>;
  stop(): Promise<void>;
}

export interface StartNetworkOptions {
  /** Which running nodes a new node bootstraps to. @default "first" */
  bootstrap?: "first" | "all";
  /** Service settings every node gets. @default {} */
  services?: CreateNodeOptions["services"];
  /** Prefix of the nodes' temp data dirs. @default "kosmos-node-" */
  prefix?: string;
}

export async function startNetwork(
  count: number,
  config: Partial<NodeConfig> = {},
  options: StartNetworkOptions = {},
): Promise<TestNetwork> {
  const anvil = await startAnvil();
  const nodes: KosmosNode[] = [];
  const dirs: string[] = [];
  const addNode = async (extra: Partial<NodeConfig> = {}) => {
    const dataDir = await Deno.makeTempDir({ prefix: options.prefix ?? "kosmos-node-" });
    dirs.push(dataDir);
    const node = await createNode({
      dataDir,
      port: 0,
      listen: ["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/tcp/0/ws"],
      bootstrap: (options.bootstrap === "all" ? nodes : nodes.slice(0, 1))
        .map((n) => n.components.p2p.listenAddresses()[0]),
      rpcUrl: anvil.rpcUrl,
      ...config,
      ...extra,
    }, { logger: testLogger(), services: options.services });
    await node.start();
    nodes.push(node);
    return node;
  };
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await anvil.stop();
    await Promise.all(dirs.map((d) => Deno.remove(d, { recursive: true }).catch(() => {})));
  };
  try {
    for (let i = 0; i < count; i++) await addNode();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    nodes,
    anvil,
    addNode,
    stop,
    [Symbol.asyncDispose]: stop,
    async waitForMesh(options = {}) {
      await waitFor(
        `a full mesh of ${nodes.length} nodes`,
        () => nodes.every((n) => n.components.p2p.peers().length === nodes.length - 1),
        { timeout: options.timeout ?? 10_000 },
      );
    },
  };
}

/**
 * One public node (`--public-url`) in `dataDir` that has published `csv` as a dataset: what the
 * IPFS gateway tests serve from. The caller stops the node.
 */
export async function startPublicNodeWithDataset(
  dataDir: string,
  csv: Uint8Array<ArrayBuffer>,
): Promise<{ node: KosmosNode; manifestCid: string }> {
  const node = await createNode({
    dataDir,
    port: 0,
    listen: ["/ip4/127.0.0.1/tcp/0"],
    publicUrl: "http://127.0.0.1",
  }, { logger: testLogger() });
  await node.start();
  try {
    const { manifestCid } = await node.facade.publishDataset(ReadableStream.from([csv]), {
      title: "Readings",
      filename: "readings.csv",
      description: "",
      category: "environment",
      price: "1",
      license: "CC-BY-4.0",
    });
    return { node, manifestCid };
  } catch (err) {
    await node.stop();
    throw err;
  }
}
