/**
 * `/datasets/:id` — one dataset: what its signed announcement and manifest
 * say (size, rows, schema, masked preview, licence, seller), who provides
 * it, how well it is replicated, its privacy report and consent references
 * (before the buy button), its registry stake and open challenges
 * (with a StakeListing island: "Stake to list" on this node's own dataset,
 * "Challenge" on others'), a BuyListing island on others' datasets (quote,
 * Buy, the key sale step by step, or "Owned" with the download link), and a
 * FetchProgress island that downloads the encrypted chunks with live progress.
 */
import { Island } from "../components/island.tsx";
import type { ListingDetail, ListingReplication, PurchaseView } from "../../protocol/api/mod.ts";
import { HttpError } from "../http_error.ts";
import { BuyListing } from "../islands/buy_listing.tsx";
import { FetchProgress, formatBytes } from "../islands/fetch_progress.tsx";
import { StakeListing } from "../islands/stake_listing.tsx";
import { PrivacyReportFacts } from "../components/privacy_report.tsx";
import { definePage } from "../page.ts";
import { capitalize, formatPrice, formatStake, hueOf, PreviewTable } from "./marketplace.tsx";

export const replicationLabel: Record<ListingReplication["status"], string> = {
  pending: "Counting providers",
  replicated: "Replicated",
  "under-replicated": "Under-replicated",
  fetching: "Adding a replica",
  unavailable: "No live provider",
  elsewhere: "Kept by the nodes closest to it",
};

export interface DatasetData extends ListingDetail {
  /** Whether this node's wallet is the seller; `false` when the node cannot tell. */
  own: boolean;
  /** This node's purchase of the listing (the latest), or `null`. */
  purchase: PurchaseView | null;
}

