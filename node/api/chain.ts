/**
 * The chain and the wallet: chain info, balances and payouts, stakes, challenges and
 * arbitration. The staking logic is `services/chain/stakes.ts`; this file turns its bigints
 * into the views' decimal strings.
 */
import type { ChainApi, ChainInfo, ChallengeView, StakeView, WalletView } from "../../protocol/api/chain.ts";
import type { BlockStore } from "../services/blocks/mod.ts";
import {
  type ChainService,
  challengeFromWallet,
  getPayoutBalance,
  getTokenBalance,
  type ListingState,
  listOpenChallenges,
  listOwnStakes,
  resolveAsArbiter,
  stakeManifest,
  withdrawOwnStake,
  withdrawPayouts,
  writeFromWallet,
} from "../services/chain/mod.ts";
import type { Identity } from "../services/identity/mod.ts";
import { withGasUsed } from "./fees.ts";

export interface ChainApiComponents {
  chain: ChainService;
  identity: Identity;
  blocks: BlockStore;
}

export function createChainApi(c: ChainApiComponents): ChainApi {
  const { chain, identity } = c;
  const me = identity.account.address;
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
        listOwnStakes(c),
      ]);
      return {
        address: me,
        chainId: chain.chainId,
        arbiter,
        contracts: true,
        balances: { eth: eth.toString(), token: token.toString() },
        payouts: payouts.toString(),
        stakes: stakes.map(toStakeView),
      };
    },

    withdrawPayouts(options = {}) {
      return withGasUsed(() =>
        writeFromWallet(chain, async () => {
          const { amount, hash } = await withdrawPayouts(chain.client, options);
          return { amount: amount.toString(), txHash: hash };
        }, options.signal)
      );
    },

    async stakeListing(params, options = {}) {
      return await withGasUsed(async () => {
        const { listingId, stake, created, hash } = await stakeManifest(c, params, options);
        return { listingId: listingId.toString(), stake: stake.toString(), created, txHash: hash };
      });
    },

    async withdrawStake(listingId, options = {}) {
      return await withGasUsed(async () => {
        const r = await withdrawOwnStake(chain, listingId, options);
        return r.status === "requested"
          ? { status: r.status, withdrawableAt: r.withdrawableAt, txHash: r.hash }
          : { status: r.status, amount: r.amount.toString(), txHash: r.hash };
      });
    },

    async challengeListing({ listingId, amount }, options = {}) {
      return await withGasUsed(async () => {
        const { count, hash } = await challengeFromWallet(chain, { listingId, amount }, options);
        return { listingId: listingId.toString(), challengeCount: count, txHash: hash };
      });
    },

    async listChallenges(options = {}): Promise<ChallengeView[]> {
      const open = await listOpenChallenges(chain, options);
      return open.map(({ listing, challenges, threshold, reviewableAt, resolvable }) => ({
        listingId: listing.listingId.toString(),
        manifestCid: listing.manifestCid,
        owner: listing.owner,
        stake: listing.stake.toString(),
        challengeCount: listing.challengeCount,
        challenged: listing.challenged.toString(),
        threshold: threshold.toString(),
        reviewableAt,
        resolvable,
        challenges: challenges.map((ch) => ({ challenger: ch.challenger, amount: ch.amount.toString() })),
      }));
    },

    async resolveChallenge(listingId, { valid }, options = {}) {
      return await withGasUsed(async () => {
        const r = await resolveAsArbiter(c, listingId, { valid }, options);
        return {
          valid: !r.bad,
          toChallengers: r.toChallengers.toString(),
          toOwner: r.toOwner.toString(),
          toTreasury: r.toTreasury.toString(),
          txHash: r.hash,
        };
      });
    },
  };
}

/** A registry listing's stake as the API shows it. */
export function toStakeView(l: ListingState): StakeView {
  return {
    listingId: l.listingId.toString(),
    manifestCid: l.manifestCid,
    kind: l.kind,
    stake: l.stake.toString(),
    withdrawableAt: l.withdrawableAt || null,
    challengeCount: l.challengeCount,
  };
}
