/**
 * Staking and challenges from this node's wallet, as plain functions over the chain service:
 * listing its stakes, staking a manifest (a new listing, or more stake on its own one),
 * requesting then withdrawing a stake, challenging, and resolving as the arbiter. Writes run
 * one at a time and each catches the indexer up, so the next read sees it. Amounts are bigints
 * in token base units; `node/api/chain.ts` turns them into views.
 *
 * ```ts
 * const { listingId, created } = await stakeManifest({ chain, identity, blocks }, { manifestCid, amount });
 * ```
 */
import { CID } from "multiformats/cid";
import { getAddress, type Hash } from "viem";
import { type BlockStore, getManifest } from "../blocks/mod.ts";
import type { Identity } from "../identity/mod.ts";
import {
  addStake,
  challengeListing,
  cidToBytes,
  getChallenges,
  type GetChallengesReturnType,
  getListing,
  getRegistryConfig,
  listDataset,
  type ListingState,
  requestWithdrawal,
  resolveChallenge,
  withdrawStake,
} from "./actions/mod.ts";
import { NotArbiterError } from "./client.ts";
import type { ChainService } from "./mod.ts";

/** What the staking functions read. */
export interface StakesComponents {
  chain: ChainService;
  identity: Identity;
  /** Where the manifests to stake are read from (their `dekCommit` is bound on chain). */
  blocks: BlockStore;
}

/** Runs a write from the node's wallet (one at a time), then catches the indexer up. */
export function writeFromWallet<T>(
  chain: ChainService,
  fn: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  return chain.exclusive(async () => {
    signal?.throwIfAborted();
    const result = await fn();
    await chain.indexer.sync().catch(() => {});
    return result;
  });
}

/** The registry listings this node's wallet owns; none on a chain without the contracts. */
export async function listOwnStakes({ chain, identity }: Pick<StakesComponents, "chain" | "identity">) {
  if (!chain.contracts) return [];
  const me = identity.account.address;
  await chain.indexer.sync();
  const ids = chain.indexer.listListingIds({ name: "Listed", account: me });
  const listings = await Promise.all(ids.map((listingId) => getListing(chain.client, { listingId })));
  return listings.filter((l): l is ListingState => l !== undefined && l.owner === me);
}

/**
 * Lists `manifestCid` with `amount` tokens, or adds them to this node's listing of it. A new
 * listing binds the manifest's key commitment, so the node must hold the manifest (`TypeError`).
 */
export async function stakeManifest(
  c: StakesComponents,
  params: { manifestCid: string; amount: bigint },
  options: { signal?: AbortSignal } = {},
): Promise<{ listingId: bigint; stake: bigint; created: boolean; hash: Hash }> {
  const { chain, blocks } = c;
  const { manifestCid, amount } = params;
  const existing = (await listOwnStakes(c)).find((s) => s.manifestCid === manifestCid);
  return await writeFromWallet(chain, async () => {
    if (existing) {
      const listingId = existing.listingId;
      const { stake, hash } = await addStake(chain.client, { listingId, amount, signal: options.signal });
      return { listingId, stake, created: false, hash };
    }
    const client = chain.client; // no contracts: ChainUnavailableError before anything else
    const cid = CID.parse(manifestCid);
    if (!(await blocks.has(cid))) {
      throw new TypeError(
        `Cannot stake "${manifestCid}": this node does not hold its manifest (publish or fetch it first)`,
      );
    }
    const { dekCommit } = await getManifest(blocks, cid);
    const { listingId, hash } = await listDataset(client, {
      manifestCid,
      dekCommit,
      stake: amount,
      signal: options.signal,
    });
    return { listingId, stake: amount, created: true, hash };
  }, options.signal);
}

/** Requests the withdrawal of a stake, or withdraws it once the delay is over. */
export async function withdrawOwnStake(
  chain: ChainService,
  listingId: bigint,
  options: { signal?: AbortSignal } = {},
): Promise<
  | { status: "requested"; withdrawableAt: number; hash: Hash }
  | { status: "withdrawn"; amount: bigint; hash: Hash }
