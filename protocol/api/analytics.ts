/**
 * The HTTP API contract, analytics of sites: statistics and their differentially private releases.
 * Views are the JSON bodies the routes answer with; `AnalyticsApi` is what the node implements.
 */

import { isPlainObject, parsed, parsePrice, TOKEN_DECIMALS } from "./schema.ts";

/** `POST /api/v2/query` answer (Plausible's Stats API v2 shape); see `node/services/analytics/query.ts`. */
export interface StatsResult {
  /** One row per group: metric values in the order asked, dimension values in the order asked. */
  results: { metrics: number[]; dimensions: string[] }[];
  meta: Record<string, unknown>;
  /** The query as it ran: defaults filled in, `date_range` resolved to two ISO 8601 UTC instants. */
  query: {
    site_id: string;
    date_range: [string, string];
    metrics: string[];
    dimensions: string[];
    filters: [string, string, string[]][];
    order_by: [string, "asc" | "desc"][];
    pagination: { limit: number; offset: number };
  };
}

/** A site with analytics events on this node (the Sites page). */
export interface AnalyticsSiteView {
  domain: string;
  /** Visitors and pageviews in the last 30 days, today included. */
  visitors: number;
  pageviews: number;
  /** Events ever recorded. */
  events: number;
  firstEventAt: number;
  lastEventAt: number;
}

/** A site's differential-privacy budget, ε per person: in total, spent by releases, and left. */
export interface PrivacyBudgetView {
  total: number;
  spent: number;
  remaining: number;
}

/** A release of a site's statistics (`GET /api/v1/sites/:domain/releases`); never the table itself. */
export interface ReleaseView {
  id: string;
  /** `published`; `empty` when every row was suppressed; `failed` when publishing failed (ε spent in all three). */
  status: "pending" | "published" | "empty" | "failed";
  /** First and last day, `YYYY-MM-DD` (UTC). */
  from: string;
  to: string;
  /** The breakdown besides the day; `null` for one row per day. */
  dimension: string | null;
  /** ε per person over the whole range, charged once. */
  epsilon: number;
  /** The minimum count asked for. */
  k: number;
  /** The least noisy visitor count of a released row (k, raised for open dimensions). */
  threshold: number;
  /** δ of the release; 0 for days alone and devices. */
  delta: number;
  /** Rows published, as the CSV shows them (nothing about the rows withheld). */
  rows: number;
  title: string;
  /** Token base units, decimal string. */
  price: string;
  licence: string;
  /** The dataset, once published. */
  manifestCid: string | null;
  createdAt: number;
  error: string | null;
}

/** How much one visitor id (one browser on one day) may add to a release. */
export interface ContributionBoundsView {
  maxVisits: number;
  maxPageviews: number;
  maxCells: number;
}

/** What a release may ask for on this node; with `estimateRelease` (`protocol/release_privacy.ts`) its cost. */
export interface ReleasePolicyView {
  /** Most ε one release may spend, per person. */
  maxEpsilon: number;
  /** δ of open-domain releases. */
  delta: number;
  /** Longest range of one release, days. */
  maxDays: number;
  /** Per dimension id (`none` for days alone): bounds of one visitor id, and whether the rows are a fixed grid. */
  dimensions: Record<string, { bounds: ContributionBoundsView; fixedGrid: boolean }>;
}

/** `POST /api/v1/sites/:domain/releases`, already shaped by the route. */
export interface CreateReleaseInput {
  /** `YYYY-MM-DD`, UTC, first and last day included. */
  from: string;
  to: string;
  /** One of page, entry_page, source, device, browser, os. @default none: one row per day */
  dimension?: string | null;
  epsilon: number;
  /** @default 10 */
  k?: number;
  title: string;
  /** @default "" */
  description?: string;
  /** Token base units, decimal string. */
  price: string;
  licence: string;
  /** Count only visitors who agreed (`kosmos.consent(true)` in the tracker). @default false */
  consentedOnly?: boolean;
}

/** `201` answer of `POST /api/v1/sites/:domain/releases`. */
export interface CreatedRelease {
  /** v1 name: the manifest CID. */
  id: string;
  manifestCid: string;
  release: ReleaseView;
  budget: PrivacyBudgetView;
}

/** What a release can break the days down by, as the form offers it. */
export const RELEASE_DIMENSION_OPTIONS = [
  { id: "page", label: "page" },
  { id: "entry_page", label: "entry page" },
  { id: "source", label: "source" },
  { id: "device", label: "device" },
  { id: "browser", label: "browser" },
  { id: "os", label: "operating system" },
];

