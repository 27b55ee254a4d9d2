/**
 * The HTTP API contract, analytics imports: a site's history from a Plausible
 * CSV export or a Google Analytics 4 export (BigQuery NDJSON), kept as daily
 * aggregates that Stats API queries merge with `include.imports`.
 */

/** The sources an import may come from. */
export type AnalyticsImportSource = "plausible-csv" | "ga4";

/** What one source imported for a site (`GET /api/v1/sites/:domain/imports`). */
export interface AnalyticsImportView {
  source: AnalyticsImportSource;
  /** First and last day, `YYYY-MM-DD` (UTC). */
  from: string;
  to: string;
  days: number;
  /** Daily aggregate rows (totals and breakdowns). */
  rows: number;
  /** Visitors and pageviews summed over the days' totals. */
  visitors: number;
  pageviews: number;
  /** When it was last imported, ms since the epoch. */
  importedAt: number;
}

/** `201` answer of `POST /api/v1/sites/:domain/imports`. */
export interface AnalyticsImportResultView {
  site: string;
  source: AnalyticsImportSource;
  from: string;
  to: string;
  days: number;
  rows: number;
  /** The files read (inside a zip, their names there). */
  files: string[];
}

export interface ImportsApi {
  /**
   * Imports one export file into a site this node owns, replacing what the
   * same source had imported for the days it covers. Throws `NotFoundError`
   * for another site, `ImportError` (422) for a file it cannot read.
   */
  importAnalytics(
    domain: string,
    file: { name: string; bytes: Uint8Array },
    options?: { signal?: AbortSignal },
  ): Promise<AnalyticsImportResultView>;
  /** What each source imported for one of this node's sites. */
  listAnalyticsImports(domain: string, options?: { signal?: AbortSignal }): Promise<AnalyticsImportView[]>;
  /** Drops a source's (or every source's) imported history; answers the rows removed. */
  removeAnalyticsImports(
    domain: string,
    source?: string,
    options?: { signal?: AbortSignal },
  ): Promise<{ removed: number }>;
}
