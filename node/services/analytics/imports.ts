/**
 * A site's history from another analytics tool, kept apart from its own
 * events: daily aggregates in `analytics_imported`, which queries merge when
 * they ask for `include.imports` (and the dimensions and filters allow it).
 *
 * Two sources: a Plausible CSV export (`plausible-csv`: its zip, or its
 * `imported_*_YYYYMMDD_YYYYMMDD.csv` files, `imports_plausible.ts`) and a
 * Google Analytics 4 export (`ga4`: the BigQuery event export as
 * newline-delimited JSON, or a zip of such files, `imports_ga4.ts`). One
 * import replaces what the same source had imported for the days it covers,
 * in one transaction; a bad file changes nothing.
 *
 * Rows: `dim` is `""` for the day's totals or one of {@link IMPORT_DIMENSIONS}
 * with its `value`; `visit_duration` is seconds summed over visits; `events`
 * counts pageviews and custom events in the totals, and a goal's completions
 * in `event:goal` rows.
 *
 * ```ts
 * const imports = new AnalyticsImports(db);
 * const result = imports.importFile("example.com", { name: "export.zip", bytes });
 * // { site, source: "plausible-csv", from: "2023-01-01", to: "2023-12-31", days: 365, rows: 5120, files: [...] }
 * imports.listImports("example.com");
 * ```
 */
import { unzipSync } from "fflate";
import { type Database, migrate, transaction } from "../db/mod.ts";
import { KosmosError } from "../../errors.ts";
import { checkDomain } from "./schema.ts";
import { day } from "../../constants.ts";
import { readPlausibleCsv } from "./imports_plausible.ts";
import { readGa4Export } from "./imports_ga4.ts";

export const IMPORT_SOURCES = ["plausible-csv", "ga4"] as const;
export type ImportSource = typeof IMPORT_SOURCES[number];

/** The breakdowns an import may hold, besides the totals (`""`). */
export const IMPORT_DIMENSIONS = [
  "visit:source",
  "event:page",
  "visit:entry_page",
  "visit:exit_page",
  "visit:country",
  "visit:region",
  "visit:city",
  "visit:device",
  "visit:browser",
  "visit:os",
  "event:goal",
] as const;
export type ImportDimension = typeof IMPORT_DIMENSIONS[number];

/** Largest upload an import reads, bytes. */
export const MAX_IMPORT_BYTES = 200 * 1024 * 1024;
/** Largest file unpacked from a zip, bytes. */
export const MAX_IMPORT_FILE_BYTES = 512 * 1024 * 1024;
/** Most aggregate rows one import may produce. */
export const MAX_IMPORT_ROWS = 5_000_000;
/** Longest dimension value kept; longer ones are cut. */
export const MAX_IMPORT_VALUE_LENGTH = 2000;

/** One aggregate of one day, as the readers produce and the table holds it. */
export interface ImportedRow {
  /** UTC day number (ms / 86 400 000). */
  day: number;
  dim: "" | ImportDimension;
  value: string;
  visitors: number;
  visits: number;
  pageviews: number;
  bounces: number;
  /** Seconds, summed over the visits. */
  visitDuration: number;
  events: number;
}

/** A file of an upload: its name (the format is told by it and by its bytes) and contents. */
export interface ImportFile {
  name: string;
  bytes: Uint8Array;
}

export interface ImportResult {
  site: string;
  source: ImportSource;
  /** First and last day imported, `YYYY-MM-DD`. */
  from: string;
  to: string;
  days: number;
  rows: number;
  /** The files read (inside a zip, their names there). */
  files: string[];
}

export interface ImportSummary {
  source: ImportSource;
  from: string;
  to: string;
  days: number;
  rows: number;
  visitors: number;
  pageviews: number;
  importedAt: number;
}

/** The upload is not an export this node can read; the message says what is wrong. */
export class ImportError extends KosmosError {
  override name = "ImportError";
}

