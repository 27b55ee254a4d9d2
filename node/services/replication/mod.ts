/**
 * The replication service: a publisher announces its dataset in the DHT
 * (one provider record, for the manifest CID; a provider of a manifest
 * serves all of its chunks); every node offering storage
 * (`config.storage.quotaGB`) watches the datasets it learns about and, when a
 * dataset has fewer live providers than its target (3 by default), the nodes
 * closest to it in XOR distance fetch it, verify it and provide it too. A
 * repair loop keeps counting, so replicas come back when providers leave.
 * The ranking, liveness probe, quota check and block getter live in
 * `holder.ts`, which ingest shares for sealed analytics batches.
 *
 * A repair round reads only the datasets this node holds and those where it
 * ranks among the `2 × target` closest candidates (`circle.ts`, through key
 * ranges of `neighbourhood.ts`), and looks up providers only where it holds
 * the dataset or could be chosen (`repair.ts`), from its known providers
 * while they answer and still reach the target (a DHT lookup every 15 rounds),
 * else by a DHT lookup: at most `maxLookupsPerRound` of those per round
 * (60), spread over the repair interval, those that can be repaired
 * first (held, then known to have providers; `circle.ts`' `repairOrder`);
 * a dataset nobody provides is counted ever less often (up to every 32
 * rounds), since nothing can be repaired from nowhere. So a node's repair
 * cost follows its share of the network's datasets that can be repaired, not
 * the number of listings its catalog indexes.
 *
 * ```ts
 * const replication = createReplication({ db, blocks, p2p, transfer, fetches, log, quotaGB: 1 });
 * await replication.start();
 * await replication.provideDataset(manifestCid);   // on the publisher
 * replication.watch(manifestCid);                   // on every node (the catalog does this per listing)
 * replication.addEventListener("provide", (e) => console.log(e.detail.manifestCid));
 * replication.getReplication(manifestCid);          // { target: 3, providers: [...], local, status }
 * replication.repairStats;                          // { rounds, datasets, lookups, confirmed, deferred, durationMs }
 * ```
 */
import { defineService, type ServiceFactory } from "../../service.ts";
import {
  createReplication,
  type Replication,
  type ReplicationComponents,
  type ReplicationInit,
} from "./replication.ts";

export { compareDistance, datasetKey, peerKey, sortByDistance, xorDistance } from "./distance.ts";
export { BlockUnavailableError, Holder, type HolderComponents } from "./holder.ts";
export {
  createReplication,
  NotLocalError,
  type ProvideDetail,
  type RepairStats,
  Replication,
  type ReplicationComponents,
  type ReplicationInit,
  type ReplicationState,
  type ReplicationStatus,
  type Role,
} from "./replication.ts";

/** What the `replication` factory reads: its components, and the storage quota from the config. */
export type ReplicationFactoryComponents = Omit<ReplicationComponents, "log" | "quotaGB"> & {
  config: { storage: { quotaGB: number } };
};

/** The `replication` service: provides local datasets and keeps watched ones at their target. */
export function replication(
  init: ReplicationInit = {},
): ServiceFactory<"replication", ReplicationFactoryComponents, Replication> {
  return defineService<"replication", ReplicationFactoryComponents, Replication>(
    "replication",
    ["db", "blocks", "p2p", "transfer", "fetches", "config"],
    ({ config, ...c }) => createReplication({ ...c, quotaGB: config.storage.quotaGB }, init),
  );
}
