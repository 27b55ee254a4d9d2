/**
 * The bounded true counts a statistics release starts from (the noise, the
 * suppression and the CSV are `releases/noise.ts`'s). It lives here because
 * the events reader's worker computes it over its own connection.
 *
 * {@link computeBoundedTable}: per UTC day (and optionally one dimension) the
 * true counts of visitors, visits and pageviews, with every visitor id's
 * contribution bounded: at most `maxVisits` visits (the earliest),
 * `maxPageviews` pageviews and `maxCells` rows; the excess is dropped. A
 * visitor id is a keyed hash with a salt that rotates daily: one person on
 * one UTC day. A person seen on several days is several visitor ids the node
 * cannot link (by design), so the release's noise is calibrated to a person:
 * D visitor ids over D days (`protocol/release_privacy.ts`). Only aggregates
 * leave this file: no visitor id, timestamp or raw row enters the table.
 *
 * ```ts
 * const table = computeBoundedTable(db, "example.com", { from: "2024-03-01", to: "2024-03-31", dimension: "page" });
 * ```
 */
import type { Database } from "../db/mod.ts";
import { day } from "../../constants.ts";
import { checkDomain } from "./schema.ts";
import { checkRawEventsKept } from "./retention.ts";
import type { ContributionBounds } from "../../../protocol/release_privacy.ts";

/** Dimensions a release can break the days down by. */
export const RELEASE_DIMENSIONS = ["page", "entry_page", "source", "device", "browser", "os"] as const;
export type ReleaseDimension = typeof RELEASE_DIMENSIONS[number];

/** The device classes the ingest path assigns: the fixed values of the `device` dimension. */
export const DEVICE_VALUES = ["desktop", "mobile", "tablet", "other"] as const;

/** How much one visitor id may add to a release. */
export type { ContributionBounds } from "../../../protocol/release_privacy.ts";

/** @default bounds: 3 visits and 10 pageviews per visitor id. */
export const DEFAULT_MAX_VISITS = 3;
export const DEFAULT_MAX_PAGEVIEWS = 10;

/**
 * Rows per visitor id by dimension. A visitor id is one day, and the device,
 * browser and OS are derived from the user agent that is part of the id, so
 * one row covers an honest visitor there; pages and entry pages vary most.
 */
export const DEFAULT_MAX_CELLS: Record<ReleaseDimension | "none", number> = {
  none: 1,
  device: 1,
  browser: 1,
  os: 1,
  source: 2,
  entry_page: 3,
  page: 3,
};

/** Longest released dimension value; longer ones are cut. */
export const MAX_VALUE_LENGTH = 256;

export function getDefaultBounds(dimension: ReleaseDimension | null): ContributionBounds {
  return {
    maxVisits: DEFAULT_MAX_VISITS,
    maxPageviews: DEFAULT_MAX_PAGEVIEWS,
    maxCells: DEFAULT_MAX_CELLS[dimension ?? "none"],
  };
}

/** One row of a table: a day, a dimension value (or none), three counts. */
export interface ReleaseRow {
  /** `YYYY-MM-DD`, UTC. */
  date: string;
  /** `null` for a table without a dimension. */
  value: string | null;
  visitors: number;
  visits: number;
  pageviews: number;
}

export interface BoundedTable {
  dimension: ReleaseDimension | null;
  /** First and last day, `YYYY-MM-DD`. */
  from: string;
  to: string;
  bounds: ContributionBounds;
  /** The rows to noise: the whole grid for fixed-value dimensions, else the rows that occur. */
  rows: ReleaseRow[];
  /** Whether the set of rows is fixed in advance (none, device) or depends on the data. */
  publicDomain: boolean;
  /** What the bounds dropped (owner-side only, never released). */
  dropped: { visits: number; pageviews: number };
}

