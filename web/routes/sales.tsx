/**
 * `/sales` — Sales: every key sale of this node's datasets, with the buyer,
 * the price, the state of the sale and what it pays this node (the seller's
 * share, plus the gateway's when this node brokered the sale, as it does for
 * its own listings by default), paid once the sale completes.
 */
import { EmptyState } from "../components/empty_state.tsx";
import { DayCell, ListingCell, PurchaseStatusCell } from "../components/key_sale.tsx";
import { TableCard } from "../components/table_card.tsx";
import type { SaleView } from "../../protocol/api/mod.ts";
import { shortenId } from "../format.ts";
import { definePage } from "../page.ts";
import { formatPrice } from "./marketplace.tsx";

interface SalesData {
  sales: (SaleView & { title: string | null })[];
}

export const salesPage = definePage<SalesData>({
  path: "/sales",
  title: "Sales",
  description: "Key sales of this node's datasets: who bought what, and what it paid out.",
  load: async ({ facade, signal }) => {
    const sales = await facade.listSales({ signal });
    const titles = await Promise.all(
      sales.map((s) => facade.getListing(s.listingId, { signal }).then((l) => l.title, () => null)),
    );
    return {
      sales: sales.map((s, i) => ({ ...s, title: titles[i] })).sort((a, b) => b.createdAt - a.createdAt),
    };
  },
  Page: ({ data }) => {
    if (data.sales.length === 0) {
      return (
        <EmptyState icon="sales" title="No sales yet">
          Once a buyer opens a key sale for one of your <a href="/data">datasets</a>, it shows up here.
        </EmptyState>
      );
    }
    return (
      <TableCard
        title="Sales"
        count={data.sales.length}
        class="sites-table"
        data-testid="sales"
        head={
          <>
            <th>Listing</th>
            <th>Buyer</th>
            <th class="num">Price</th>
            <th>Status</th>
            <th class="num">Payout</th>
            <th>Date</th>
          </>
        }
      >
        {data.sales.map((s) => (
          <tr key={s.saleId} data-sale-id={s.saleId} data-listing-id={s.listingId}>
            <ListingCell manifestCid={s.listingId} title={s.title} />
            <td>
              <code title={s.buyer} data-testid="sale-buyer">{shortenId(s.buyer, 8, 6)}</code>
            </td>
            <td class="num">{formatPrice(s.price)}</td>
            <PurchaseStatusCell status={s.status} error={s.error} testId="sale-status" />
            <td class="num" data-testid="sale-payout">{formatPayout(s)}</td>
            <DayCell ms={s.createdAt} />
          </tr>
        ))}
      </TableCard>
    );
  },
});

/** This node's payout once paid; pending while the sale runs; nothing when refunded or failed. */
function formatPayout(sale: SaleView): string {
  const share = formatPrice(sale.payout);
  if (sale.status === "complete") return share;
  if (sale.status === "refunded" || sale.status === "failed") return "—";
  return `${share} (pending)`;
}