export const datasetPage = definePage<DatasetData>({
  path: "/datasets/:id",
  title: "Dataset",
  description: "A listing on the network: its manifest, preview, providers and replication.",
  load: async ({ facade, url, signal }) => {
    const id = decodeURIComponent(url.pathname.split("/")[2] ?? "");
    try {
      const [listing, address] = await Promise.all([
        facade.getListing(id, { signal }),
        facade.getNodeInfo({ signal }).then((info) => info.address, () => null),
      ]);
      const own = address !== null && address.toLowerCase() === listing.seller.toLowerCase();
      const purchase = own ? null : await findPurchase(facade.listPurchases({ signal }), listing.manifestCid);
      return { ...listing, own, purchase };
    } catch (err) {
      const name = (err as Error).name;
      if (name === "NotFoundError" || name === "TypeError") {
        throw new HttpError(404, "not_found", `No dataset "${id.slice(0, 80)}" in this node's catalog`);
      }
      throw err;
    }
  },
  Page: ({ data }) => {
    const replication = data.replication;
    const providers = [...new Set([...(replication?.providers ?? []), ...data.providers])];
    return (
      <>
        <section class="card dataset-hero">
          <div class="dataset-hero-main">
            <span class="chip">{capitalize(data.category)}</span>
            <h2 class="dataset-title" data-testid="dataset-title">{data.title}</h2>
            {data.description && <p class="dataset-desc">{data.description}</p>}
          </div>
          <div class="dataset-price">
            <span class="price-big" data-testid="dataset-price">{formatPrice(data.price)}</span>
            <span class="muted">{data.licence}</span>
          </div>
          <ul class="listing-stats dataset-stats">
            <li>
              <strong>{formatBytes(data.byteLength)}</strong>
              <span>size</span>
            </li>
            <li>
              <strong>{data.rowCount.toLocaleString("en-US")}</strong>
              <span>rows</span>
            </li>
            <li>
              <strong>{data.chunkCount}</strong>
              <span>chunk{data.chunkCount === 1 ? "" : "s"}</span>
            </li>
            <li>
              <strong data-testid="dataset-providers">{providers.length}</strong>
              <span>provider{providers.length === 1 ? "" : "s"}</span>
            </li>
            <li>
              <strong data-testid="dataset-stake">{formatStake(data.stake)}</strong>
              <span>staked</span>
            </li>
            <li>
              <strong data-testid="dataset-challenges">{data.challenges}</strong>
              <span>challenge{data.challenges === 1 ? "" : "s"}</span>
            </li>
          </ul>
        </section>

        <Island
          name="stake_listing"
          component={StakeListing}
          props={{
            manifestCid: data.manifestCid,
            stake: data.stake,
            challenges: data.challenges,
            listingIds: data.onChain,
            own: data.own,
          }}
        />

        <PrivacySection manifest={data.manifest} />

        {!data.own && (
          <Island
            name="buy_listing"
            component={BuyListing}
            props={{ manifestCid: data.manifestCid, initial: data.purchase }}
          />
        )}

        <section class="card">
          <h2>Preview</h2>
          <PreviewTable schema={data.schema} rows={data.preview} />
          <p class="muted">Identifying columns are masked (•••). The full data is encrypted.</p>
        </section>

        <div class="grid">
          <section class="card">
            <h2>
              Schema <span class="badge">{data.schema.length}</span>
            </h2>
            {data.schema.length === 0
              ? <p class="empty">No columns detected.</p>
              : (
                <ul class="schema" data-testid="schema">
                  {data.schema.map((c) => (
                    <li key={c.name}>
                      <code>{c.name}</code>
                      <span class={`type type-${c.type}`}>{c.type}</span>
                    </li>
                  ))}
                </ul>
              )}
          </section>
          <section class="card">
            <h2>Manifest</h2>
            <dl class="facts">
              <dt>CID</dt>
              <dd>
                <code class="break" data-testid="manifest-cid">{data.manifestCid}</code>
              </dd>
              <dt>Seller</dt>
              <dd>
                <code class="break">{data.seller}</code>
              </dd>
              {data.gateway !== data.seller && (
                <>
                  <dt>Gateway</dt>
                  <dd>
                    <code class="break">{data.gateway}</code>
                  </dd>
                </>
              )}
              <dt>Created</dt>
              <dd>{formatDate(data.createdAt)}</dd>
              {data.manifest && (
                <>
                  <dt>Format</dt>
                  <dd>
                    {data.manifest.format.toUpperCase()}
                    {data.manifest.filename && <span class="muted-inline">· {data.manifest.filename}</span>}
                  </dd>
                  {data.manifest.timeRange?.from !== undefined && (
                    <>
                      <dt>Time range</dt>
                      <dd>
                        {formatDate(data.manifest.timeRange.from)} –{" "}
                        {formatDate(data.manifest.timeRange.to ?? data.manifest.timeRange.from)}
                      </dd>
                    </>
                  )}
                  <dt>Merkle root</dt>
                  <dd>
                    <code class="break">{data.manifest.merkleRoot}</code>
                  </dd>
                  <dt>Key commit</dt>
                  <dd>
                    <code class="break">{data.manifest.dekCommit}</code>
                  </dd>
                </>
              )}
            </dl>
          </section>
        </div>

        <div class="grid">
          <section class="card" data-testid="replication">
            <header class="card-header">
              <h2>Replication</h2>
              {replication
                ? (
                  <span class={`status status-${replication.status}`} data-testid="replication-status">
                    <span class="status-dot" aria-hidden="true" />
                    {replicationLabel[replication.status]}
                  </span>
                )
                : <span class="status">Not tracked here</span>}
            </header>
            {replication
              ? (
                <>
                  <p class="stat-value">
                    {replication.providers.length}
                    <span class="unit">/ {replication.target} providers</span>
                  </p>
                  <div class="progress" aria-hidden="true">
                    <span
                      class="progress-bar"
                      style={{
                        width: `${Math.min(100, (replication.providers.length / replication.target) * 100)}%`,
                      }}
                    />
                  </div>
                  <p class="muted">
                    {replication.local ? "This node holds every chunk. " : ""}
                    {replication.checkedAt > 0
                      ? `Counted ${formatDate(replication.checkedAt)}.`
                      : "Not counted yet."}
                  </p>
                </>
              )
              : (
                <p class="empty">
                  This node neither holds nor watches this dataset; the providers below come from its
                  announcement.
                </p>
              )}
          </section>
          <section class="card">
            <h2>
              Providers <span class="badge">{providers.length}</span>
            </h2>
            {providers.length === 0
              ? <p class="empty">No provider known yet.</p>
              : (
                <ul class="peers" data-testid="providers">
                  {providers.map((peer) => (
                    <li key={peer} data-peer-id={peer}>
                      <span class="avatar" style={{ "--hue": hueOf(peer) }} aria-hidden="true" />
                      <code class="break" title={peer}>{peer}</code>
                    </li>
                  ))}
                </ul>
              )}
          </section>
        </div>

        <Island
          name="fetch_progress"
          component={FetchProgress}
          props={{ manifestCid: data.manifestCid, chunkCount: data.chunkCount, initial: data.fetch }}
        />
      </>
    );
  },
});

/** The manifest's privacy report and consent references, shown before the buy button. */
function PrivacySection({ manifest }: { manifest: ListingDetail["manifest"] }) {
  return (
    <section class="card" aria-labelledby="privacy-title" data-testid="dataset-privacy">
      <h2 id="privacy-title">Privacy</h2>
      {manifest === null
        ? (
          <p class="muted">
            This node does not hold the manifest yet: its privacy report shows once it fetched it.
          </p>
        )
        : (
          <>
            <PrivacyReportFacts report={manifest.privacy} />
            <h3>Consent</h3>
            {manifest.consent.length === 0
              ? <p class="muted" data-testid="dataset-consent">No consent record is referenced.</p>
              : (
                <ul class="plain-list" data-testid="dataset-consent">
                  {manifest.consent.map((ref) => (
                    <li key={ref}>
                      <code class="break">{ref}</code>
                    </li>
                  ))}
                </ul>
              )}
          </>
        )}
    </section>
  );
}

/** The latest purchase of `listingId`; `null` when there is none or the node cannot list them. */
async function findPurchase(
  purchases: Promise<PurchaseView[]>,
  listingId: string,
): Promise<PurchaseView | null> {
  const mine = (await purchases.catch(() => [])).filter((p) => p.listingId === listingId);
  return mine.sort((a, b) => b.createdAt - a.createdAt)[0] ?? null;
}

function formatDate(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace(/:\d\d\.\d+Z$/, " UTC");
}