export interface ComputeBoundedTableOptions {
  /** Only events (visits) of visitors who agreed (`consented = 1`). @default false */
  consentedOnly?: boolean;
  /** First day, `YYYY-MM-DD` (UTC). */
  from: string;
  /** Last day included, `YYYY-MM-DD` (UTC). */
  to: string;
  /** @default null: one row per day */
  dimension?: ReleaseDimension | null;
  /** @default {@link getDefaultBounds} */
  bounds?: Partial<ContributionBounds>;
}

/** Parses a `YYYY-MM-DD` day into its UTC day number; throws `TypeError` naming `field`. */
export function parseDay(value: unknown, field: string): number {
  if (typeof value !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    throw new TypeError(`Invalid "${field}": expected a date such as "2024-03-15"`);
  }
  const ts = Date.parse(`${value}T00:00:00Z`);
  if (!Number.isFinite(ts) || new Date(ts).toISOString().slice(0, 10) !== value) {
    throw new TypeError(`Invalid "${field}": ${JSON.stringify(value)} is not a calendar date`);
  }
  return ts / day;
}

export function formatDay(dayNumber: number): string {
  return new Date(dayNumber * day).toISOString().slice(0, 10);
}

interface Cell {
  date: string;
  value: string | null;
  visitors: Set<string>;
  visits: Set<number>;
  pageviews: number;
}

/**
 * The bounded true counts of `site` from `from` to `to` (see the module doc).
 * Visits count on the day they start; pageviews (the `page` dimension) on the
 * day they happen. Throws `TypeError` on a bad domain, date or bound.
 */
