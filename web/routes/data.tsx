/**
 * `/data` — My data: every listing this node publishes and sells, in one
 * place, each with its replication (providers / target), its registry stakes
 * and their withdrawal (a StakeWithdraw island: request, then withdraw when
 * due), open challenges, sales and revenue, and its sale delegates (a
 * ListingDelegates island: add by peer id, remove). One read,
 * `GET /api/v1/me/listings`.
 */
import { EmptyState } from "../components/empty_state.tsx";
import { Island } from "../components/island.tsx";
import type { MyListingView } from "../../protocol/api/mod.ts";
import { formatDay, formatEther } from "../format.ts";
import { formatBytes } from "../islands/fetch_progress.tsx";
import { ListingDelegates } from "../islands/listing_delegates.tsx";
import { StakeWithdraw } from "../islands/stake_withdraw.tsx";
import { definePage } from "../page.ts";
import { replicationLabel } from "./dataset.tsx";
import { capitalize, formatPrice, formatStake } from "./marketplace.tsx";

interface DataPageData {
  listings: MyListingView[];
}

export const dataPage = definePage<DataPageData>({
  path: "/data",
  title: "My data",
  description: "The datasets this node publishes and sells: replication, stake, challenges and sales.",
  load: async ({ facade, signal }) => ({ listings: await facade.listMyListings({ signal }) }),
  Page: ({ data }) => {
    if (data.listings.length === 0) {
      return (
        <EmptyState icon="data" title="No datasets yet">
          <a href="/publish">Publish</a>{" "}
          a file to sell it: its replication, stake, challenges and sales are listed here.
        </EmptyState>
      );
    }
    const sum = (f: (l: MyListingView) => string) => data.listings.reduce((a, l) => a + BigInt(f(l)), 0n);
    const sales = data.listings.reduce((a, l) => a + l.sales.count, 0);
    return (
      <>
        <div class="top-stats" data-testid="my-data-totals">
          <div class="top-stat">
            <span class="top-stat-label">Listings</span>
            <span class="top-stat-value">{data.listings.length}</span>
          </div>
          <div class="top-stat">
            <span class="top-stat-label">Staked</span>
            <span class="top-stat-value">{formatStake(sum((l) => l.stake).toString())}</span>
          </div>
          <div class="top-stat">
            <span class="top-stat-label">Sales</span>
            <span class="top-stat-value">{sales}</span>
          </div>
          <div class="top-stat">
            <span class="top-stat-label">Revenue</span>
            <span class="top-stat-value">{formatEther(sum((l) => l.sales.revenue))} KOS</span>
          </div>
        </div>
        {data.listings.map((l) => <MyListing key={l.manifestCid} listing={l} />)}
      </>
    );
  },
});

function MyListing({ listing: l }: { listing: MyListingView }) {
  const r = l.replication;
  const headingId = `listing-${l.manifestCid}`;
  return (
    <section
      class="card my-listing"
      aria-labelledby={headingId}
      data-testid="my-listing"
      data-manifest-cid={l.manifestCid}
    >
      <header class="card-header">
        <h2 id={headingId}>
          <a href={`/datasets/${encodeURIComponent(l.manifestCid)}`}>{l.title}</a>
        </h2>
        <span class="chip">{capitalize(l.category)}</span>
      </header>
      <ul class="listing-stats dataset-stats">
        <li>
          <strong>{formatPrice(l.price)}</strong>
          <span>price</span>
        </li>
        <li>
          <strong data-testid="my-replication">{r ? `${r.providers.length} / ${r.target}` : "—"}</strong>
          <span>{r ? replicationLabel[r.status].toLowerCase() : "not counted yet"}</span>
        </li>
        <li>
          <strong data-testid="my-stake">{formatStake(l.stake)}</strong>
          <span>staked</span>
        </li>
        <li>
          <strong data-testid="my-challenges">{l.challenges}</strong>
          <span>open challenge{l.challenges === 1 ? "" : "s"}</span>
        </li>
        <li>
          <strong data-testid="my-sales">{l.sales.count}</strong>
          <span>
            sale{l.sales.count === 1 ? "" : "s"}
            {l.sales.open > 0 && ` (${l.sales.open} running)`}
          </span>
        </li>
        <li>
          <strong data-testid="my-revenue">{formatEther(l.sales.revenue)} KOS</strong>
          <span>revenue</span>
        </li>
      </ul>
      <dl class="facts">
        <dt>Manifest</dt>
        <dd>
          <code class="break">{l.manifestCid}</code>
        </dd>
        <dt>Gateway</dt>
        <dd>
          <code class="break" data-testid="my-gateway">{l.gateway}</code>
        </dd>
        <dt>Size</dt>
        <dd>
          {formatBytes(l.byteLength)}, {l.rowCount.toLocaleString("en-US")} rows · {l.licence}
        </dd>
        <dt>Published</dt>
        <dd>{formatDay(l.createdAt)}</dd>
      </dl>
      <div class="grid">
        <div>
          <h3>Stake</h3>
          <Island name="stake_withdraw" component={StakeWithdraw} props={{ stakes: l.stakes }} />
          {l.stakes.length === 0 && (
            <p class="muted">
              <a href={`/datasets/${encodeURIComponent(l.manifestCid)}`}>Stake it</a> to make it buyable.
            </p>
          )}
        </div>
        <div>
          <h3>Delegates</h3>
          <Island
            name="listing_delegates"
            component={ListingDelegates}
            props={{ manifestCid: l.manifestCid, delegates: l.delegates, listed: l.stakes.length > 0 }}
          />
        </div>
      </div>
    </section>
  );
}
