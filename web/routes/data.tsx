/**
 * `/data` — My data, the contributor's side and the seller's side of this node in one place:
 * - Sources: the exports the person imported (a DataSources island: import with a progress bar,
 *   the bank statement's column mapping, each source's rows and time span, a preview of what
 *   would be shared after anonymization, deletion);
 * - Browser extension: pairing the Kosmos extension (a one-time code) and the paired extensions,
 *   each revocable (an ExtensionPairing island); what it sends becomes a `browsing` source;
 * - Consents: what the person agreed to share, with each record's state on the consent contract
 *   (a DataConsents island: grant after seeing what is collected, for what, until when and how it
 *   pays; revoke in one click);
 * - Publications: anonymized datasets published from the sources with a valid consent (a
 *   DataPublish island) and their rows, privacy report, ownership record and sales;
 * - Listings: every dataset this node sells, with replication, stake, challenges, sales and
 *   delegates.
 * Loaded by {@link loadMyData}.
 */
import { EmptyState } from "../components/empty_state.tsx";
import { Island } from "../components/island.tsx";
import { MyListing } from "../components/my_listing.tsx";
import { PublicationCard } from "../components/publication_card.tsx";
import type { MyListingView } from "../../protocol/api/mod.ts";
import { loadMyData, type MyData } from "../data/load.ts";
import { formatEther } from "../format.ts";
import { DataConsents } from "../islands/data_consents.tsx";
import { DataPublish } from "../islands/data_publish.tsx";
import { DataSources } from "../islands/data_sources.tsx";
import { ExtensionPairing } from "../islands/extension_pairing.tsx";
import { definePage } from "../page.ts";
import { formatStake } from "./marketplace.tsx";

export const dataPage = definePage<MyData>({
  path: "/data",
  title: "My data",
  description:
    "Your imported data, what you consented to share and sell anonymized, and the datasets this node sells.",
  load: ({ facade, signal }) => loadMyData(facade, { signal }),
  Page: ({ data }) => {
    const { kinds, sources } = data.sources;
    const consents = data.consents.value ?? [];
    return (
      <>
        <section class="data-section" aria-labelledby="sources-title">
          <h2 id="sources-title">
            Sources <span class="badge" data-testid="sources-count">{sources.length}</span>
          </h2>
          <Island
            name="data_sources"
            component={DataSources}
            props={{
              kinds,
              sources,
              consents,
              publications: (data.publications.value ?? []).map((
                { id, manifestCid, title, kinds, sales },
              ) => ({
                id,
                manifestCid,
                title,
                kinds,
                sales,
              })),
            }}
          />
        </section>

        <section class="data-section" aria-labelledby="extension-title">
          <h2 id="extension-title">
            Browser extension <span class="badge">{data.extensionTokens.length}</span>
          </h2>
          <Island
            name="extension_pairing"
            component={ExtensionPairing}
            props={{ tokens: data.extensionTokens, error: null }}
          />
        </section>

        <section class="data-section" aria-labelledby="consents-title">
          <h2 id="consents-title">
            Consents{" "}
            <span class="badge" data-testid="consents-count">
              {consents.filter((c) => c.state === "valid").length}
            </span>
          </h2>
          <Island
            name="data_consents"
            component={DataConsents}
            props={{
              kinds,
              consents,
              wallet: data.wallet ?? "this node's wallet",
              error: data.consents.error,
            }}
          />
        </section>

        <section class="data-section" aria-labelledby="publications-title">
          <h2 id="publications-title">
            Publications <span class="badge">{data.publications.value?.length ?? 0}</span>
          </h2>
          <Island name="data_publish" component={DataPublish} props={{ kinds, sources, consents }} />
          {data.publications.error && (
            <p class="form-error" role="alert" data-testid="publications-error">{data.publications.error}</p>
          )}
          {data.publications.value?.map((p) => <PublicationCard key={p.id} publication={p} kinds={kinds} />)}
        </section>

        <section class="data-section" aria-labelledby="listings-title">
          <h2 id="listings-title">
            Listings <span class="badge">{data.listings.length}</span>
          </h2>
          <Listings listings={data.listings} />
        </section>
      </>
    );
  },
});

function Listings({ listings }: { listings: MyListingView[] }) {
  if (listings.length === 0) {
    return (
      <EmptyState icon="data" title="No datasets yet">
        <a href="/publish">Publish</a>{" "}
        a file to sell it, or publish from your sources above: its replication, stake, challenges and sales
        are listed here.
      </EmptyState>
    );
  }
  const sum = (f: (l: MyListingView) => string) => listings.reduce((a, l) => a + BigInt(f(l)), 0n);
  const sales = listings.reduce((a, l) => a + l.sales.count, 0);
  return (
    <>
      <div class="top-stats" data-testid="my-data-totals">
        <div class="top-stat">
          <span class="top-stat-label">Listings</span>
          <span class="top-stat-value">{listings.length}</span>
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
      {listings.map((l) => <MyListing key={l.manifestCid} listing={l} />)}
    </>
  );
}
