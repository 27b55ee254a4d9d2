/**
 * The HTTP API contract of Plausible's Stats API beyond `POST /api/v2/query`
 * (which is `AnalyticsApi.queryStats`): the v1 stats routes, site API keys
 * (Bearer keys scoped to one site), and a site's goals and funnels.
 */
import * as v from "valibot";
import { isPlainObject, parsed } from "./schema.ts";

/** A goal of a site (see `node/services/analytics/query_ast.ts` `Goal`). */
export interface GoalView {
  id: string;
  kind: "pageview" | "event";
  /** A page path (`*`, `**` wildcards) or a custom event name. */
  match: string;
  /** What `event:goal` answers and filters by. */
  name: string;
  /** ISO 4217: a revenue goal. */
  currency?: string;
  customProps?: Record<string, string>;
}

/** `POST /api/v1/sites/:domain/goals` */
export interface GoalInput {
  kind: "pageview" | "event";
  match: string;
  name?: string;
  currency?: string;
  customProps?: Record<string, string>;
}

export interface FunnelView {
  id: string;
  name: string;
  /** Goal ids, in order. */
  steps: string[];
}

/** One step of a funnel over a range. */
export interface FunnelStepView {
  goal: string;
  visitors: number;
  /** % of the first step's visitors (2 decimals). */
  conversionRate: number;
  dropoff: number;
}

export interface FunnelResultView {
  funnel: FunnelView;
  /** First and last day, `YYYY-MM-DD`. */
  from: string;
  to: string;
  steps: FunnelStepView[];
}

