/**
 * "My data": the listings this node sells, each joined with its replication count, this
 * wallet's registry stakes of it, its sales (from the market's store) and its sale delegates
 * (from the escrow), and removing a sale delegate. Reads only; the one write is the
 * delegation service's.
 */
import type { MyDataApi, MyListingView, MySalesSummary } from "../../protocol/api/my_data.ts";
import { toManifestCid } from "../../protocol/ids.ts";
import { NotFoundError } from "../errors.ts";
import type { Catalog, Listing } from "../services/catalog/mod.ts";
import { type ChainService, listOwnStakes } from "../services/chain/mod.ts";
import {
  listSaleDelegates,
  previewRemoveSaleDelegate,
  removeSaleDelegate,
  type SaleDelegate,
} from "../services/delegation/mod.ts";
import type { Identity } from "../services/identity/mod.ts";
import type { Market } from "../services/market/mod.ts";
import type { Replication } from "../services/replication/mod.ts";
import { toStakeView } from "./chain.ts";
import { toReplicationView } from "./datasets.ts";
import { toFeeView } from "./fees.ts";

export interface MyDataApiComponents {
  identity: Identity;
  chain: ChainService;
  catalog: Catalog;
  replication: Replication;
  market: Market;
}

/** Catalog pages read at once (the catalog's largest page). */
const PAGE = 100;

export function createMyDataApi(c: MyDataApiComponents): MyDataApi {
  const me = c.identity.account.address;

  function ownListings(): Listing[] {
    const listings: Listing[] = [];
    for (let offset = 0;; offset += PAGE) {
      const page = c.catalog.listListings({ seller: me, sort: "newest", limit: PAGE, offset });
      listings.push(...page.listings);
      if (page.listings.length < PAGE || listings.length >= page.total) return listings;
    }
  }

  return {
    async listMyListings(options = {}) {
      const listings = ownListings();
      const [stakes, sales] = await Promise.all([
        listOwnStakes(c),
        summarizeSales(c.market),
      ]);
      options.signal?.throwIfAborted();
      const delegates = await listSaleDelegates(c.chain, {
        owner: me,
        listingIds: stakes.map((s) => s.listingId),
      });
      return listings.map((listing): MyListingView => {
        const own = stakes.filter((s) => s.manifestCid === listing.manifestCid);
        const ids = new Set(own.map((s) => s.listingId));
        return {
          manifestCid: listing.manifestCid,
          title: listing.title,
          category: listing.category,
          price: listing.price,
          licence: listing.licence,
          gateway: listing.gateway,
          byteLength: listing.byteLength,
          rowCount: listing.rowCount,
          createdAt: listing.createdAt,
          replication: toReplicationView(c.replication, listing.manifestCid),
          stake: listing.stake,
          stakes: own.map(toStakeView),
          challenges: listing.challenges,
          sales: sales.get(listing.manifestCid) ?? { count: 0, complete: 0, open: 0, revenue: "0" },
          delegates: delegates.filter((d) => ids.has(d.listingId)).map(toDelegateView),
        };
      });
    },

    async removeDelegate(manifestCid, { delegate }, options = {}) {
      const listingId = await findDelegation(manifestCid, delegate);
      const { hash } = await removeSaleDelegate(c.chain, { listingId, delegate, signal: options.signal });
      return { registryListingId: listingId.toString(), delegate, txHash: hash };
    },

    async previewRemoveDelegate(manifestCid, { delegate }, options = {}) {
      const listingId = await findDelegation(manifestCid, delegate);
      const fee = await previewRemoveSaleDelegate(c.chain, { listingId, delegate, signal: options.signal });
      return { preview: true, fee: toFeeView(fee), registryListingId: listingId.toString(), delegate };
    },
  };

  /** The registry listing of `manifestCid` on which `delegate` sells for this node; `NotFoundError` if none. */
  async function findDelegation(manifestCid: string, delegate: `0x${string}`): Promise<bigint> {
    const cid = toManifestCid(manifestCid);
    const listingIds = (await listOwnStakes(c)).filter((s) => s.manifestCid === cid).map((s) => s.listingId);
    if (listingIds.length === 0) {
      throw new NotFoundError(`"${cid}" is not listed in the registry by this node`, {
        details: { manifestCid: cid },
      });
    }
    const approved = await listSaleDelegates(c.chain, { owner: me, listingIds });
    const found = approved.find((d) => d.delegate.toLowerCase() === delegate.toLowerCase());
    if (!found) {
      throw new NotFoundError(`${delegate} is not a sale delegate of "${cid}"`, {
        details: { manifestCid: cid, delegate },
      });
    }
    return found.listingId;
  }
}

/** This node's sales by manifest CID: how many, how many paid out or still running, and what they paid. */
export async function summarizeSales(market: Market): Promise<Map<string, MySalesSummary>> {
  const sales = market.listSales();
  const payouts = await Promise.all(sales.map((s) => market.payoutOf(s)));
  const byListing = new Map<string, MySalesSummary & { paid: bigint }>();
  sales.forEach((s, i) => {
    const summary = byListing.get(s.manifestCid) ??
      { count: 0, complete: 0, open: 0, revenue: "0", paid: 0n };
    summary.count++;
    if (s.status === "complete") {
      summary.complete++;
      summary.paid += payouts[i];
    } else if (s.status === "opened" || s.status === "revealed" || s.status === "disputed") {
      summary.open++;
    }
    byListing.set(s.manifestCid, summary);
  });
  return new Map(
    [...byListing].map((
      [cid, { paid, ...summary }],
    ) => [cid, { ...summary, revenue: paid.toString() }]),
  );
}

function toDelegateView(d: SaleDelegate) {
  return { registryListingId: d.listingId.toString(), delegate: d.delegate };
}
