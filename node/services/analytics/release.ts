/**
 * Differentially private statistics tables of a site, for sale. A release is
 * computed in three steps, each a pure function of the one before:
 *
 * 1. {@link computeBoundedTable}: per UTC day (and optionally one dimension)
 *    the true counts of visitors, visits and pageviews, with every visitor
 *    id's contribution bounded: at most `maxVisits` visits (the earliest),
 *    `maxPageviews` pageviews and `maxCells` rows; the excess is dropped. The
 *    unit of privacy is the visitor id, which is a keyed hash with a salt
 *    that rotates daily: one person on one UTC day. A person seen on several
 *    days is several visitor ids the node cannot link (by design), so for
 *    them the guarantee holds per day of visits.
 * 2. {@link addNoise}: ε is split equally over the three counts; each count of
 *    each row gets discrete Laplace noise with rate (ε/3)/Δ, where Δ is that
 *    count's sensitivity under the bounds ({@link getSensitivity}). Rows are
 *    then suppressed when their *noisy* visitor count is below the threshold:
 *    deciding on the noisy count is post-processing, so it leaks nothing
 *    beyond ε, whereas a decision on the true count would reveal exactly
 *    whether a row had k visitors. Every released row therefore shows at
 *    least k visitors. For dimensions with a fixed set of values (none,
 *    device) every row of the grid is noised, zeros included. For open ones
 *    (pages, sources, browsers, OS) a row exists only when someone produced
 *    it, so the threshold is raised until one visitor makes any of their rows
 *    appear with probability at most δ: (ε, δ)-differential privacy.
 * 3. {@link encodeReleaseCsv}: the released rows as CSV. Only aggregates:
 *    no visitor id, timestamp or raw row ever enters the table.
 *
 * ```ts
 * const table = computeBoundedTable(db, "example.com", { from: "2024-03-01", to: "2024-03-31", dimension: "page" });
 * const released = addNoise(table, { epsilon: { numerator: 1, denominator: 1 }, k: 10 });
 * const csv = encodeReleaseCsv(released);
 * ```
 */
import type { Database } from "../db/mod.ts";
import { day } from "../../constants.ts";
import { checkDomain } from "./store.ts";
import {
  getDiscreteLaplaceTail,
  type RandomSource,
  type Rational,
  sampleDiscreteLaplace,
  toRational,
} from "./noise.ts";

/** Dimensions a release can break the days down by. */
export const RELEASE_DIMENSIONS = ["page", "entry_page", "source", "device", "browser", "os"] as const;
export type ReleaseDimension = typeof RELEASE_DIMENSIONS[number];

/** The device classes the ingest path assigns: the fixed values of the `device` dimension. */
export const DEVICE_VALUES = ["desktop", "mobile", "tablet", "other"] as const;

/** How much one visitor id may add to a release. */
export interface ContributionBounds {
  /** Visits per visitor id; later ones are dropped. */
  maxVisits: number;
  /** Pageviews per visitor id; later ones are dropped. */
  maxPageviews: number;
  /** Rows (day × dimension value) per visitor id; contributions to further rows are dropped. */
  maxCells: number;
}

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

/** The δ of open-domain releases: the chance one visitor id makes any of its rows appear. */
export const DEFAULT_DELTA = 1e-6;

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
       WHERE site = ? AND name = 'pageview' AND ts >= ? AND ts < ?
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
       WHERE site = ? AND start_ts >= ? AND start_ts < ?
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

/** L1 sensitivity of each count of a table: what one visitor id can change in total. */
export interface Sensitivity {
  visitors: number;
  visits: number;
  pageviews: number;
}

/**
 * A visitor id counts once in each of its rows (at most `maxCells`, and one
 * row per visit for visit dimensions); its visits count once each, or once
 * per page row for pages (each such pair needs a kept pageview); its
 * pageviews once each.
 */
export function getSensitivity(dimension: ReleaseDimension | null, bounds: ContributionBounds): Sensitivity {
  if (dimension === "page") {
    return {
      visitors: bounds.maxCells,
      visits: Math.min(bounds.maxVisits * bounds.maxCells, bounds.maxPageviews),
      pageviews: bounds.maxPageviews,
    };
  }
  return {
    visitors: Math.min(bounds.maxCells, bounds.maxVisits),
    visits: bounds.maxVisits,
    pageviews: bounds.maxPageviews,
  };
}