> {
  const listing = await getListing(chain.client, { listingId });
  return await writeFromWallet(chain, async () => {
    if (!listing?.withdrawableAt) {
      const { withdrawableAt, hash } = await requestWithdrawal(chain.client, {
        listingId,
        signal: options.signal,
      });
      return { status: "requested" as const, withdrawableAt, hash };
    }
    const { amount, hash } = await withdrawStake(chain.client, { listingId, signal: options.signal });
    return { status: "withdrawn" as const, amount, hash };
  }, options.signal);
}

/** Challenges a listing with `amount` tokens; answers the listing's open challenges. */
export function challengeFromWallet(
  chain: ChainService,
  params: { listingId: bigint; amount: bigint },
  options: { signal?: AbortSignal } = {},
): Promise<{ count: number; hash: Hash }> {
  return writeFromWallet(chain, async () => {
    const { count, hash } = await challengeListing(chain.client, { ...params, signal: options.signal });
    return { count, hash };
  }, options.signal);
}

/** A listing with open challenges, and what the arbiter needs to judge it. */
export interface OpenChallenge {
  listing: ListingState;
  challenges: GetChallengesReturnType;
  /** Challenged stake at which the arbiter may resolve at once. */
  threshold: bigint;
  /** Unix seconds from which the arbiter may resolve whatever the challenged stake. */
  reviewableAt: number;
  resolvable: boolean;
}

/** Listings with open challenges. */
export async function listOpenChallenges(
  chain: ChainService,
  options: { signal?: AbortSignal } = {},
): Promise<OpenChallenge[]> {
  options.signal?.throwIfAborted();
  await chain.indexer.sync();
  const client = chain.client;
  const { challengeThreshold, reviewPeriod } = await getRegistryConfig(client);
  const now = Number((await chain.publicClient.getBlock({ blockTag: "latest" })).timestamp);
  const ids = chain.indexer.listListingIds({ name: "Challenged" });
  const open = await Promise.all(ids.map(async (listingId) => {
    const listing = await getListing(client, { listingId });
    if (!listing || listing.challengeCount === 0) return undefined;
    const challenges = await getChallenges(client, { listingId });
    const reviewableAt = listing.challengedAt + reviewPeriod;
    return {
      listing,
      challenges,
      threshold: challengeThreshold,
      reviewableAt,
      resolvable: listing.challenged >= challengeThreshold || now >= reviewableAt,
    } satisfies OpenChallenge;
  }));
  return open.filter((o) => o !== undefined);
}

/** Resolves a listing's challenges; arbiter only (`NotArbiterError`). `valid: false` removes the listing. */
export async function resolveAsArbiter(
  { chain, identity }: Pick<StakesComponents, "chain" | "identity">,
  listingId: bigint,
  params: { valid: boolean },
  options: { signal?: AbortSignal } = {},
) {
  if (!(await chain.isArbiter(options))) {
    const { arbiter } = await getRegistryConfig(chain.client);
    throw new NotArbiterError(
      `Only the arbiter (${arbiter}) resolves challenges; this node's wallet is ${identity.account.address}`,
    );
  }
  return await writeFromWallet(
    chain,
    () => resolveChallenge(chain.client, { listingId, bad: !params.valid, signal: options.signal }),
    options.signal,
  );
}

/**
 * Finds the registry listing of a dataset owned by this node's wallet: the indexer's `Listed`
 * events narrow the candidates (newest first, syncing once when there are none), and the chain
 * confirms owner and manifest CID.
 */
export async function findOwnListing(
  components: { chain: ChainService; identity: Identity },
  manifestCid: string,
): Promise<bigint | undefined> {
  const { chain, identity } = components;
  const me = identity.account.address;
  const cidBytes = cidToBytes(manifestCid).toLowerCase();
  const find = () =>
    chain.indexer.listEvents({ name: "Listed", account: me, limit: 100_000 })
      .filter((e) => String(e.args.cid).toLowerCase() === cidBytes).map((e) => BigInt(e.listingId!))
      .reverse();
  let candidates = find();
  if (candidates.length === 0) {
    await chain.indexer.sync();
    candidates = find();
  }
  for (const listingId of candidates) {
    const listing = await getListing(chain.client, { listingId });
    if (listing && listing.manifestCid === manifestCid && getAddress(listing.owner) === me) {
      return listingId;
    }
  }
  return undefined;
}
