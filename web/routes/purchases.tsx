/**
 * `/purchases` — My purchases: every dataset this node bought, with its
 * price, the state of the key sale, the licence bought and the date, and a
 * link to download the verified data again (rights are never paid twice).
 */
import { EmptyState } from "../components/empty_state.tsx";
import { DayCell, ListingCell, PurchaseStatusCell } from "../components/key_sale.tsx";
import { TableCard } from "../components/table_card.tsx";
import type { PurchaseView } from "../../protocol/api/mod.ts";
import { definePage } from "../page.ts";
import { formatPrice } from "./marketplace.tsx";

interface PurchasesData {
  purchases: (PurchaseView & { title: string | null })[];
}

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
      <TableCard
        title="Purchases"
        count={data.purchases.length}
        class="sites-table"
        data-testid="purchases"
        head={
          <>
            <th>Listing</th>
            <th class="num">Price</th>
            <th>Status</th>
            <th>Licence</th>
            <th>Date</th>
            <th>Data</th>
          </>
        }
      >
        {data.purchases.map((p) => (
          <tr key={p.id} data-purchase-id={p.id} data-listing-id={p.listingId}>
            <ListingCell manifestCid={p.listingId} title={p.title} />
            <td class="num">{formatPrice(p.price)}</td>
            <PurchaseStatusCell status={p.status} error={p.error} testId="purchase-status" />
            <td>{p.rights.licence}</td>
            <DayCell ms={p.createdAt} />
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
      </TableCard>
    );
  },
});
