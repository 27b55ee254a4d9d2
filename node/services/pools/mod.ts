/**
 * The pools service: data unions. An operator node offers terms (one source kind, a purpose, k, a price,
 * a licence, its fee), creates the pool on chain (`KosmosPools.createPool(termsHash, feeBps)`) and
 * announces it; contributors' nodes join with a consent for the pool's kind and purpose that is valid on
 * chain; each version gathers every member's rows, anonymized on the member's own node (rows never leave
 * it otherwise), and is published, staked and sold as a normal dataset; each sale's seller share is split
 * among the version's contributors pro rata to their rows through a Merkle distribution on the rewards
 * contract (`KosmosPools.distributeSale`), less the operator's announced fee.
 *
 * - Announcements (`protocol/pools.ts`): signed by the operator's wallet, gossiped on `/kosmos/pools/1`
 *   and handed to peers that ask (`announcements`); one whose signature or terms hash is wrong, or whose
 *   pool is not on chain with that operator, hash and fee, is dropped.
 * - `/kosmos/pool/1.0.0` (`serve.ts`, `wire.ts`): `join` (the contributor's wallet signs (poolId,
 *   consentId, its node's peer id); the operator reads the consent on chain), `leave`, `contribute`
 *   (operator → member; the member checks it joined that pool from that operator's node and that its
 *   own consent is still valid, anonymizes its rows of the kind at the pool's k and sends only those, or
 *   refuses), `announcements`.
 * - Versions (`versions.ts`): members asked at once with a timeout; refusals, silence, wrong columns and
 *   consents no longer valid on chain go to `excluded`; then `datasets.publishDataset` (combined privacy
 *   report, consent references), a registry listing staked from this wallet, `registerVersion`.
 * - Distributions (`distributions.ts`): the escrow's `Completed` of a version's sale (from the chain
 *   indexer) becomes a pending row, settled with `poolSaleLeaves` + `distributeSale`; retried on start.
 *
 * Tables (`store.ts`): `pools` (accepted announcements), `pool_members` (operator side),
 * `pool_memberships` (member side), `pool_versions`, `pool_distributions`. No events.
 *
 * ```ts
 * const pools = node.components.pools;
 * const { announcement } = await pools.createPool({ kind: "spotify", purpose: "music research",
 *   title: "Listening, pooled", price: "1000", licence: "CC-BY-4.0", k: 5, operatorFeeBps: 1000 });
 * await other.components.pools.joinPool(announcement.poolId, { consentId: "7" });
 * const version = await pools.publishVersion(announcement.poolId); // { listingId, manifestCid, contributors, excluded }
 * ```
 */
import { defineService } from "../../service.ts";
import { Pools, type PoolsComponents, type PoolsInit } from "./pools.ts";

export { checkPoolId, type CreatePoolFields } from "./announcements.ts";
export { type PoolRecord, Pools, type PoolsComponents, type PoolsInit } from "./pools.ts";
export {
  EmptyVersionError,
  NotPoolOperatorError,
  PoolJoinRefusedError,
  PoolUnreachableError,
} from "./errors.ts";
export type { DistributionRecord, MembershipRecord, VersionRecord } from "./store.ts";
export type { PublishVersionOptions } from "./versions.ts";
export { releasedColumns } from "./serve.ts";
export { askPeer } from "./wire.ts";

/** The `pools` component: migrations, handlers and timers in `start()`. */
export function pools(init: PoolsInit = {}) {
  return defineService(
    "pools",
    ["db", "p2p", "chain", "identity", "datasets", "blocks", "privacy", "sources"],
    (c: PoolsComponents) => new Pools(c, init),
  );
}
