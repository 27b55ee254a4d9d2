/**
 * The Stats API over one executor: v2 bodies (`query_v2.ts`) and v1
 * parameters (`query_v1.ts`) are resolved against the site's goals and first
 * event, run by `execute` (the raw-events engine), and answered in
 * Plausible's shapes: v2 `{ results, meta, query }` with the `query` echo,
 * v1 as `shapeV1` writes it. Refusals are {@link QueryError}s (Plausible's
 * messages); a site this node neither owns nor has events for is a
 * `NotFoundError`. Plausible's dimension labels, money objects and nulls
 * are `query_present.ts`'s.
 *
 * ```ts
 * const stats = createStatsQueries({ goals, execute, now: Date.now, firstEventTs, hasSite });
 * const answer = await stats.queryV2({ site_id: "example.com", date_range: "7d", metrics: ["visitors"] });
 * ```
 */
import { NotFoundError } from "../../errors.ts";
import type { Goal, QueryAnswer, QueryMeta, ResolvedQuery } from "./query_ast.ts";
import type { GoalStore } from "./goals.ts";
import { parseQueryV1, shapeV1, type V1Endpoint } from "./query_v1.ts";
import { parseQueryV2, type QueryEcho } from "./query_v2.ts";
import { QueryError } from "./query_error.ts";
import { labelRows, type PresentedRow, presentRows, storedQuery } from "./query_present.ts";

/** Window of `GET /api/v1/stats/realtime/visitors`, as Plausible's (5 minutes). */
export const REALTIME_WINDOW = 5 * 60_000;

export interface StatsQueriesDeps {
  goals: Pick<GoalStore, "listGoals">;
  /** Runs a resolved query (the engine's `executeQuery`). */
  execute(q: ResolvedQuery, goals: Goal[], options?: { signal?: AbortSignal }): Promise<QueryAnswer>;
  now(): number;
  /** The site's first event, or null. */
  firstEventTs(site: string): number | null;
  /** Whether this node owns the site or has events for it. */
  hasSite(site: string): boolean;
}

/** The answer of `POST /api/v2/query`. */
export interface QueryV2Answer {
  results: PresentedRow[];
  meta: QueryMeta;
  query: QueryEcho;
}

export interface StatsQueries {
  queryV2(body: unknown, options?: { signal?: AbortSignal }): Promise<QueryV2Answer>;
  queryV1(
    endpoint: V1Endpoint,
    params: Record<string, string>,
    options?: { signal?: AbortSignal },
  ): Promise<Record<string, unknown>>;
  /** Distinct visitors of the last 5 minutes, through the executor. */
  realtimeVisitors(site: string, options?: { signal?: AbortSignal }): Promise<number>;
}

export function createStatsQueries(deps: StatsQueriesDeps): StatsQueries {
  const requireSite = (site: unknown): string => {
    if (typeof site !== "string" || !deps.hasSite(site)) {
      throw new NotFoundError(`No site ${JSON.stringify(String(site).slice(0, 80))} on this node`);
    }
    return site;
  };

  return {
    async queryV2(body, options = {}) {
      const siteId = (body as { site_id?: unknown } | null)?.site_id;
      // An unknown site is refused before the query is judged; a body without a usable site_id gets the parser's message.
      if (typeof siteId === "string") requireSite(siteId);
      const site = typeof siteId === "string" ? siteId : null;
      const goals = site ? deps.goals.listGoals(site) : [];
      const { query, echo } = parseQueryV2(body, {
        now: deps.now(),
        firstEventTs: site ? deps.firstEventTs(site) : null,
        goals,
      });
      requireSite(query.site);
      const answer = await deps.execute(storedQuery(query), goals, options);
      const { results, meta } = presentRows(query, answer, goals);
      return { results, meta, query: echo };
    },

    async queryV1(endpoint, params, options = {}) {
      if (params.site_id) requireSite(params.site_id);
      const goals = params.site_id ? deps.goals.listGoals(params.site_id) : [];
      const parsed = parseQueryV1(endpoint, params, { now: deps.now(), goals });
      const answer = labelRows(parsed.query, await deps.execute(storedQuery(parsed.query), goals, options));
      const previous = parsed.previous
        ? await deps.execute(storedQuery(parsed.previous), goals, options)
        : undefined;
      return shapeV1(parsed, answer, previous);
    },

    async realtimeVisitors(site, options = {}) {
      if (!site) {
        throw new QueryError(
          "Missing site ID. Please provide the required site_id parameter with your request.",
        );
      }
      requireSite(site);
      const now = deps.now();
      const answer = await deps.execute(
        {
          site,
          from: now - REALTIME_WINDOW,
          to: now + 1,
          timezone: "UTC",
          metrics: ["visitors"],
          dimensions: [],
          filters: ["and", []],
          orderBy: [["visitors", "desc"]],
          include: { imports: false, timeLabels: false, totalRows: false },
          pagination: { limit: 1, offset: 0 },
        },
        [],
        options,
      );
      return answer.results[0]?.metrics[0] ?? 0;
    },
  };
}
