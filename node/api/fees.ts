/**
 * Fee previews of the signing endpoints (`FeesApi`, `?preview=1`), and fee
 * and receipt figures as the HTTP API shows them (`protocol/api/fees.ts`):
 * bigints from the chain service as decimal strings. The previews themselves
 * are `services/chain/previews.ts` and the market's `previewBuy`.
 */
import type { FeesApi, FeeView, GasUsedView } from "../../protocol/api/fees.ts";
import type { BlockStore } from "../services/blocks/mod.ts";
import {
  type ChainService,
  collectReceipts,
  type FeeEstimate,
  type GasUsed,
  previewChallenge,
  previewResolve,
  previewStakeManifest,
  previewWithdrawOwnStake,
  previewWithdrawPayouts,
  toGasUsed,
} from "../services/chain/mod.ts";
import type { Delegation } from "../services/delegation/mod.ts";
import type { Identity } from "../services/identity/mod.ts";
import type { Market } from "../services/market/mod.ts";

export interface FeesApiComponents {
  chain: ChainService;
  identity: Identity;
  blocks: BlockStore;
  market: Market;
  delegation: Delegation;
}

export function createFeesApi(c: FeesApiComponents): FeesApi {
  const { chain, market, delegation } = c;
  return {
    async previewStakeListing(params, options = {}) {
      const r = await previewStakeManifest(c, params, options);
      return {
        preview: true,
        fee: toFeeView(r.fee),
        created: r.created,
        ...(r.listingId !== undefined && { listingId: r.listingId.toString() }),
        stake: r.stake.toString(),
      };
    },
    async previewWithdrawStake(listingId, options = {}) {
      const r = await previewWithdrawOwnStake(chain, listingId, options);
      return {
        preview: true,
        fee: toFeeView(r.fee),
        listingId: listingId.toString(),
        status: r.status,
        ...(r.amount !== undefined && { amount: r.amount.toString() }),
      };
    },
    async previewChallengeListing(params, options = {}) {
      const r = await previewChallenge(chain, params, options);
      return { preview: true, fee: toFeeView(r.fee), listingId: params.listingId.toString() };
    },
    async previewResolveChallenge(listingId, params, options = {}) {
      const r = await previewResolve(chain, listingId, params, options);
      return { preview: true, fee: toFeeView(r.fee), listingId: listingId.toString() };
    },
    async previewWithdrawPayouts(options = {}) {
      const r = await previewWithdrawPayouts(chain, options);
      return { preview: true, fee: toFeeView(r.fee), amount: r.amount.toString() };
    },
    async previewBuyListing(manifestCid, options = {}) {
      const r = await market.previewBuy(manifestCid, options);
      return {
        preview: true,
        fee: toFeeView(r.fee),
        listingId: r.manifestCid, // v1 name: the manifest CID
        ...(r.existing && { purchaseId: r.existing.id }),
        ...(r.quote && {
          quote: {
            registryListingId: r.quote.listingId.toString(),
            price: r.quote.price.toString(),
            deadline: Number(r.quote.deadline),
          },
        }),
        ...(r.gas && {
          gas: {
            open: r.gas.open.toString(),
            confirm: r.gas.confirm.toString(),
            confirmSource: r.gas.confirmSource,
          },
        }),
      };
    },
    async previewDelegateSales(manifestCid, params, options = {}) {
      const r = await delegation.delegateSales(manifestCid, params.peerId, { ...options, preview: true });
      return {
        preview: true,
        fee: toFeeView(r.fee!),
        listingId: r.manifestCid, // v1 name: the manifest CID
        registryListingId: r.listingId.toString(),
        peerId: r.peerId,
        delegate: r.delegate,
      };
    },
  };
}

/**
 * Runs a write and adds what its transactions cost (`gasUsed` summed over
 * them, the last one's `effectiveGasPrice`) to its answer.
 */
export async function withGasUsed<T extends object>(fn: () => Promise<T>): Promise<T & Partial<GasUsedView>> {
  const { result, receipts } = await collectReceipts(fn);
  return receipts.length === 0 ? result : { ...result, ...toGasUsedView(toGasUsed(receipts)) };
}

/** A fee estimate as JSON. */
export function toFeeView(estimate: FeeEstimate): FeeView {
  return {
    gas: estimate.gas.toString(),
    maxFeePerGas: estimate.maxFeePerGas.toString(),
    maxPriorityFeePerGas: estimate.maxPriorityFeePerGas.toString(),
    fee: estimate.fee.toString(),
  };
}

/** A receipt's gas used and price as JSON. */
export function toGasUsedView(used: GasUsed): GasUsedView {
  return { gasUsed: used.gasUsed.toString(), effectiveGasPrice: used.effectiveGasPrice.toString() };
}