export function computeBoundedTable(
  db: Database,
  site: string,
  options: ComputeBoundedTableOptions,
): BoundedTable {
  checkDomain(site);
  const fromDay = parseDay(options.from, "from");
  const toDay = parseDay(options.to, "to");
  if (toDay < fromDay) throw new TypeError(`Invalid "to": ${options.to} is before "from" ${options.from}`);
  checkRawEventsKept(db, site, fromDay); // days whose raw events the retention deleted cannot be released
  const dimension = options.dimension ?? null;
  if (dimension !== null && !(RELEASE_DIMENSIONS as readonly string[]).includes(dimension)) {
    throw new TypeError(`Invalid "dimension": expected one of ${RELEASE_DIMENSIONS.join(", ")}`);
  }
  const bounds = { ...getDefaultBounds(dimension), ...options.bounds };
  for (const [name, value] of Object.entries(bounds)) {
    if (!Number.isSafeInteger(value) || value < 1 || value > 1000) {
      throw new TypeError(`Invalid bound "${name}": expected an integer from 1 to 1000`);
    }
  }
  const start = fromDay * day;
  const end = (toDay + 1) * day;
  const consented = options.consentedOnly === true ? " AND consented = 1" : "";
  const cells = new Map<string, Cell>();
  const dropped = { visits: 0, pageviews: 0 };
  const cellFor = (date: string, value: string | null) => {
    const key = `${date}\u0000${value ?? ""}`;
    let cell = cells.get(key);
    if (!cell) cells.set(key, cell = { date, value, visitors: new Set(), visits: new Set(), pageviews: 0 });
    return cell;
  };

  if (dimension === "page") {
    // Pageviews in time order per visitor id; each keeps its visit, its day and its page.
    const rows = db.prepare(
      `SELECT visitor_id, visit_id, ts, pathname FROM analytics_events
       WHERE site = ? AND name = 'pageview' AND ts >= ? AND ts < ?${consented}
       ORDER BY visitor_id, ts, id`,
    ).iterate(site, start, end) as Iterable<
      { visitor_id: string; visit_id: number; ts: number; pathname: string }
    >;
    let current: string | null = null;
    let visits = new Set<number>();
    let keys = new Set<string>();
    let pageviews = 0;
    for (const r of rows) {
      if (r.visitor_id !== current) {
        current = r.visitor_id;
        visits = new Set();
        keys = new Set();
        pageviews = 0;
      }
      const date = formatDay(Math.floor(r.ts / day));
      const value = clip(r.pathname) ?? "/";
      const key = `${date}\u0000${value}`;
      const newVisit = !visits.has(r.visit_id);
      if (
        pageviews >= bounds.maxPageviews || (newVisit && visits.size >= bounds.maxVisits) ||
        (!keys.has(key) && keys.size >= bounds.maxCells)
      ) {
        dropped.pageviews += 1;
        continue;
      }
      visits.add(r.visit_id);
      keys.add(key);
      pageviews += 1;
      const cell = cellFor(date, value);
      cell.visitors.add(r.visitor_id);
      cell.visits.add(r.visit_id);
      cell.pageviews += 1;
    }
  } else {
    const column = dimension === null ? "NULL" : VISIT_COLUMNS[dimension];
    const rows = db.prepare(
      `SELECT id, visitor_id, start_ts, pageviews, ${column} AS value FROM analytics_visits
       WHERE site = ? AND start_ts >= ? AND start_ts < ?${consented}
       ORDER BY visitor_id, start_ts, id`,
    ).iterate(site, start, end) as Iterable<
      { id: number; visitor_id: string; start_ts: number; pageviews: number; value: string | null }
    >;
    let current: string | null = null;
    let visits = 0;
    let keys = new Set<string>();
    let pageviews = 0;
    for (const r of rows) {
      if (r.visitor_id !== current) {
        current = r.visitor_id;
        visits = 0;
        keys = new Set();
        pageviews = 0;
      }
      const date = formatDay(Math.floor(r.start_ts / day));
      const value = dimension === null ? null : clip(r.value) ?? NONE[dimension];
      const key = `${date}\u0000${value ?? ""}`;
      if (visits >= bounds.maxVisits || (!keys.has(key) && keys.size >= bounds.maxCells)) {
        dropped.visits += 1;
        dropped.pageviews += r.pageviews;
        continue;
      }
      visits += 1;
      keys.add(key);
      const kept = Math.min(r.pageviews, bounds.maxPageviews - pageviews);
      dropped.pageviews += r.pageviews - kept;
      pageviews += kept;
      const cell = cellFor(date, value);
      cell.visitors.add(r.visitor_id);
      cell.visits.add(r.id);
      cell.pageviews += kept;
    }
  }

  const publicDomain = dimension === null || dimension === "device";
  if (publicDomain) {
    // Every day × value of the grid is released or suppressed on its noisy count, zeros included.
    const values = dimension === null ? [null] : [...DEVICE_VALUES];
    for (let d = fromDay; d <= toDay; d++) for (const v of values) cellFor(formatDay(d), v);
  }
  const rows = [...cells.values()]
    .filter((c) =>
      !publicDomain || dimension === null || (DEVICE_VALUES as readonly string[]).includes(c.value!)
    )
    .map((c) => ({
      date: c.date,
      value: c.value,
      visitors: c.visitors.size,
      visits: c.visits.size,
      pageviews: c.pageviews,
    }))
    .sort((a, b) => a.date < b.date ? -1 : a.date > b.date ? 1 : compareValues(a.value, b.value));
  return {
    dimension,
    from: formatDay(fromDay),
    to: formatDay(toDay),
    bounds,
    rows,
    publicDomain,
    dropped,
  };
}

const VISIT_COLUMNS: Record<Exclude<ReleaseDimension, "page">, string> = {
  entry_page: "entry_page",
  source: "source",
  device: "device",
  browser: "browser",
  os: "os",
};

/** What a missing value is called, as on the dashboard. */
const NONE: Record<Exclude<ReleaseDimension, "page">, string> = {
  entry_page: "(none)",
  source: "Direct / None",
  device: "other",
  browser: "(unknown)",
  os: "(unknown)",
};

function clip(value: string | null): string | null {
  if (value === null || value === "") return null;
  return value.length > MAX_VALUE_LENGTH ? value.slice(0, MAX_VALUE_LENGTH) : value;
}

function compareValues(a: string | null, b: string | null): number {
  return (a ?? "") < (b ?? "") ? -1 : (a ?? "") > (b ?? "") ? 1 : 0;
}
