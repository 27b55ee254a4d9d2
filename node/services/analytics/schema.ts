/**
 * The analytics tables on the site owner's node, the dimensions they are kept
 * by, and the checks every stored event passes. `sessions.ts` derives the
 * visits, `rollups.ts` keeps the rollups, `store.ts` writes a batch.
 *
 * - `analytics_events`: every event, indexed by (site, ts) and by its visit,
 *   with its props (JSON), revenue, geo (of the receiving node's lookup),
 *   `interactive` and `consented` (1/0, null when not sent).
 * - `analytics_engagement`: engagement events (scroll depth, engaged time), apart.
 * - `analytics_visits`: one row per visit (geo, entry hostname and consent of its first event). A visit is a visitor's run of events
 *   with no gap longer than {@link VISIT_TIMEOUT}; its entry page is the first
 *   pageview, its exit page the last, it bounced when it has one pageview, and
 *   its duration is the last event's ts minus the first's. Source, referrer,
 *   UTM tags, device, browser and OS are the first event's.
 * - `analytics_hourly`: per site and UTC hour, pageviews and events (by event
 *   time), visits, bounces and summed duration (by visit start), kept up to
 *   date by deltas as visits grow, and visitors (each visitor once per UTC day,
 *   in the hour of their first visit that day).
 * - `analytics_visitor_days`: the distinct visitor ids per site and UTC day (of
 *   the visit start). Visitor ids are keyed hashes with a salt that rotates
 *   daily, so a visitor id means one person on one day; "visitors" over a range
 *   is the number of distinct (visitor id, day) pairs, which is additive over
 *   days and lets whole-day queries skip the raw events.
 * - `analytics_breakdowns`: per site, dimension, UTC day and value, the sums
 *   the dashboard's tables need (see {@link BREAKDOWN_DIMENSIONS}), kept up to
 *   date in the same transaction as the events. A visit counts (its visit,
 *   bounce and duration, and its visitor once per (visitor id, day)) on its
 *   day (`analytics_visits.day`, that of its first event) under every value it
 *   has: its source, entry page, each page it viewed, each hour it was active
 *   in (on that hour's day). Pageviews and events count on the day they
 *   happen, except that entry and exit page rows hold the whole visit's.
 *   Page and name rows hold no bounces or duration: a visit may have many
 *   pages, and each batch that extends it would rewrite all of them.
 *   Visitors add up over days for the same reason as `analytics_visitor_days`,
 *   so a range is a sum of days. `rebuildBreakdowns` (`rollups.ts`)
 *   recomputes the table from the events; the property tests check the two agree.
 * - `analytics_batches`: batch ids already recorded, so a redelivered batch
 *   changes nothing.
 */
import { type AnalyticsEvent, isSiteDomain } from "../../../protocol/analytics.ts";
import { type Database, migrate } from "../db/mod.ts";
import { day, hour } from "../../constants.ts";

/** Longest stored string field (longer values are cut). */
export const MAX_FIELD_LENGTH = 2048;

/**
 * The visit dimensions whose value is fixed by a visit's first event, with
 * the column of `analytics_visits` that holds it and the label of a missing
 * value (as the query API shows it).
 */
export const FIXED_DIMENSIONS = [
  ["visit:source", "source", "Direct / None"],
  ["visit:referrer", "referrer", "Direct / None"],
  ["visit:utm_source", "utm_source", "(none)"],
  ["visit:utm_medium", "utm_medium", "(none)"],
  ["visit:utm_campaign", "utm_campaign", "(none)"],
  ["visit:utm_content", "utm_content", "(none)"],
  ["visit:utm_term", "utm_term", "(none)"],
  ["visit:device", "device", ""],
  ["visit:browser", "browser", ""],
  ["visit:os", "os", ""],
] as const;

/**
 * The dimensions `analytics_breakdowns` keeps: every `visit:` dimension,
 * `event:page`, `event:name` and `time:hour` (values are the hour's first ms,
 * as text). `event:page` rows also hold `pageview_visitors` and
 * `pageview_visits`: visitors and visits counted over pageview events only,
 * which with `pageviews` answer `event:page` filtered by `event:name is pageview`.
 */
