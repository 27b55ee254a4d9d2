/**
 * One listing this node sells, as My data shows it: price, replication, registry stake and its
 * withdrawal (a StakeWithdraw island), open challenges, sales and revenue, gateway, and its sale
 * delegates (a ListingDelegates island).
 */
import type { MyListingView } from "../../protocol/api/mod.ts";
import { formatDay, formatEther } from "../format.ts";
import { formatBytes } from "../islands/fetch_progress.tsx";
import { ListingDelegates } from "../islands/listing_delegates.tsx";
import { StakeWithdraw } from "../islands/stake_withdraw.tsx";
import { replicationLabel } from "../routes/dataset.tsx";
import { capitalize, formatPrice, formatStake } from "../routes/marketplace.tsx";
import { Island } from "./island.tsx";

export function MyListing({ listing: l }: { listing: MyListingView }) {
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
