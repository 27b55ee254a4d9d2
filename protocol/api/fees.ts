/**
 * The HTTP API contract of transaction fees. Every endpoint that makes the
 * node sign a transaction accepts `?preview=1`: it validates everything,
 * estimates the fee on the chain, signs nothing, and answers
 * `200 { preview: true, fee: FeeView, ...what would happen }`. Without it, it
 * signs and answers as before, plus `fee` (the estimate it sent with) and
 * `gasUsed` where a receipt is known.
 *
 * ```ts
 * const { fee } = await requestJson<FeePreview>("/api/v1/stakes?preview=1", { method: "POST", body });
 * console.log(`at most ${formatEther(fee.fee)} ETH`);
 * ```
 */

import * as v from "valibot";

/** An estimated transaction fee. All figures in wei (gas in gas units), decimal strings. */
export interface FeeView {
  /** Gas the chain estimates (`eth_estimateGas`), summed over the transactions of the action. */
  gas: string;
  /** EIP-1559 fee cap per gas. */
  maxFeePerGas: string;
  /** EIP-1559 priority fee (tip) per gas. */
  maxPriorityFeePerGas: string;
  /** `gas × maxFeePerGas`: the most the action can cost, in wei. */
  fee: string;
}

/** What a signing endpoint answers with `?preview=1`; its other fields say what would happen. */
export interface FeePreview {
  preview: true;
  fee: FeeView;
}

/** What a transaction cost, from its receipt. Decimal strings. */
export interface GasUsedView {
  /** Gas the transaction used (summed when the action sent several). */
  gasUsed: string;
  /** The price paid per gas, in wei (of the last transaction when several). */
  effectiveGasPrice: string;
}

/** The query string every signing endpoint accepts: `?preview=1` (or `true`) estimates and signs nothing. */
export const PreviewQuery = v.object({
  preview: v.optional(
    v.pipe(
      v.picklist(["1", "0", "true", "false"], 'preview must be "1" or "0"'),
      v.transform((s) => s === "1" || s === "true"),
    ),
    "0",
  ),
});

/** Whether a request URL asks for a preview (`?preview=1`); anything else but `0`/absent is an error. */
export function isPreview(url: string | URL): boolean {
  const value = new URL(url, "http://x").searchParams.get("preview");
  const parsed = v.safeParse(PreviewQuery, value === null ? {} : { preview: value });
  if (!parsed.success) throw new TypeError(parsed.issues[0].message);
  return parsed.output.preview;
}

/** `POST /api/v1/stakes?preview=1`: a new listing (`created`) or more stake on this node's listing. */
export interface StakePreviewView extends FeePreview {
  created: boolean;
  /** The listing staked on, when it exists. */
  listingId?: string;
  /** The listing's stake afterwards, in token base units. */
  stake: string;
}

/** `POST /api/v1/stakes/:listingId/withdrawal?preview=1`: a request, or the withdrawal once the delay is over. */
export interface WithdrawStakePreviewView extends FeePreview {
  listingId: string;
  status: "requested" | "withdrawn";
  /** Tokens returned, when it withdraws. */
  amount?: string;
}

/** `POST /api/v1/challenges?preview=1`, `POST /api/v1/challenges/:listingId/resolve?preview=1` */
export interface ChallengePreviewView extends FeePreview {
  listingId: string;
}

/** `POST /api/v1/wallet/withdraw?preview=1` */
export interface WithdrawPayoutsPreviewView extends FeePreview {
  /** Tokens it would withdraw. */
  amount: string;
}

/**
 * `POST /api/v1/purchases?preview=1`: the seller's real quote (asking for one signs nothing on chain),
 * with `openWithPermit` and `confirm` estimated on it on the chain. Confirming opens this very quote
 * while it has time left. A listing already bought names its purchase and costs nothing.
 */
export interface BuyPreviewView extends FeePreview {
  /** v1 name: the manifest CID. */
  listingId: string;
  /** This node's purchase of the listing, when it has one: buying again pays nothing. */
  purchaseId?: string;
  /** The registry's listing id, price (token base units) and deadline (unix seconds) of the quote. */
  quote?: { registryListingId: string; price: string; deadline: number };
  /** Gas of each of the buyer's transactions; `confirm` is simulated, or measured on a chain that cannot. */
  gas?: { open: string; confirm: string; confirmSource: "simulated" | "measured" };
}

/** `POST /api/v1/listings/:id/delegates?preview=1`: the delegate's wallet (it was asked; no key sent). */
export interface DelegatePreviewView extends FeePreview {
  /** v1 name: the manifest CID. */
  listingId: string;
  registryListingId: string;
  peerId: string;
  delegate: `0x${string}`;
}

/** Fee previews of the signing endpoints (`?preview=1`); each validates as the write does and signs nothing. */
export interface FeesApi {
  previewStakeListing(
    params: { manifestCid: string; amount: bigint },
    options?: { signal?: AbortSignal },
  ): Promise<StakePreviewView>;
  previewWithdrawStake(
    listingId: bigint,
    options?: { signal?: AbortSignal },
  ): Promise<WithdrawStakePreviewView>;
  previewChallengeListing(
    params: { listingId: bigint; amount: bigint },
    options?: { signal?: AbortSignal },
  ): Promise<ChallengePreviewView>;
  /** Arbiter only (`NotArbiterError`). */
  previewResolveChallenge(
    listingId: bigint,
    params: { valid: boolean },
    options?: { signal?: AbortSignal },
  ): Promise<ChallengePreviewView>;
  previewWithdrawPayouts(options?: { signal?: AbortSignal }): Promise<WithdrawPayoutsPreviewView>;
  previewBuyListing(manifestCid: string, options?: { signal?: AbortSignal }): Promise<BuyPreviewView>;
  previewDelegateSales(
    manifestCid: string,
    params: { peerId: string },
    options?: { signal?: AbortSignal },
  ): Promise<DelegatePreviewView>;
}