const MIGRATIONS = [
  `CREATE TABLE analytics_imported (
    site TEXT NOT NULL,
    day INTEGER NOT NULL,
    source TEXT NOT NULL,
    dim TEXT NOT NULL,
    value TEXT NOT NULL,
    visitors INTEGER NOT NULL,
    visits INTEGER NOT NULL,
    pageviews INTEGER NOT NULL,
    bounces INTEGER NOT NULL,
    visit_duration INTEGER NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (site, day, source, dim, value)
  ) WITHOUT ROWID;
  CREATE TABLE analytics_import_runs (
    site TEXT NOT NULL,
    source TEXT NOT NULL,
    imported_at INTEGER NOT NULL,
    PRIMARY KEY (site, source)
  ) WITHOUT ROWID;`,
];

/** Creates or upgrades the imports tables. */
export function migrateImports(db: Database): void {
  migrate(db, "analytics_imports", MIGRATIONS);
}

/** Adds `row` into the aggregate under its day, dimension and value. */
export function addRow(into: Map<string, ImportedRow>, row: ImportedRow): void {
  const key = `${row.day}\u0000${row.dim}\u0000${row.value}`;
  const seen = into.get(key);
  if (!seen) {
    if (into.size >= MAX_IMPORT_ROWS) {
      throw new ImportError(`The export has more than ${MAX_IMPORT_ROWS} daily rows; import it in parts`);
    }
    into.set(key, { ...row });
    return;
  }
  seen.visitors += row.visitors;
  seen.visits += row.visits;
  seen.pageviews += row.pageviews;
  seen.bounces += row.bounces;
  seen.visitDuration += row.visitDuration;
  seen.events += row.events;
}

export class AnalyticsImports {
  #db: Database;
  #now: () => number;

  constructor(db: Database, options: { now?: () => number } = {}) {
    this.#db = db;
    this.#now = options.now ?? Date.now;
    migrateImports(db);
  }