export interface AddNoiseOptions {
  /** The ε of the whole table, as an exact fraction; split equally over the three counts. */
  epsilon: Rational;
  /** Rows with fewer noisy visitors are suppressed. */
  k: number;
  /** @default {@link DEFAULT_DELTA} (open-domain tables only) */
  delta?: number;
  /** @default crypto.getRandomValues */
  random?: RandomSource;
}

export interface NoisyTable {
  dimension: ReleaseDimension | null;
  from: string;
  to: string;
  bounds: ContributionBounds;
  sensitivity: Sensitivity;
  /** The least noisy visitor count a released row has: k, raised for open-domain tables. */
  threshold: number;
  /** δ of the release: 0 for a fixed grid. */
  delta: number;
  /** Released rows, noisy, every one with at least `threshold` visitors. */
  rows: ReleaseRow[];
  /** Rows noised and withheld. */
  suppressed: number;
}

/**
 * Noises every count of every row and keeps the rows whose noisy visitor
 * count reaches the threshold. Visits are raised to at least the visitors
 * (every counted visitor has a visit in the row), pageviews to at least zero
 * (at least the visits for pages): post-processing, which costs no privacy.
 */
export function addNoise(table: BoundedTable, options: AddNoiseOptions): NoisyTable {
  const { k } = options;
  if (!Number.isSafeInteger(k) || k < 1) throw new TypeError(`Invalid "k": expected a positive integer`);
  const sensitivity = getSensitivity(table.dimension, table.bounds);
  // ε/3 per count, then divided by that count's sensitivity.
  const rate = (delta: number) =>
    toRational(options.epsilon.numerator, options.epsilon.denominator * 3 * delta);
  const rates = {
    visitors: rate(sensitivity.visitors),
    visits: rate(sensitivity.visits),
    pageviews: rate(sensitivity.pageviews),
  };
  const delta = table.publicDomain ? 0 : options.delta ?? DEFAULT_DELTA;
  const threshold = table.publicDomain
    ? k
    : Math.max(k, getOpenDomainThreshold(rates.visitors, sensitivity.visitors, delta));
  const random = options.random;
  const rows: ReleaseRow[] = [];
  let suppressed = 0;
  for (const row of table.rows) {
    const visitors = row.visitors + sampleDiscreteLaplace(rates.visitors, random);
    if (visitors < threshold) {
      suppressed += 1;
      continue;
    }
    const visits = Math.max(row.visits + sampleDiscreteLaplace(rates.visits, random), visitors);
    const pageviews = Math.max(
      row.pageviews + sampleDiscreteLaplace(rates.pageviews, random),
      table.dimension === "page" ? visits : 0,
    );
    rows.push({ date: row.date, value: row.value, visitors, visits, pageviews });
  }
  return {
    dimension: table.dimension,
    from: table.from,
    to: table.to,
    bounds: table.bounds,
    sensitivity,
    threshold,
    delta,
    rows,
    suppressed,
  };
}

/**
 * The least threshold τ at which a visitor id alone (count 1 in each of its
 * `cells` rows) gets any row released with probability at most δ:
 * cells · P(Z ≥ τ - 1) ≤ δ.
 */
export function getOpenDomainThreshold(rate: Rational, cells: number, delta: number): number {
  if (!(delta > 0 && delta < 1)) throw new RangeError(`Invalid delta ${delta}: expected 0 < δ < 1`);
  let t = 1;
  while (cells * getDiscreteLaplaceTail(rate, t) > delta) t++;
  return t + 1;
}

/** The released rows as CSV: `date[,dimension],visitors,visits,pageviews`, CRLF line ends. */
export function encodeReleaseCsv(table: Pick<NoisyTable, "dimension" | "rows">): string {
  const head = ["date", ...(table.dimension ? [table.dimension] : []), "visitors", "visits", "pageviews"];
  const lines = [head.join(",")];
  for (const r of table.rows) {
    const cells = [
      r.date,
      ...(table.dimension ? [csvField(r.value ?? "")] : []),
      r.visitors,
      r.visits,
      r.pageviews,
    ];
    lines.push(cells.join(","));
  }
  return lines.join("\r\n") + "\r\n";
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) || value !== value.trim() ? `"${value.replaceAll('"', '""')}"` : value;
}