/** The fields of a release request. */
export const RELEASE_FIELDS = [
  "from",
  "to",
  "dimension",
  "epsilon",
  "k",
  "title",
  "description",
  "price",
  "licence",
  "consentedOnly",
] as const;

/** Shapes the JSON body of a release into the API's input; throws a `TypeError` naming the first bad field. */
export function parseReleaseBody(body: unknown): CreateReleaseInput {
  const bad = (message: string) => new TypeError(message);
  if (!isPlainObject(body)) {
    throw bad(
      'Expected a JSON object like { "from": "2024-03-01", "to": "2024-03-31", "epsilon": 1, "title": "…", "price": "2.5", "licence": "CC-BY-4.0" }',
    );
  }
  const fields = body as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!(RELEASE_FIELDS as readonly string[]).includes(key)) {
      throw bad(`Unknown field "${key.slice(0, 40)}"; the fields are ${RELEASE_FIELDS.join(", ")}`);
    }
  }
  const string = (name: string, required: boolean): string | undefined => {
    const value = fields[name];
    if (value === undefined || value === null) {
      if (required) throw bad(`Field "${name}" is required`);
      return undefined;
    }
    if (typeof value !== "string") throw bad(`Field "${name}" must be a string`);
    return value;
  };
  const number = (name: string, required: boolean): number | undefined => {
    const value = fields[name];
    if (value === undefined || value === null) {
      if (required) throw bad(`Field "${name}" is required`);
      return undefined;
    }
    if (typeof value !== "number" || !Number.isFinite(value)) throw bad(`Field "${name}" must be a number`);
    return value;
  };
  const from = string("from", true)!;
  const to = string("to", true)!;
  const dimension = string("dimension", false);
  const epsilon = number("epsilon", true)!;
  const k = number("k", false);
  const title = string("title", true)!;
  const description = string("description", false);
  const licence = string("licence", true)!;
  const priceValue = fields.price;
  if (priceValue === undefined || priceValue === null) throw bad('Field "price" is required');
  const priceText = typeof priceValue === "number" && Number.isFinite(priceValue) && priceValue >= 0
    ? String(priceValue)
    : priceValue;
  const price = typeof priceText === "string" ? parsePrice(priceText.trim()) : undefined;
  if (price === undefined) {
    throw bad(`Field "price" must be a token amount such as "2.5", with at most ${TOKEN_DECIMALS} decimals`);
  }
  const consentedOnly = fields.consentedOnly;
  if (consentedOnly !== undefined && typeof consentedOnly !== "boolean") {
    throw bad('Field "consentedOnly" must be true or false');
  }
  const input: CreateReleaseInput = { from, to, epsilon, title, price, licence };
  if (consentedOnly) input.consentedOnly = true;
  if (dimension !== undefined && dimension !== "" && dimension !== "none") input.dimension = dimension;
  if (k !== undefined) input.k = k;
  if (description !== undefined) input.description = description;
  return input;
}

/** `POST /api/v1/sites/:domain/releases` */
export const CreateReleaseBody = parsed(parseReleaseBody);

export interface AnalyticsApi {
  /**
   * Analytics of sites this node owns or has events for. `queryStats` takes a
   * Plausible Stats API v2 body; it throws `TypeError` naming the bad field,
   * `NotFoundError` for a site this node neither owns nor has events for.
   */
  queryStats(query: unknown, options?: { signal?: AbortSignal }): Promise<StatsResult>;
  /** Distinct visitors of the last 5 minutes; throws like `queryStats`. */
  getRealtimeVisitors(domain: string, options?: { signal?: AbortSignal }): Promise<{ visitors: number }>;
  /** Sites with analytics events, most recently active first. */
  listAnalyticsSites(options?: { signal?: AbortSignal }): Promise<AnalyticsSiteView[]>;
  /**
   * Selling statistics of a site this node owns: computes a differentially private table,
   * charges its ε to the site's privacy budget, then publishes it as a dataset. Throws, with
   * nothing charged: `TypeError` naming a bad field, `NotFoundError` (not this node's site),
   * `ReleaseCapError` (ε above what one release may spend), `PrivacyBudgetError`; with ε charged: `EmptyReleaseError` (every row suppressed), or the
   * publish path's errors.
   */
  createRelease(
    domain: string,
    input: CreateReleaseInput,
    options?: { signal?: AbortSignal },
  ): Promise<CreatedRelease>;
  /** A site's privacy budget, releases (newest first) and the node's release policy; throws like `createRelease`. */
  listReleases(
    domain: string,
    options?: { signal?: AbortSignal },
  ): Promise<{ budget: PrivacyBudgetView; releases: ReleaseView[]; policy: ReleasePolicyView }>;
}