export const BREAKDOWN_DIMENSIONS = [
  ...FIXED_DIMENSIONS.map(([dim]) => dim),
  "visit:entry_page",
  "visit:exit_page",
  "event:page",
  "event:name",
  "time:hour",
] as const;
export type BreakdownDimension = typeof BREAKDOWN_DIMENSIONS[number];

export const ADD_BREAKDOWN = `ON CONFLICT (site, dim, day, value) DO UPDATE SET
  visitors = visitors + excluded.visitors, visits = visits + excluded.visits,
  pageviews = pageviews + excluded.pageviews, events = events + excluded.events,
  bounces = bounces + excluded.bounces, duration_ms = duration_ms + excluded.duration_ms,
  pageview_visitors = pageview_visitors + excluded.pageview_visitors,
  pageview_visits = pageview_visits + excluded.pageview_visits`;

/**
 * SQL that adds the breakdowns of every stored event to `analytics_breakdowns`
 * (the definition the incremental updates of `rollups.ts` follow). The last
 * migration runs it, so it lives with the tables.
 */
export function breakdownsFromEvents(): string {
  const columns = `(site, dim, day, value, visitors, visits, pageviews, events, bounces, duration_ms,
    pageview_visitors, pageview_visits)`;
  const perVisit = "COUNT(DISTINCT v.visitor_id || ':' || v.day), COUNT(*)";
  const visitSums = "SUM(v.pageviews = 1), SUM(v.end_ts - v.start_ts)";
  const statements: string[] = [];
  for (const [dim, column, none] of FIXED_DIMENSIONS) {
    const value = none === "" ? `v.${column}` : `COALESCE(v.${column}, '${none}')`;
    statements.push(
      `INSERT INTO analytics_breakdowns ${columns}
       SELECT v.site, '${dim}', v.day, ${value}, ${perVisit}, 0, 0, ${visitSums}, 0, 0
       FROM analytics_visits v WHERE true GROUP BY v.site, v.day, ${value} ${ADD_BREAKDOWN};`,
      `INSERT INTO analytics_breakdowns ${columns}
       SELECT e.site, '${dim}', e.ts / ${day}, ${value}, 0, 0, SUM(e.name = 'pageview'), COUNT(*), 0, 0, 0, 0
       FROM analytics_events e JOIN analytics_visits v ON v.id = e.visit_id
       WHERE true GROUP BY e.site, e.ts / ${day}, ${value} ${ADD_BREAKDOWN};`,
    );
  }
  for (const [dim, column] of [["visit:entry_page", "entry_page"], ["visit:exit_page", "exit_page"]]) {
    statements.push(
      `INSERT INTO analytics_breakdowns ${columns}
       SELECT v.site, '${dim}', v.day, v.${column}, ${perVisit}, SUM(v.pageviews), SUM(v.events), ${visitSums}, 0, 0
       FROM analytics_visits v WHERE v.${column} IS NOT NULL GROUP BY v.site, v.day, v.${column}
       ${ADD_BREAKDOWN};`,
    );
  }
  const hourValue = `CAST(e.ts / ${hour} * ${hour} AS TEXT)`;
  // Only hours hold bounces and duration (see EVENT_DIMENSIONS).
  const eventDimensions: [string, string, string, string][] = [
    ["event:page", "e.pathname", "v.day", "0, 0"],
    ["event:name", "e.name", "v.day", "0, 0"],
    ["time:hour", hourValue, `CAST(x.value AS INTEGER) / ${day}`, visitSums],
  ];
  for (const [dim, value, visitDay, sums] of eventDimensions) {
    statements.push(
      `INSERT INTO analytics_breakdowns ${columns}
       SELECT v.site, '${dim}', ${visitDay}, x.value, ${perVisit}, 0, 0, ${sums}, 0, 0
       FROM (SELECT DISTINCT e.visit_id, ${value} AS value FROM analytics_events e) x
       JOIN analytics_visits v ON v.id = x.visit_id
       WHERE true GROUP BY v.site, ${visitDay}, x.value ${ADD_BREAKDOWN};`,
      `INSERT INTO analytics_breakdowns ${columns}
       SELECT e.site, '${dim}', e.ts / ${day}, ${value}, 0, 0, SUM(e.name = 'pageview'), COUNT(*), 0, 0, 0, 0
       FROM analytics_events e WHERE true GROUP BY e.site, e.ts / ${day}, ${value} ${ADD_BREAKDOWN};`,
    );
  }
  statements.push(
    `INSERT INTO analytics_breakdowns ${columns}
     SELECT v.site, 'event:page', v.day, x.value, 0, 0, 0, 0, 0, 0, ${perVisit}
     FROM (SELECT DISTINCT e.visit_id, e.pathname AS value FROM analytics_events e WHERE e.name = 'pageview') x
     JOIN analytics_visits v ON v.id = x.visit_id
     WHERE true GROUP BY v.site, v.day, x.value ${ADD_BREAKDOWN};`,
  );
  return statements.join("\n");
}

