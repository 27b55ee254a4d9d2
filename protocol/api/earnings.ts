/**
 * The HTTP API contract of earnings: what each pool sale's and each mining epoch's reward
 * distribution owes this node's wallet (recomputed from the chain's events and checked against the
 * root on chain: a distribution the events do not imply is `unverifiable` and never claimed), claims
 * (`POST /api/v1/earnings/claims`, idempotent, `?preview=1`), and the mining schedule with every epoch
 * published (`GET /api/v1/mining`). Amounts are token base units as decimal strings, times ms.
 */

import * as v from "valibot";
import type { FeePreview, GasUsedView } from "./fees.ts";
import { strictBody } from "./schema.ts";

/** `claimable`: verified and not claimed; `claimed`: paid; `unverifiable`: its root or total do not match the events. */
export type EarningStatus = "claimable" | "claimed" | "unverifiable";

/** What one distribution owes this wallet. */
export interface EarningView {
  /** The distribution's id on the rewards contract (decimal). */
  distributionId: string;
  source: "pool" | "mining";
  /** Pool sales: the pool (decimal), the escrow sale and the version's registry listing id. */
  poolId?: string;
  saleId?: `0x${string}`;
  listingId?: string;
  /** Mining: the epoch. */
  epoch?: number;
  /** This wallet's share, token base units; `"0"` when unverifiable before the share is known. */
  amount: string;
  claimed: boolean;
  /** The transaction that claimed it, when known. */
  claimTxHash: `0x${string}` | null;
  status: EarningStatus;
  /** Why it is unverifiable. */
  reason?: string;
}

/** The mining schedule (fixed at deployment) and where it stands on the chain's clock. */
export interface MiningScheduleView {
  /** When epoch 0 starts, ms. */
  start: number;
  /** Length of an epoch, ms. */
  epochLength: number;
  /** Reward of the first epochs, token base units. */
  initialReward: string;
  /** The reward halves every this many epochs. */
  halvingEpochs: number;
  /** Tokens the mining contract was given at deployment. */
  allocation: string;
  /** The epoch now; `null` before `start`. */
  currentEpoch: number | null;
  /** Reward of the current epoch. */
  currentReward: string;
  /** When the current epoch ends, ms. */
  epochEndsAt: number;
  nextHalvingEpoch: number;
  /** ms. */
  nextHalvingAt: number;
  /** Allocation minus every epoch published. */
  allocationLeft: string;
  /** Who publishes the epochs. */
  distributor: `0x${string}`;
  /** Whether this node's wallet is the distributor (its node publishes). */
  isDistributor: boolean;
}

/** `GET /api/v1/earnings`. */
export interface EarningsView {
  pools: EarningView[];
  epochs: EarningView[];
  /** `null` on a chain without the mining contract. */
  schedule: MiningScheduleView | null;
  /** Sum of every verified earning, claimed or not. */
  total: string;
  /** Sum of the verified earnings not claimed yet. */
  claimable: string;
}

/** One claim: sent now, or made earlier (`txHash` null when made elsewhere and not found yet). */
export interface ClaimView {
  distributionId: string;
  amount: string;
  txHash: `0x${string}` | null;
}

/** `POST /api/v1/earnings/claims`: what was sent now, and what had been claimed before (nothing sent for it). */
export interface ClaimsView extends Partial<GasUsedView> {
  claimed: ClaimView[];
  alreadyClaimed: ClaimView[];
}

/** `POST /api/v1/earnings/claims?preview=1`: the claims it would send (fee summed over them). */
export interface ClaimsPreviewView extends FeePreview {
  claims: ClaimView[];
  alreadyClaimed: ClaimView[];
}

/** One published mining epoch. */
export interface MiningEpochView {
  epoch: number;
  distributionId: string;
  root: `0x${string}`;
  total: string;
}

/** `GET /api/v1/mining`. */
export interface MiningView {
  schedule: MiningScheduleView;
  epochs: MiningEpochView[];
}

export interface EarningsApi {
  getEarnings(options?: { signal?: AbortSignal }): Promise<EarningsView>;
  /** Without `distributionId`: every claimable earning. */
  claimEarnings(params: { distributionId?: string }, options?: { signal?: AbortSignal }): Promise<ClaimsView>;
  previewClaimEarnings(
    params: { distributionId?: string },
    options?: { signal?: AbortSignal },
  ): Promise<ClaimsPreviewView>;
  getMining(options?: { signal?: AbortSignal }): Promise<MiningView>;
}

/** A distribution id: a positive decimal integer. */
export const distributionId = v.pipe(
  v.string('"distributionId" must be a string: the distribution\'s id, such as "3"'),
  v.check(
    (id) => /^[1-9]\d{0,76}$/.test(id),
    (issue) =>
      `"distributionId" must be a distribution's id (a positive whole number), got ${
        JSON.stringify(issue.input)?.slice(0, 40)
      }`,
  ),
);

/** `POST /api/v1/earnings/claims` (and `?preview=1`). */
export const ClaimBody = v.pipe(
  strictBody({ distributionId: v.optional(distributionId) }, {
    example: '{ "distributionId": "3" } (or {} for every claimable earning)',
  }),
  v.transform((body): { distributionId?: string } => body),
);