  /**
   * Reads one upload (a zip, a Plausible CSV, or GA4 NDJSON) and replaces the
   * days it covers for its source. Throws `TypeError` for a bad domain and
   * {@link ImportError} for an upload it cannot read; nothing is stored then.
   */
  importFile(site: string, file: ImportFile): ImportResult {
    checkDomain(site);
    if (file.bytes.byteLength > MAX_IMPORT_BYTES) {
      throw new ImportError(`The upload is larger than ${MAX_IMPORT_BYTES} bytes`);
    }
    const files = isZip(file.bytes) ? unzip(file.bytes) : [file];
    const csv = files.filter((f) => /\.csv$/i.test(f.name));
    const json = files.filter((f) => /\.(nd)?jsonl?$/i.test(f.name));
    if (csv.length > 0 && json.length > 0) {
      throw new ImportError(
        "The upload mixes CSV and JSON files; import a Plausible export and a GA4 export apart",
      );
    }
    let source: ImportSource;
    let rows: Map<string, ImportedRow>;
    if (csv.length > 0) {
      source = "plausible-csv";
      rows = readPlausibleCsv(csv);
    } else if (json.length > 0) {
      source = "ga4";
      rows = readGa4Export(json);
    } else {
      throw new ImportError(
        "Expected a Plausible CSV export (a zip or imported_*_YYYYMMDD_YYYYMMDD.csv files) " +
          "or a GA4 BigQuery export (newline-delimited JSON)",
      );
    }
    if (rows.size === 0) throw new ImportError("The export holds no data");
    let first = Infinity;
    let last = -Infinity;
    for (const row of rows.values()) {
      first = Math.min(first, row.day);
      last = Math.max(last, row.day);
    }
    transaction(this.#db, () => {
      this.#db.prepare("DELETE FROM analytics_imported WHERE site = ? AND source = ? AND day BETWEEN ? AND ?")
        .run(site, source, first, last);
      const insert = this.#db.prepare(
        `INSERT INTO analytics_imported (site, day, source, dim, value, visitors, visits, pageviews, bounces,
          visit_duration, events) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
      );
      for (const r of rows.values()) {
        insert.run(
          site,
          r.day,
          source,
          r.dim,
          r.value,
          r.visitors,
          r.visits,
          r.pageviews,
          r.bounces,
          r.visitDuration,
          r.events,
        );
      }
      this.#db.prepare(
        `INSERT INTO analytics_import_runs (site, source, imported_at) VALUES (?, ?, ?)
         ON CONFLICT (site, source) DO UPDATE SET imported_at = excluded.imported_at`,
      ).run(site, source, this.#now());
    });
    const days = new Set([...rows.values()].map((r) => r.day)).size;
    return {
      site,
      source,
      from: formatDay(first),
      to: formatDay(last),
      days,
      rows: rows.size,
      files: files.map((f) => f.name),
    };
  }

  /** What each source imported for `site`. Throws `TypeError` for a bad domain. */
  listImports(site: string): ImportSummary[] {
    checkDomain(site);
    const rows = this.#db.prepare(
      `SELECT i.source AS source, MIN(i.day) AS first, MAX(i.day) AS last, COUNT(DISTINCT i.day) AS days,
         COUNT(*) AS rows, SUM(CASE WHEN i.dim = '' THEN i.visitors ELSE 0 END) AS visitors,
         SUM(CASE WHEN i.dim = '' THEN i.pageviews ELSE 0 END) AS pageviews, r.imported_at AS importedAt
       FROM analytics_imported i LEFT JOIN analytics_import_runs r ON r.site = i.site AND r.source = i.source
       WHERE i.site = ? GROUP BY i.source ORDER BY i.source`,
    ).all(site) as {
      source: ImportSource;
      first: number;
      last: number;
      days: number;
      rows: number;
      visitors: number;
      pageviews: number;
      importedAt: number | null;
    }[];
    return rows.map((r) => ({
      source: r.source,
      from: formatDay(r.first),
      to: formatDay(r.last),
      days: r.days,
      rows: r.rows,
      visitors: r.visitors,
      pageviews: r.pageviews,
      importedAt: r.importedAt ?? 0,
    }));
  }

  /** Drops what `source` (or every source) imported for `site`; answers the rows removed. */
  removeImports(site: string, source?: ImportSource): number {
    checkDomain(site);
    if (source !== undefined && !(IMPORT_SOURCES as readonly string[]).includes(source)) {
      throw new TypeError(
        `Unknown import source "${String(source).slice(0, 40)}"; expected ${IMPORT_SOURCES.join(" or ")}`,
      );
    }
    return transaction(this.#db, () => {
      const where = source === undefined ? "site = ?" : "site = ? AND source = ?";
      const args = source === undefined ? [site] : [site, source];
      const { changes } = this.#db.prepare(`DELETE FROM analytics_imported WHERE ${where}`).run(...args);
      this.#db.prepare(`DELETE FROM analytics_import_runs WHERE ${where}`).run(...args);
      return Number(changes);
    });
  }
}

function isZip(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 &&
    bytes[3] === 0x04;
}

/** The CSV and JSON files of a zip (folders, hidden files and others skipped), each within its size limit. */
function unzip(bytes: Uint8Array): ImportFile[] {
  let entries: Record<string, Uint8Array>;
  let total = 0;
  try {
    entries = unzipSync(bytes, {
      filter: (file) => {
        const base = file.name.split("/").pop() ?? "";
        if (base.startsWith(".") || !/\.(csv|json|jsonl|ndjson)$/i.test(base)) return false;
        total += file.originalSize;
        if (file.originalSize > MAX_IMPORT_FILE_BYTES || total > MAX_IMPORT_FILE_BYTES) {
          throw new ImportError(`The zip unpacks to more than ${MAX_IMPORT_FILE_BYTES} bytes`);
        }
        return true;
      },
    });
  } catch (err) {
    if (err instanceof ImportError) throw err;
    throw new ImportError("The upload is not a readable zip file", { cause: err });
  }
  return Object.entries(entries).map(([name, data]) => ({ name: name.split("/").pop()!, bytes: data }));
}

/** `YYYY-MM-DD` of a UTC day number. */
export function formatDay(dayNumber: number): string {
  return new Date(dayNumber * day).toISOString().slice(0, 10);
}
