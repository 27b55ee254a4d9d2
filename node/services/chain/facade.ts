/**
 * The chain part of the web facade (`web/facade.ts`): chain info, the wallet,
 * stakes, challenges and arbitration, over the {@link ChainService}. Writes
 * from the node's wallet run one at a time, and each catches the indexer up so
 * the next read sees it.
 *
 * ```ts
 * const facade = { ...createChainFacade({ chain, identity }), getNodeInfo };
 * await facade.stakeListing({ manifestCid, amount: 100n * 10n ** 18n });
 * ```
 */
import type { ChainInfo, ChallengeView, KosmosFacade, StakeView, WalletView } from "../../../web/facade.ts";
import type { Identity } from "../identity/mod.ts";
import { CID } from "multiformats/cid";
import { type BlockStore, getManifest } from "../blocks/mod.ts";
import type { ChainService } from "./mod.ts";
import { NotArbiterError } from "./client.ts";
import {
  addStake,
  challengeListing,
  getChallenges,
  getListing,
  getPayoutBalance,
  getRegistryConfig,
  getTokenBalance,
  listDataset,
  requestWithdrawal,
  resolveChallenge,
  withdrawPayouts,
  withdrawStake,
} from "./actions/mod.ts";

export interface ChainFacadeComponents {
  chain: ChainService;
  identity: Identity;
  /** Where the manifests to stake are read from (their `dekCommit` is bound on chain). */
  blocks: BlockStore;
}

export type ChainFacade = Pick<
  KosmosFacade,
  | "getChainInfo"
  | "isArbiter"
  | "getWallet"
  | "withdrawPayouts"
  | "stakeListing"
  | "withdrawStake"
  | "challengeListing"
  | "listChallenges"
  | "resolveChallenge"
>;