/** A site API key as listed: never the key itself. */
export interface ApiKeyView {
  id: string;
  name: string;
  /** The last 4 characters of the key. */
  hint: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export type StatsV1Endpoint = "aggregate" | "timeseries" | "breakdown";

/** Who a Stats API request is from: the node's owner, or a key scoped to one site. */
export type StatsCaller = { owner: true } | { owner: false; site: string };

/** A revenue metric of a v2 answer, as Plausible writes money: `{ short: "$1.5K", long: "$1,500.00", value: 1500, currency: "USD" }`. */
export interface MoneyView {
  short: string;
  long: string;
  value: number;
  currency: string;
}

/** `POST /api/v2/query` answer (Plausible's shape; `query` is the query as it ran). A metric is null where Plausible has no value. */
export interface StatsV2Answer {
  results: { metrics: (number | MoneyView | null)[]; dimensions: string[] }[];
  meta: Record<string, unknown>;
  query: {
    site_id: string;
    metrics: string[];
    date_range: [string, string];
    filters: unknown[];
    dimensions: string[];
    order_by: [string, "asc" | "desc"][];
    include: { imports: boolean; time_labels: boolean; total_rows: boolean };
    pagination: { limit: number; offset: number };
  };
}

export interface StatsApi {
  /**
   * Plausible's Stats API v2 over the raw events. Throws an error named `QueryError`
   * (Plausible's message, `status`) or `NotFoundError`.
   */
  queryStatsV2(body: unknown, options?: { signal?: AbortSignal }): Promise<StatsV2Answer>;
  /**
   * A v1 stats route (`GET /api/v1/stats/<endpoint>?…`) answered in v1's shape.
   * Throws an error named `QueryError` (Plausible's message, `status`) or `NotFoundError`.
   */
  queryStatsV1(
    endpoint: StatsV1Endpoint,
    params: Record<string, string>,
    options?: { signal?: AbortSignal },
  ): Promise<Record<string, unknown>>;
  /** Visitors of the last 5 minutes (`GET /api/v1/stats/realtime/visitors`); throws like `queryStatsV1`. */
  countRealtimeVisitors(site: string, options?: { signal?: AbortSignal }): Promise<number>;
  /** The site a site API key is scoped to, or null for a key that is not one. */
  getApiKeySite(key: string): Promise<string | null>;
  /** Throws `NotFoundError` for a site this node does not own. */
  listGoals(domain: string): Promise<GoalView[]>;
  /** Throws `TypeError` naming the bad field, `NotFoundError`. */
  addGoal(domain: string, input: GoalInput): Promise<GoalView>;
  deleteGoal(domain: string, id: string): Promise<void>;
  listFunnels(domain: string): Promise<FunnelView[]>;
  addFunnel(domain: string, input: { name: string; steps: string[] }): Promise<FunnelView>;
  deleteFunnel(domain: string, id: string): Promise<void>;
  /** Visitors per step over `[from, to]` (`YYYY-MM-DD`, UTC days, both included). */
  getFunnelResult(
    domain: string,
    id: string,
    range: { from: string; to: string },
    options?: { signal?: AbortSignal },
  ): Promise<FunnelResultView>;
  listApiKeys(domain: string): Promise<ApiKeyView[]>;
  /** The key is in this answer only; it is stored hashed. */
  createApiKey(domain: string, name: string): Promise<ApiKeyView & { key: string }>;
  revokeApiKey(domain: string, id: string): Promise<void>;
}

const MAX_TEXT = 2048;

function parseGoalBody(value: unknown): GoalInput {
  if (!isPlainObject(value)) {
    throw new TypeError('Expected a JSON object like { "kind": "event", "match": "Signup" }');
  }
  const body = value as Record<string, unknown>;
  const keys = ["kind", "match", "name", "currency", "customProps"];
  const extra = Object.keys(body).find((k) => !keys.includes(k));
  if (extra !== undefined) {
    throw new TypeError(`Unknown field "${extra.slice(0, 40)}"; send only ${keys.join(", ")}`);
  }
  if (body.kind !== "pageview" && body.kind !== "event") {
    throw new TypeError('Field "kind" must be "pageview" or "event"');
  }
  const str = (name: string, required: boolean): string | undefined => {
    const x = body[name];
    if (x === undefined || x === null || x === "") {
      if (required) throw new TypeError(`Field "${name}" is required`);
      return undefined;
    }
    if (typeof x !== "string" || x.length > MAX_TEXT) {
      throw new TypeError(`Field "${name}" must be a string of at most ${MAX_TEXT} characters`);
    }
    return x;
  };
  const input: GoalInput = { kind: body.kind, match: str("match", true)! };
  const name = str("name", false);
  const currency = str("currency", false);
  if (name !== undefined) input.name = name;
  if (currency !== undefined) input.currency = currency;
  if (body.customProps !== undefined && body.customProps !== null) {
    if (!isPlainObject(body.customProps)) {
      throw new TypeError('Field "customProps" must be an object of strings');
    }
    const props = body.customProps as Record<string, unknown>;
    for (const [k, x] of Object.entries(props)) {
      if (typeof x !== "string") {
        throw new TypeError(`Field "customProps.${k.slice(0, 40)}" must be a string`);
      }
    }
    input.customProps = props as Record<string, string>;
  }
  return input;
}

/** `POST /api/v1/sites/:domain/goals` (JSON, or the site page's form: `customProps` as `key=value` lines). */
export const GoalBody = parsed(parseGoalBody);

function parseFunnelBody(value: unknown): { name: string; steps: string[] } {
  if (!isPlainObject(value)) {
    throw new TypeError('Expected a JSON object like { "name": "Signup", "steps": ["id1", "id2"] }');
  }
  const body = value as Record<string, unknown>;
  const extra = Object.keys(body).find((k) => k !== "name" && k !== "steps");
  if (extra !== undefined) {
    throw new TypeError(`Unknown field "${extra.slice(0, 40)}"; send only name, steps`);
  }
  if (typeof body.name !== "string" || body.name.trim() === "" || body.name.length > 120) {
    throw new TypeError('Field "name" must be a string of 1 to 120 characters');
  }
  if (!Array.isArray(body.steps) || body.steps.some((s) => typeof s !== "string" || s.length > 40)) {
    throw new TypeError('Field "steps" must be an array of goal ids');
  }
  return { name: body.name, steps: body.steps as string[] };
}

/** `POST /api/v1/sites/:domain/funnels` */
export const FunnelBody = parsed(parseFunnelBody);

/** `POST /api/v1/sites/:domain/api-keys` */
export const ApiKeyBody = v.strictObject(
  {
    name: v.pipe(
      v.string('Field "name" must be a string'),
      v.minLength(1, 'Field "name" is required'),
      v.maxLength(120, 'Field "name" is at most 120 characters'),
    ),
  },
  'Expected a JSON object like { "name": "reporting script" } with no other field',
); // deno-fmt-ignore
