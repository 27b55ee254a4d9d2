/**
 * `/` — the marketplace: every listing this node's catalog holds, announced
 * by peers or published here, with search, a category filter and sorting.
 * A plain GET form (no script needed): `/?q=air&category=environment&sort=price`.
 */
import { EmptyState } from "../components/empty_state.tsx";
import type { ListingsPage, ListingsQuery, ListingView } from "../../protocol/api/mod.ts";
import { formatEther, shortenId } from "../format.ts";
import { formatBytes } from "../islands/fetch_progress.tsx";
import { definePage } from "../page.ts";
import { CATEGORIES } from "../../protocol/manifest.ts";

const SORTS = [
  { value: "newest", label: "Newest" },
  { value: "price", label: "Lowest price" },
  { value: "stake", label: "Highest stake" },
  { value: "relevance", label: "Best match" },
] as const;

export interface MarketplaceData {
  page: ListingsPage;
  q: string;
  category: string;
  sort: string;
}

export const marketplacePage = definePage<MarketplaceData>({
  path: "/",
  title: "Marketplace",
  description: "Datasets announced on the network, encrypted and replicated across its nodes.",
  load: async ({ facade, url, signal }) => {
    const params = url.searchParams;
    const q = (params.get("q") ?? "").slice(0, 200);
    const category = (CATEGORIES as readonly string[]).includes(params.get("category") ?? "")
      ? params.get("category")!
      : "";
    const sortParam = params.get("sort") ?? "";
    const sort = SORTS.some((s) => s.value === sortParam) ? sortParam : "";
    const query: ListingsQuery = { limit: 60 };
    if (q.trim()) query.q = q;
    if (category) query.category = category;
    if (sort) query.sort = sort as ListingsQuery["sort"];
    const page = await facade.listListings(query, { signal });
    return { page, q, category, sort };
  },
  Page: ({ data }) => {
    const filtered = data.q.trim() !== "" || data.category !== "";
    return (
      <>
        <form class="card toolbar" method="get" action="/" role="search" data-testid="market-search">
          <label class="search">
            <span class="sr-only">Search</span>
            <input
              type="search"
              name="q"
              value={data.q}
              placeholder="Search datasets, columns…"
              maxLength={200}
            />
          </label>
          <label>
            <span class="sr-only">Category</span>
            <select name="category" data-testid="market-category">
              <option value="">All categories</option>
              {CATEGORIES.map((c) => (
                <option key={c} value={c} selected={c === data.category}>{capitalize(c)}</option>
              ))}
            </select>
          </label>
          <label>
            <span class="sr-only">Sort by</span>
            <select name="sort" data-testid="market-sort">
              {SORTS.map((s) => (
                <option key={s.value} value={s.value} selected={s.value === (data.sort || "")}>
                  {s.label}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" class="button">Search</button>
          <a class="button button-secondary toolbar-end" href="/publish">Publish a dataset</a>
        </form>
        {data.page.listings.length === 0
          ? (
            <EmptyState icon="market" title={filtered ? "No listings match" : "No listings yet"}>
              {filtered
                ? "Nothing in this node's catalog matches. Try other words or another category."
                : "Listings appear here as this node hears signed announcements from its peers, or when you publish a dataset yourself."}
            </EmptyState>
          )
          : (
            <>
              <p class="result-count" data-testid="listing-count">
                {data.page.total} listing{data.page.total === 1 ? "" : "s"}
                {filtered ? " match" : ""}
              </p>
              <div class="listing-grid" data-testid="listings">
                {data.page.listings.map((listing) => <ListingCard key={listing.id} listing={listing} />)}
              </div>
            </>
          )}
      </>
    );
  },
});

function ListingCard({ listing }: { listing: ListingView }) {
  const providers = new Set([...listing.providers, ...(listing.replication?.providers ?? [])]).size;
  return (
    <a
      class="card listing-card"
      href={`/datasets/${listing.id}`}
      data-testid="listing"
      data-listing-id={listing.id}
    >
      <header class="listing-head">
        <span class="chip">{capitalize(listing.category)}</span>
        <span class="price" data-testid="listing-price">{formatPrice(listing.price)}</span>
      </header>
      <h3 class="listing-title">{listing.title}</h3>
      {listing.description && <p class="listing-desc">{listing.description}</p>}
      <ul class="listing-stats">
        <li>
          <strong>{formatBytes(listing.byteLength)}</strong>
          <span>size</span>
        </li>
        <li>
          <strong>{listing.rowCount.toLocaleString("en-US")}</strong>
          <span>rows</span>
        </li>
        <li>
          <strong data-testid="listing-providers">{providers}</strong>
          <span>provider{providers === 1 ? "" : "s"}</span>
        </li>
        <li>
          <strong data-testid="listing-stake">{formatStake(listing.stake)}</strong>
          <span>staked</span>
        </li>
        <li class={listing.challenges > 0 ? "challenged" : undefined}>
          <strong data-testid="listing-challenges">{listing.challenges}</strong>
          <span>challenge{listing.challenges === 1 ? "" : "s"}</span>
        </li>
      </ul>
      <PreviewTable schema={listing.schema} rows={listing.preview} maxRows={3} maxColumns={4} compact />
      <footer class="listing-foot">
        <span class="avatar" style={{ "--hue": hueOf(listing.seller) }} aria-hidden="true" />
        <code title={listing.seller}>{shortenId(listing.seller, 6, 4)}</code>
        <span class="listing-licence">{listing.licence}</span>
      </footer>
    </a>
  );
}

export interface PreviewTableProps {
  schema: ListingView["schema"];
  rows: ListingView["preview"];
  /** @default all */
  maxRows?: number;
  /** @default all */
  maxColumns?: number;
  /** Smaller type, for cards. @default false */
  compact?: boolean;
}

/** The masked preview rows of a listing, under the column names. */
export function PreviewTable(
  { schema, rows, maxRows = Infinity, maxColumns = Infinity, compact = false }: PreviewTableProps,
) {
  if (schema.length === 0 || rows.length === 0) return <p class="empty">No preview.</p>;
  const columns = schema.slice(0, maxColumns);
  const hidden = schema.length - columns.length;
  return (
    <div class={`table-wrap${compact ? " compact" : ""}`}>
      <table class="preview" data-testid="preview">
        <thead>
          <tr>
            {columns.map((c) => <th key={c.name} title={c.type}>{c.name}</th>)}
            {hidden > 0 && <th class="more">+{hidden}</th>}
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, maxRows).map((row, r) => (
            <tr key={r}>
              {columns.map((_, i) => (
                <td key={i} class={row[i] === "•••" ? "masked" : undefined}>{formatCell(row[i])}</td>
              ))}
              {hidden > 0 && <td class="more">…</td>}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A price in base units as KOS: `2.5 KOS`, or `Free`. */
export function formatPrice(price: string): string {
  return /^0+$/.test(price) ? "Free" : `${formatEther(price)} KOS`;
}

/** A stake in base units as KOS: `100 KOS`, `0 KOS`. */
export function formatStake(stake: string): string {
  return `${formatEther(stake)} KOS`;
}

export function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A stable colour per id. */
export function hueOf(id: string): number {
  let hash = 0;
  for (let i = 0; i < id.length; i++) hash = (hash * 31 + id.charCodeAt(i)) >>> 0;
  return hash % 360;
}

function formatCell(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return "—";
  return String(value);
}