/**
 * Plausible's `engagement` events (scroll depth and engaged time of a page
 * view) are kept apart from `analytics_events`: they are not pageviews or
 * custom events, start or extend no visit and count in no rollup; they feed
 * `scroll_depth` and `time_on_page`. `visit_id` is the visit of the same
 * visitor they fall in (null when there is none).
 */
const ENGAGEMENT_TABLE = `CREATE TABLE analytics_engagement (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL,
    ts INTEGER NOT NULL,
    pathname TEXT NOT NULL,
    hostname TEXT NOT NULL,
    visitor_id TEXT NOT NULL,
    visit_id INTEGER,
    scroll_depth INTEGER,
    engaged_ms INTEGER,
    props TEXT
  );
  CREATE INDEX analytics_engagement_by_time ON analytics_engagement (site, ts);`;

const MIGRATIONS = [
  `CREATE TABLE analytics_visits (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL,
    visitor_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    start_ts INTEGER NOT NULL,
    end_ts INTEGER NOT NULL,
    pageviews INTEGER NOT NULL,
    events INTEGER NOT NULL,
    entry_page TEXT,
    exit_page TEXT,
    exit_ts INTEGER,
    source TEXT,
    referrer TEXT,
    utm_source TEXT,
    utm_medium TEXT,
    utm_campaign TEXT,
    utm_content TEXT,
    utm_term TEXT,
    device TEXT NOT NULL,
    browser TEXT NOT NULL,
    os TEXT NOT NULL
  );
  CREATE INDEX analytics_visits_by_visitor ON analytics_visits (site, visitor_id, end_ts);
  CREATE TABLE analytics_events (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL,
    ts INTEGER NOT NULL,
    name TEXT NOT NULL,
    pathname TEXT NOT NULL,
    hostname TEXT NOT NULL,
    referrer TEXT,
    referrer_source TEXT,
    utm_source TEXT,
    utm_medium TEXT,
    utm_campaign TEXT,
    utm_content TEXT,
    utm_term TEXT,
    device TEXT NOT NULL,
    browser TEXT NOT NULL,
    os TEXT NOT NULL,
    visitor_id TEXT NOT NULL,
    props TEXT,
    visit_id INTEGER NOT NULL
  );
  CREATE INDEX analytics_events_by_time ON analytics_events (site, ts);
  CREATE TABLE analytics_hourly (
    site TEXT NOT NULL,
    hour INTEGER NOT NULL,
    visitors INTEGER NOT NULL DEFAULT 0,
    pageviews INTEGER NOT NULL DEFAULT 0,
    events INTEGER NOT NULL DEFAULT 0,
    visits INTEGER NOT NULL DEFAULT 0,
    bounces INTEGER NOT NULL DEFAULT 0,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site, hour)
  ) WITHOUT ROWID;
  CREATE TABLE analytics_visitor_days (
    site TEXT NOT NULL,
    day INTEGER NOT NULL,
    visitor_id TEXT NOT NULL,
    PRIMARY KEY (site, day, visitor_id)
  ) WITHOUT ROWID;
  CREATE TABLE analytics_batches (
    site TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    events INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (site, batch_id)
  ) WITHOUT ROWID;
  CREATE TABLE analytics_sites (
    site TEXT PRIMARY KEY,
    first_ts INTEGER NOT NULL,
    last_ts INTEGER NOT NULL,
    events INTEGER NOT NULL
  ) WITHOUT ROWID;`,
  `CREATE TABLE analytics_breakdowns (
    site TEXT NOT NULL,
    dim TEXT NOT NULL,
    day INTEGER NOT NULL,
    value TEXT NOT NULL,
    visitors INTEGER NOT NULL DEFAULT 0,
    visits INTEGER NOT NULL DEFAULT 0,
    pageviews INTEGER NOT NULL DEFAULT 0,
    events INTEGER NOT NULL DEFAULT 0,
    bounces INTEGER NOT NULL DEFAULT 0,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    pageview_visitors INTEGER NOT NULL DEFAULT 0,
    pageview_visits INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site, dim, day, value)
  ) WITHOUT ROWID;
  CREATE INDEX analytics_events_by_visit ON analytics_events (visit_id);
  ${breakdownsFromEvents()}`,
  // Plausible's newer event fields (see ENGAGEMENT_TABLE and the visit columns below).
  `ALTER TABLE analytics_events ADD COLUMN revenue_amount TEXT;
  ALTER TABLE analytics_events ADD COLUMN revenue_currency TEXT;
  ALTER TABLE analytics_events ADD COLUMN country TEXT;
  ALTER TABLE analytics_events ADD COLUMN region TEXT;
  ALTER TABLE analytics_events ADD COLUMN city TEXT;
  ALTER TABLE analytics_events ADD COLUMN city_name TEXT;
  ALTER TABLE analytics_events ADD COLUMN region_name TEXT;
  ALTER TABLE analytics_events ADD COLUMN interactive INTEGER;
  ALTER TABLE analytics_events ADD COLUMN consented INTEGER;
  ALTER TABLE analytics_visits ADD COLUMN country TEXT;
  ALTER TABLE analytics_visits ADD COLUMN region TEXT;
  ALTER TABLE analytics_visits ADD COLUMN city TEXT;
  ALTER TABLE analytics_visits ADD COLUMN city_name TEXT;
  ALTER TABLE analytics_visits ADD COLUMN region_name TEXT;
  ALTER TABLE analytics_visits ADD COLUMN entry_hostname TEXT;
  ALTER TABLE analytics_visits ADD COLUMN consented INTEGER;
  ${ENGAGEMENT_TABLE}`,
];