export function createChainFacade({ chain, identity, blocks }: ChainFacadeComponents): ChainFacade {
  const me = identity.account.address;

  /** Runs a write from the node's wallet, then catches the indexer up. */
  const write = <T>(fn: () => Promise<T>, signal?: AbortSignal) =>
    chain.exclusive(async () => {
      signal?.throwIfAborted();
      const result = await fn();
      await chain.indexer.sync().catch(() => {});
      return result;
    });

  async function listMyStakes(): Promise<StakeView[]> {
    if (!chain.contracts) return [];
    await chain.indexer.sync();
    const ids = chain.indexer.listListingIds({ name: "Listed", account: me });
    const listings = await Promise.all(ids.map((listingId) => getListing(chain.client, { listingId })));
    return listings.filter((l) => l !== undefined && l.owner === me).map((l) => ({
      listingId: l!.listingId.toString(),
      manifestCid: l!.manifestCid,
      kind: l!.kind,
      stake: l!.stake.toString(),
      withdrawableAt: l!.withdrawableAt || null,
      challengeCount: l!.challengeCount,
    }));
  }

  return {
    async getChainInfo(options = {}): Promise<ChainInfo> {
      options.signal?.throwIfAborted();
      const block = await chain.publicClient.getBlockNumber({ cacheTime: 0 });
      return {
        chainId: chain.chainId,
        rpcUrl: chain.rpcUrl,
        block: Number(block),
        contracts: chain.contracts ? { ...chain.contracts } : null,
      };
    },

    isArbiter(options = {}) {
      return chain.isArbiter(options);
    },

    async getWallet(options = {}): Promise<WalletView> {
      const eth = await chain.getBalance(options);
      if (!chain.contracts) {
        return {
          address: me,
          chainId: chain.chainId,
          arbiter: false,
          contracts: false,
          balances: { eth: eth.toString(), token: "0" },
          payouts: "0",
          stakes: [],
        };
      }
      const [token, payouts, arbiter, stakes] = await Promise.all([
        getTokenBalance(chain.client),
        getPayoutBalance(chain.client),
        chain.isArbiter(options),
        listMyStakes(),
      ]);
      return {
        address: me,
        chainId: chain.chainId,
        arbiter,
        contracts: true,
        balances: { eth: eth.toString(), token: token.toString() },
        payouts: payouts.toString(),
        stakes,
      };
    },

    withdrawPayouts(options = {}) {
      return write(async () => {
        const { amount, hash } = await withdrawPayouts(chain.client, options);
        return { amount: amount.toString(), txHash: hash };
      }, options.signal);
    },

    async stakeListing({ manifestCid, amount }, options = {}) {
      const existing = (await listMyStakes()).find((s) => s.manifestCid === manifestCid);
      return await write(async () => {
        if (existing) {
          const listingId = BigInt(existing.listingId);
          const { stake, hash } = await addStake(chain.client, { listingId, amount, signal: options.signal });
          return { listingId: existing.listingId, stake: stake.toString(), created: false, txHash: hash };
        }
        const client = chain.client; // no contracts: ChainUnavailableError before anything else
        // The listing binds the manifest's key commitment, so the node must hold the manifest.
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
        return { listingId: listingId.toString(), stake: amount.toString(), created: true, txHash: hash };
      }, options.signal);
    },

    async withdrawStake(listingId, options = {}) {
      const listing = await getListing(chain.client, { listingId });
      return await write(async () => {
        if (!listing?.withdrawableAt) {
          const { withdrawableAt, hash } = await requestWithdrawal(chain.client, {
            listingId,
            signal: options.signal,
          });
          return { status: "requested" as const, withdrawableAt, txHash: hash };
        }
        const { amount, hash } = await withdrawStake(chain.client, { listingId, signal: options.signal });
        return { status: "withdrawn" as const, amount: amount.toString(), txHash: hash };
      }, options.signal);
    },

    challengeListing({ listingId, amount }, options = {}) {
      return write(async () => {
        const { count, hash } = await challengeListing(chain.client, {
          listingId,
          amount,
          signal: options.signal,
        });
        return { listingId: listingId.toString(), challengeCount: count, txHash: hash };
      }, options.signal);
    },

    async listChallenges(options = {}): Promise<ChallengeView[]> {
      options.signal?.throwIfAborted();
      await chain.indexer.sync();
      const client = chain.client;
      const { challengeThreshold, reviewPeriod } = await getRegistryConfig(client);
      const now = Number((await chain.publicClient.getBlock({ blockTag: "latest" })).timestamp);
      const ids = chain.indexer.listListingIds({ name: "Challenged" });
      const views = await Promise.all(ids.map(async (listingId) => {
        const listing = await getListing(client, { listingId });
        if (!listing || listing.challengeCount === 0) return undefined;
        const challenges = await getChallenges(client, { listingId });
        return {
          listingId: listingId.toString(),
          manifestCid: listing.manifestCid,
          owner: listing.owner,
          stake: listing.stake.toString(),
          challengeCount: listing.challengeCount,
          challenged: listing.challenged.toString(),
          threshold: challengeThreshold.toString(),
          reviewableAt: listing.challengedAt + reviewPeriod,
          resolvable: listing.challenged >= challengeThreshold || now >= listing.challengedAt + reviewPeriod,
          challenges: challenges.map((c) => ({ challenger: c.challenger, amount: c.amount.toString() })),
        } satisfies ChallengeView;
      }));
      return views.filter((v) => v !== undefined);
    },

    async resolveChallenge(listingId, { valid }, options = {}) {
      if (!(await chain.isArbiter(options))) {
        const { arbiter } = await getRegistryConfig(chain.client);
        throw new NotArbiterError(
          `Only the arbiter (${arbiter}) resolves challenges; this node's wallet is ${me}`,
        );
      }
      return await write(async () => {
        const r = await resolveChallenge(chain.client, { listingId, bad: !valid, signal: options.signal });
        return {
          valid: !r.bad,
          toChallengers: r.toChallengers.toString(),
          toOwner: r.toOwner.toString(),
          toTreasury: r.toTreasury.toString(),
          txHash: r.hash,
        };
      }, options.signal);
    },
  };
}
