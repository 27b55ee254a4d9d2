/**
 * `/purchases` — My purchases: every dataset this node bought, with its
 * price, the state of the key sale, the licence bought and the date, and a
 * link to download the verified data again (rights are never paid twice).
 */
import { EmptyState } from "../components/empty_state.tsx";
import type { PurchaseStatus, PurchaseView } from "../facade.ts";
import { shortenId } from "../format.ts";
import { definePage } from "../page.ts";
import { formatPrice } from "./marketplace.tsx";

interface PurchasesData {
  purchases: (PurchaseView & { title: string | null })[];
}

export const purchaseStatusLabel: Record<PurchaseStatus, string> = {
  quoted: "Quoted",
  opened: "Locked",
  revealed: "Key revealed",
  verified: "Verified",
  downloading: "Downloading",
  complete: "Complete",
  refunded: "Refunded",
  failed: "Failed",
};

export const purchasesPage = definePage<PurchasesData>({
  path: "/purchases",
  title: "My purchases",
  description: "Datasets this node bought, the rights that came with them, and their data.",
  load: async ({ facade, signal }) => {
    const purchases = await facade.listPurchases({ signal });
    const titles = await Promise.all(
      purchases.map((p) => facade.getListing(p.listingId, { signal }).then((l) => l.title, () => null)),
    );
    return {
      purchases: purchases
        .map((p, i) => ({ ...p, title: titles[i] }))
        .sort((a, b) => b.createdAt - a.createdAt),
    };
  },
  Page: ({ data }) => {
    if (data.purchases.length === 0) {
      return (
        <EmptyState icon="purchases" title="No purchases yet">
          Open a dataset on the <a href="/">Marketplace</a>{" "}
          and press Buy: the key sale runs on chain and the data lands here.
        </EmptyState>
      );
    }
    return (
      <section class="card">
        <h2>
          Purchases <span class="badge">{data.purchases.length}</span>
        </h2>
        <div class="table-wrap">
          <table class="sites-table" data-testid="purchases">
            <thead>
              <tr>
                <th>Listing</th>
                <th class="num">Price</th>
                <th>Status</th>
                <th>Licence</th>
                <th>Date</th>
                <th>Data</th>
              </tr>
            </thead>
            <tbody>
              {data.purchases.map((p) => (
                <tr key={p.id} data-purchase-id={p.id} data-listing-id={p.listingId}>
                  <td>
                    <a href={`/datasets/${encodeURIComponent(p.listingId)}`} title={p.listingId}>
                      {p.title ?? shortenId(p.listingId, 12, 6)}
                    </a>
                  </td>
                  <td class="num">{formatPrice(p.price)}</td>
                  <td>
                    <span class={`status status-buy-${p.status}`} data-testid="purchase-status">
                      <span class="status-dot" aria-hidden="true" />
                      {purchaseStatusLabel[p.status]}
                    </span>
                    {p.error && <span class="muted-inline" title={p.error}>· {p.error.slice(0, 80)}</span>}
                  </td>
                  <td>{p.rights.licence}</td>
                  <td>
                    <time dateTime={new Date(p.createdAt).toISOString()}>{formatDay(p.createdAt)}</time>
                  </td>
                  <td>
                    {p.status === "complete"
                      ? (
                        <a href={`/api/v1/purchases/${p.id}/data`} data-testid="purchase-download" download>
                          Download
                        </a>
                      )
                      : <span class="muted-inline">—</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    );
  },
});

/** A date for tables: `2026-03-14 09:26 UTC`. */
export function formatDay(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace(/:\d\d\.\d+Z$/, " UTC");
}