/** Creates or upgrades the analytics tables. */
export function migrateAnalytics(db: Database): void {
  migrate(db, "analytics", MIGRATIONS);
}

/**
 * The dimensions under which a visit has one value per event, not one per
 * visit. Their rows count visitors, visits, pageviews and events; only
 * `time:hour` rows also hold bounces and duration (a visit has few hours,
 * but may have many pages, and every batch that extends a visit changes
 * its duration). The last entry is a visit's pageview pages, counted in the
 * `pageview_*` columns of the `event:page` rows.
 */
export const EVENT_DIMENSIONS = ["event:page", "event:name", "time:hour", "event:page"] as const;
export const PAGE = 0;
export const NAME = 1;
export const HOUR = 2;
export const PAGEVIEW = 3;

/** A visit's values under each of {@link EVENT_DIMENSIONS}, in order. */
export type EventValues = Set<string>[];

export function noEventValues(): EventValues {
  return EVENT_DIMENSIONS.map(() => new Set<string>());
}

export function floorTo(ts: number, unit: number): number {
  return Math.floor(ts / unit) * unit;
}

export function clip(value: string | null | undefined): string | null {
  if (value === undefined || value === null || value === "") return null;
  return value.length > MAX_FIELD_LENGTH ? value.slice(0, MAX_FIELD_LENGTH) : value;
}

