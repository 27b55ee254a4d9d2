/**
 * The raw-events half of `deno task bench query`: a fixed set of Stats API
 * v2 queries the rollups cannot answer, each run through the executor
 * (`AnalyticsEngine.executeQuery`) on the DuckDB mirror and on SQLite, over
 * the same data, in the same process, interleaved query by query. DuckDB
 * runs `duckRuns` times; SQLite, which takes seconds per query at 10 M
 * events, `sqliteRuns` times. The first answers of both must be equal
 * (`agree`), so the comparison is of the same work.
 *
 * ```ts
 * const report = await compareEngines(engine, { site, from, to, goals, duckRuns: 20, sqliteRuns: 3 });
 * report.duckdb.slowestP95Ms; // the figure the issue asks for
 * ```
 */
import { isDeepStrictEqual } from "node:util";
import type { AnalyticsEngine, EngineName } from "../../../node/services/analytics/engine.ts";
import type { Goal, ResolvedQuery } from "../../../node/services/analytics/query_ast.ts";

const ALL = ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration", "events"];

/** The fixed queries: each needs the raw events (filters, dimensions or metrics the rollups lack). */
export const RAW_QUERIES: Record<string, Partial<ResolvedQuery>> = {
  propsFilter: {
    metrics: ["visitors", "events"],
    dimensions: ["event:page"],
    filters: ["is", "event:props:plan", ["pro", "enterprise"]],
    orderBy: [["visitors", "desc"]],
    pagination: { limit: 10, offset: 0 },
  },
  pageContains: {
    metrics: ["visitors", "pageviews", "bounce_rate", "visit_duration"],
    filters: ["contains", "event:page", ["PAGE-1"], { case_sensitive: false }],
  },
  hasDone: {
    metrics: ["visitors", "visits", "pageviews"],
    dimensions: ["visit:source"],
    filters: ["has_done", ["is", "event:name", ["Signup"]]],
  },
  cityBreakdown: {
    metrics: ["visitors", "visits", "bounce_rate", "visit_duration", "percentage"],
    dimensions: ["visit:city_name"],
    pagination: { limit: 10, offset: 0 },
  },
  goalConversions: {
    metrics: ["visitors", "events", "conversion_rate", "total_revenue"],
    dimensions: ["event:goal"],
  },
  mobileDaily: {
    metrics: ALL as ResolvedQuery["metrics"],
    dimensions: ["time:day"],
    filters: ["is", "visit:device", ["mobile"]],
    orderBy: [["time:day", "asc"]],
  },
  orTree: {
    metrics: ["visitors", "pageviews", "views_per_visit"],
    filters: ["or", [["is", "visit:country", ["DE"]], ["matches", "event:page", ["^/docs/page-[0-9]$"]]]],
  },
  scrollDepth: {
    metrics: ["scroll_depth", "time_on_page"],
    dimensions: ["event:page"],
    filters: ["contains", "event:page", ["/docs/page-1"]],
    pagination: { limit: 10, offset: 0 },
  },
};

/** The queries the issue names: a props filter, `contains` on pages, a behavioural filter, a breakdown by city. */
export const REQUIRED_QUERIES = ["propsFilter", "pageContains", "hasDone", "cityBreakdown"];

export interface CompareOptions {
  site: string;
  from: number;
  to: number;
  goals: Goal[];
  duckRuns: number;
  sqliteRuns: number;
}

export interface EngineFigures {
  queries: Record<string, { p50Ms: number; p95Ms: number; minMs: number; maxMs: number; runs: number }>;
  slowestP95Ms: number;
  /** The slowest p95 of {@link REQUIRED_QUERIES}. */
  requiredSlowestP95Ms: number;
}

const round = (v: number) => Math.round(v * 100) / 100;

/** The `p`-th percentile (nearest rank) of `values`. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Progress goes to stderr; stdout carries only the result line. */
const progress = (message: string) => console.error(`[bench] ${message}`);

function describe(samples: number[]) {
  return {
    p50Ms: round(percentile(samples, 50)),
    p95Ms: round(percentile(samples, 95)),
    minMs: round(Math.min(...samples)),
    maxMs: round(Math.max(...samples)),
    runs: samples.length,
  };
}

/** Times every query on both engines; see the module doc. */
export async function compareEngines(
  engine: AnalyticsEngine,
  options: CompareOptions,
): Promise<{ duckdb: EngineFigures; sqlite: EngineFigures; agree: boolean; disagreeing: string[] }> {
  const samples: Record<EngineName, Record<string, number[]>> = { duckdb: {}, sqlite: {} };
  const first: Record<EngineName, Record<string, unknown>> = { duckdb: {}, sqlite: {} };
  const query = (partial: Partial<ResolvedQuery>): ResolvedQuery => ({
    site: options.site,
    from: options.from,
    to: options.to,
    timezone: "UTC",
    metrics: ["visitors"],
    dimensions: [],
    filters: ["and", []],
    orderBy: [[partial.metrics?.[0] ?? "visitors", "desc"]],
    include: { imports: false, timeLabels: false, totalRows: true },
    pagination: { limit: 10_000, offset: 0 },
    ...partial,
  });
  const time = async (name: string, which: EngineName, round: number) => {
    const started = performance.now();
    const answer = await engine.executeQuery(query(RAW_QUERIES[name]), options.goals, { engine: which });
    const ms = performance.now() - started;
    if (round < 0) first[which][name] = answer;
    else (samples[which][name] ??= []).push(ms);
  };
  const rounds = Math.max(options.duckRuns, options.sqliteRuns);
  for (let round = -1; round < rounds; round++) {
    progress(`raw queries: ${round < 0 ? "warm-up" : `run ${round + 1}/${rounds}`}`);
    for (const [i, name] of Object.keys(RAW_QUERIES).entries()) {
      // Alternate which engine goes first, query by query and run by run.
      const order: EngineName[] = (i + round) % 2 === 0 ? ["duckdb", "sqlite"] : ["sqlite", "duckdb"];
      for (const which of order) {
        const runs = which === "duckdb" ? options.duckRuns : options.sqliteRuns;
        if (round < runs) await time(name, which, round);
      }
    }
  }
  const figures = (which: EngineName): EngineFigures => {
    const queries = Object.fromEntries(Object.entries(samples[which]).map(([n, s]) => [n, describe(s)]));
    return {
      queries,
      slowestP95Ms: Math.max(...Object.values(queries).map((q) => q.p95Ms)),
      requiredSlowestP95Ms: Math.max(...REQUIRED_QUERIES.map((n) => queries[n].p95Ms)),
    };
  };
  const disagreeing = Object.keys(RAW_QUERIES).filter((n) =>
    !isDeepStrictEqual(first.duckdb[n], first.sqlite[n])
  );
  return {
    duckdb: figures("duckdb"),
    sqlite: figures("sqlite"),
    agree: disagreeing.length === 0,
    disagreeing,
  };
}
