/**
 * The HTTP API contract, "My data": the listings this node sells, each with what its seller
 * watches in one place (replication, registry stakes and their withdrawal, open challenges,
 * sales and revenue, sale delegates), and removing a sale delegate.
 * Views are the JSON bodies the routes answer with; `MyDataApi` is what the node implements.
 */

import * as v from "valibot";
import { toAddress } from "../ids.ts";
import type { StakeView } from "./chain.ts";
import type { ListingReplication } from "./datasets.ts";
import type { FeeView } from "./fees.ts";

/** The sales of one listing. Amounts in token base units, decimal strings. */
export interface MySalesSummary {
  /** Every sale started, whatever its state. */
  count: number;
  /** Sales paid out (`complete`). */
  complete: number;
  /** Sales still running (opened, revealed or disputed). */
  open: number;
  /** What complete sales paid this node's wallet. */
  revenue: string;
}

/** A wallet the escrow lets sell one of this node's registry listings. */
export interface SaleDelegateView {
  /** The registry's listing id (decimal). */
  registryListingId: string;
  delegate: `0x${string}`;
}

/** `GET /api/v1/me/listings`: one listing this node publishes and sells. */
export interface MyListingView {
  manifestCid: string;
  title: string;
  category: string;
  /** Token base units, decimal string. */
  price: string;
  licence: string;
  /** The gateway operator credited with 10 % of its sales (this node's wallet unless named). */
  gateway: `0x${string}`;
  byteLength: number;
  rowCount: number;
  createdAt: number;
  /** This node's replication count; `null` before the first. */
  replication: ListingReplication | null;
  /** Active registry stake summed over its registry listings, token base units. */
  stake: string;
  /** This wallet's registry listings of it, with their withdrawal state. */
  stakes: StakeView[];
  /** Open registry challenges against it. */
  challenges: number;
  sales: MySalesSummary;
  delegates: SaleDelegateView[];
}

/** Answer of `DELETE /api/v1/listings/:id/delegates/:address`. */
export interface RemoveDelegateResult {
  registryListingId: string;
  delegate: `0x${string}`;
  txHash: `0x${string}`;
}

/** Answer of `DELETE /api/v1/listings/:id/delegates/:address?preview=1`: the fee, nothing signed. */
export interface RemoveDelegatePreview {
  preview: true;
  fee: FeeView;
  registryListingId: string;
  delegate: `0x${string}`;
}

export interface MyDataApi {
  /** The listings this node sells, newest first. */
  listMyListings(options?: { signal?: AbortSignal }): Promise<MyListingView[]>;
  /**
   * Withdraws a delegate's approval to sell this node's listing `manifestCid` on the escrow.
   * Throws `NotFoundError` when it is not a delegate of that listing, `TypeError` for a bad address.
   */
  removeDelegate(
    manifestCid: string,
    params: { delegate: `0x${string}` },
    options?: { signal?: AbortSignal },
  ): Promise<RemoveDelegateResult>;
  /** What `removeDelegate` would do and its estimated fee; signs nothing. Throws like it. */
  previewRemoveDelegate(
    manifestCid: string,
    params: { delegate: `0x${string}` },
    options?: { signal?: AbortSignal },
  ): Promise<RemoveDelegatePreview>;
}

/** An EVM address in a path (`/listings/:id/delegates/:address`). */
export const DelegateAddress = v.pipe(
  v.string(),
  v.rawTransform<string, `0x${string}`>(({ dataset, addIssue, NEVER }) => {
    try {
      return toAddress(dataset.value);
    } catch {
      addIssue({
        message: `"${dataset.value.slice(0, 60)}" is not a wallet address (0x and 40 hex digits)`,
      });
      return NEVER;
    }
  }),
);