/** Throws `TypeError` unless `domain` is a lower-case host name such as "example.com". */
export function checkDomain(domain: unknown): asserts domain is string {
  if (!isSiteDomain(domain)) {
    throw new TypeError(
      `Invalid site domain ${
        JSON.stringify(String(domain).slice(0, 80))
      }: expected a lower-case host name such as "example.com"`,
    );
  }
}

const DEVICES = new Set(["desktop", "mobile", "tablet", "other"]);

export function checkEvent(e: AnalyticsEvent, index: number): void {
  const bad = (field: string) => {
    throw new TypeError(`Cannot record events: event ${index} has an invalid "${field}"`);
  };
  if (typeof e !== "object" || e === null) bad("event");
  if (!Number.isSafeInteger(e.ts) || e.ts < 0) bad("ts");
  for (const field of ["name", "pathname", "hostname", "browser", "os", "visitorId"] as const) {
    if (typeof e[field] !== "string") bad(field);
  }
  if (e.name === "") bad("name");
  if (e.visitorId === "") bad("visitorId");
  if (e.referrer !== null && e.referrer !== undefined && typeof e.referrer !== "string") bad("referrer");
  if (e.referrerSource !== null && e.referrerSource !== undefined && typeof e.referrerSource !== "string") {
    bad("referrerSource");
  }
  if (!DEVICES.has(e.device)) bad("device");
  if (e.utm !== undefined && (typeof e.utm !== "object" || e.utm === null)) bad("utm");
  for (const value of Object.values(e.utm ?? {})) {
    if (value !== undefined && typeof value !== "string") bad("utm");
  }
  if (e.props !== undefined && (typeof e.props !== "object" || e.props === null)) bad("props");
  for (const value of Object.values(e.props ?? {})) if (typeof value !== "string") bad("props");
  if (e.revenue !== undefined) {
    const r = e.revenue;
    if (typeof r !== "object" || r === null) bad("revenue");
    if (typeof r.amount !== "string" || !AMOUNT.test(r.amount)) bad("revenue");
    if (typeof r.currency !== "string" || !CURRENCY.test(r.currency)) bad("revenue");
  }
  if (e.country !== undefined && (typeof e.country !== "string" || !COUNTRY.test(e.country))) bad("country");
  if (e.region !== undefined && (typeof e.region !== "string" || !REGION.test(e.region))) bad("region");
  if (e.city !== undefined && (typeof e.city !== "string" || !CITY.test(e.city))) bad("city");
  for (const field of ["cityName", "regionName"] as const) {
    if (e[field] !== undefined && typeof e[field] !== "string") bad(field);
  }
  const depth = e.scrollDepth;
  if (depth !== undefined && (!Number.isInteger(depth) || depth < 0 || depth > 100)) bad("scrollDepth");
  const engaged = e.engagedMs;
  if (engaged !== undefined && (!Number.isSafeInteger(engaged) || engaged < 0)) bad("engagedMs");
  for (const field of ["interactive", "consented"] as const) {
    if (e[field] !== undefined && typeof e[field] !== "boolean") bad(field);
  }
}

/** A revenue amount: a decimal (the events API keeps at most 2 decimals; a few more are accepted). */
const AMOUNT = /^-?\d{1,15}(\.\d{1,6})?$/;
const CURRENCY = /^[A-Z]{3}$/;
const COUNTRY = /^[A-Z]{2}$/;
const REGION = /^[A-Z]{2}-[A-Z0-9]{1,3}$/;
const CITY = /^\d{1,10}$/;

/** The event name of Plausible's engagement events (stored in `analytics_engagement`). */
export const ENGAGEMENT = "engagement";

/** 1, 0 or null for an optional boolean, as the tables store it. */
export function flag(value: boolean | undefined): number | null {
  return value === undefined ? null : value ? 1 : 0;
}
