/**
 * Real nodes with only the services that keep datasets replicated (identity,
 * db, network, p2p, blocks, transfer, fetches, replication): no chain, no
 * HTTP, no catalog. Many fit in one process, for tests and benchmarks of the
 * repair loop at a size full nodes (each with its chain client and web
 * server) would not reach on a small machine. They are composed from the same
 * factories as `createNode`, in the same order.
 *
 * ```ts
 * await using net = await startLightNodes(8, { replication: { repairInterval: 60_000 } });
 * await net.waitForMesh();
 * net.nodes[0].components.replication.watch(manifestCid);
 * ```
 */
import { composeServices, ServiceGroup } from "../node/service.ts";
import { defaultConfig, type NodeConfig, validateConfig } from "../node/config.ts";
import { identity } from "../node/services/identity/mod.ts";
import { db } from "../node/services/db/mod.ts";
import { network } from "../node/services/network/mod.ts";
import { p2p } from "../node/services/p2p/mod.ts";
import { blocks } from "../node/services/blocks/mod.ts";
import { transfer } from "../node/services/transfer/mod.ts";
import { fetches } from "../node/services/fetches/mod.ts";
import { replication, type ReplicationInit } from "../node/services/replication/mod.ts";
import { testLogger, waitFor } from "./helpers.ts";

const lightServices = (init: ReplicationInit) =>
  [identity(), db(), network(), p2p(), blocks(), transfer(), fetches(), replication(init)] as const;

type LightComponents = Awaited<ReturnType<typeof composeLight>>["components"];

function composeLight(config: NodeConfig, init: ReplicationInit) {
  return composeServices(
    { config, logger: testLogger(), apiToken: "0".repeat(64) },
    lightServices(init),
  );
}

export interface LightNode {
  readonly components: LightComponents;
  readonly peerId: string;
  stop(): Promise<void>;
}

export interface LightNetwork extends AsyncDisposable {
  nodes: LightNode[];
  /** Resolves when every node is connected to every other. */
  waitForMesh(options?: { timeout?: number }): Promise<void>;
  stop(): Promise<void>;
}

export interface LightNodesOptions {
  /** Replication settings of every node. @default {} */
  replication?: ReplicationInit;
  /** Storage each node offers for replicas, GB. @default 1 */
  quotaGB?: number;
  /** Prefix of the temp data dirs. @default "kosmos-light-" */
  prefix?: string;
}

/** Starts `count` light nodes on loopback, each bootstrapping to every node started before it. */
export async function startLightNodes(count: number, options: LightNodesOptions = {}): Promise<LightNetwork> {
  const nodes: LightNode[] = [];
  const dirs: string[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all(dirs.map((d) => Deno.remove(d, { recursive: true }).catch(() => {})));
  };
  try {
    for (let i = 0; i < count; i++) {
      const dataDir = await Deno.makeTempDir({ prefix: options.prefix ?? "kosmos-light-" });
      dirs.push(dataDir);
      const config = validateConfig({
        ...defaultConfig(),
        dataDir,
        listen: ["/ip4/127.0.0.1/tcp/0"],
        bootstrap: nodes.map((n) => n.components.p2p.listenAddresses()[0]),
        storage: { quotaGB: options.quotaGB ?? 1 },
      } as unknown as Record<string, unknown>);
      const { components, services } = await composeLight(config, options.replication ?? {});
      const group = new ServiceGroup(services, { log: components.logger.forComponent("kosmos:node") });
      let stopped = false;
      const node: LightNode = {
        components,
        peerId: components.p2p.peerId.toString(),
        async stop() {
          if (stopped) return;
          stopped = true;
          await group.stop();
          group.close();
        },
      };
      nodes.push(node);
      await group.start();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    nodes,
    stop,
    [Symbol.asyncDispose]: stop,
    async waitForMesh(o = {}) {
      await waitFor(
        `a full mesh of ${nodes.length} light nodes`,
        () => nodes.every((n) => n.components.p2p.peers().length === nodes.length - 1),
        { timeout: o.timeout ?? 15_000 },
      );
    },
  };
}
