/**
 * `/purchases` — My purchases: every dataset this node bought, with its
 * price, the state of the key sale, the licence bought and the date, and a
 * link to download the verified data again (rights are never paid twice).
 * A complete purchase also exports its rows as CSV or NDJSON
 * (`GET /api/v1/purchases/:id/export`) and delivers them to a connector (a
 * PurchaseDelivery island per purchase, with its deliveries so far).
 */
import { EmptyState } from "../components/empty_state.tsx";
import { DayCell, ListingCell, PurchaseStatusCell } from "../components/key_sale.tsx";
import { TableCard } from "../components/table_card.tsx";
import { Island } from "../components/island.tsx";
import type { DeliveryView, PurchaseView } from "../../protocol/api/mod.ts";
import { PurchaseDelivery } from "../islands/purchase_delivery.tsx";
import { definePage } from "../page.ts";
import { formatPrice } from "./marketplace.tsx";

interface PurchasesData {
  purchases: (PurchaseView & { title: string | null })[];
  deliveries: DeliveryView[];
}

export const purchasesPage = definePage<PurchasesData>({
  path: "/purchases",
  title: "My purchases",
  description: "Datasets this node bought, the rights that came with them, and their data.",
  load: async ({ facade, signal }) => {
    const [purchases, deliveries] = await Promise.all([
      facade.listPurchases({ signal }),
      facade.listDeliveries({ signal }),
    ]);
    const titles = await Promise.all(
      purchases.map((p) => facade.getListing(p.listingId, { signal }).then((l) => l.title, () => null)),
    );
    return {
      purchases: purchases
        .map((p, i) => ({ ...p, title: titles[i] }))
        .sort((a, b) => b.createdAt - a.createdAt),
      deliveries,
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
    const complete = data.purchases.filter((p) => p.status === "complete");
    return (
      <>
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
                    <span class="actions">
                      <a href={`/api/v1/purchases/${p.id}/data`} data-testid="purchase-download" download>
                        Download
                      </a>
                      <a
                        href={`/api/v1/purchases/${p.id}/export?format=csv`}
                        data-testid="purchase-export-csv"
                        download
                      >
                        CSV
                      </a>
                      <a
                        href={`/api/v1/purchases/${p.id}/export?format=ndjson`}
                        data-testid="purchase-export-ndjson"
                        download
                      >
                        NDJSON
                      </a>
                    </span>
                  )
                  : <span class="muted-inline">—</span>}
              </td>
            </tr>
          ))}
        </TableCard>
        {complete.map((p) => (
          <section
            key={p.id}
            class="card"
            aria-label={`Deliveries of ${p.title ?? p.listingId}`}
            data-testid="purchase-deliveries"
            data-purchase-id={p.id}
          >
            <h2>Deliver {p.title ?? "purchase"}</h2>
            <p class="muted">
              Sends the verified rows to a directory on this node or to a webhook, in batches, in the
              background.
            </p>
            <Island
              name="purchase_delivery"
              component={PurchaseDelivery}
              props={{
                purchaseId: p.id,
                deliveries: data.deliveries.filter((d) => d.purchaseId === p.id),
              }}
            />
          </section>
        ))}
      </>
    );
  },
});
