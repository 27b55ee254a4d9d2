/**
 * What the Stats API answers looks like Plausible's, over the engine's rows:
 * - dimension values as Plausible labels them (`visit:device` `Desktop`,
 *   `Mobile`, `Tablet`, `(not set)`; empty UTM values `(not set)`), and the
 *   same labels accepted by filters ({@link toStoredFilters} maps them to the
 *   stored values before the engine runs);
 * - revenue metrics as Plausible's money objects `{ short, long, value,
 *   currency }` ({@link formatMoney}), or null where no revenue goal gives the
 *   row a currency;
 * - null where Plausible has no value: `scroll_depth` and `time_on_page` of a
 *   row without engagement, `percentage` of a query without visitors.
 *
 * ```ts
 * const filters = toStoredFilters(query.filters);
 * const rows = presentRows({ ...query, filters }, answer, goals);
 * ```
 */
import type { FilterTree, Goal, QueryAnswer, QueryMeta, ResolvedQuery, ValueFilter } from "./query_ast.ts";

/** A revenue metric's value, as Plausible writes money. */
export interface Money {
  /** `$1.5K`, `€112.0`: compact, one decimal. */
  short: string;
  /** `$1,500.00`: the currency's own decimals, thousands grouped. */
  long: string;
  value: number;
  /** ISO 4217. */
  currency: string;
}

/** One metric of a v2 answer: a number, a money object (revenue), or null (no value). */
export type MetricValue = number | Money | null;

export interface PresentedRow {
  metrics: MetricValue[];
  dimensions: string[];
}

/** `Money` of an amount, formatted as Plausible's `Money.to_string!` does (locale en). */
export function formatMoney(value: number, currency: string): Money {
  const long = new Intl.NumberFormat("en-US", { style: "currency", currency }).format(value);
  const short = new Intl.NumberFormat("en-US", {
    style: "currency",
    currency,
    notation: "compact",
    minimumFractionDigits: 1,
    maximumFractionDigits: 1,
  }).format(value);
  return { short, long, value, currency };
}

/** Stored device → Plausible's label. */
const DEVICE_LABELS: Record<string, string> = {
  desktop: "Desktop",
  mobile: "Mobile",
  tablet: "Tablet",
  other: "(not set)",
  "(not set)": "(not set)",
};
/** Plausible's device label → the stored values it stands for. */
const DEVICE_STORED: Record<string, string[]> = {
  Desktop: ["desktop"],
  Mobile: ["mobile"],
  Tablet: ["tablet"],
  "(not set)": ["other", "(not set)"],
};
/** What the engine answers for a visit without a UTM value, and Plausible's label for it. */
const UTM_STORED_NONE = "(none)";
const NOT_SET = "(not set)";

const isUtm = (d: string) => d.startsWith("visit:utm_");

/** Plausible's label of one stored dimension value. */
export function dimensionLabel(dimension: string, value: string): string {
  if (dimension === "visit:device") return DEVICE_LABELS[value] ?? value;
  if (isUtm(dimension) && value === UTM_STORED_NONE) return NOT_SET;
  return value;
}

function labelMatches(label: string, op: string, values: string[], caseSensitive: boolean): boolean {
  const subject = caseSensitive ? label : label.toLowerCase();
  const wanted = caseSensitive ? values : values.map((v) => v.toLowerCase());
  if (op.startsWith("is")) return wanted.includes(subject);
  if (op.startsWith("contains")) return wanted.some((v) => subject.includes(v));
  // The parser has checked every pattern compiles.
  return values.some((v) => new RegExp(v, caseSensitive ? "u" : "iu").test(label));
}

function storedLeaf(leaf: ValueFilter): ValueFilter {
  const [op, dimension, values, modifiers] = leaf;
  const negated = op.endsWith("_not");
  if (dimension === "visit:device") {
    // Devices are a closed set: the leaf becomes `is`/`is_not` over the stored values of the labels it matches.
    const caseSensitive = modifiers?.case_sensitive ?? true;
    const stored = Object.keys(DEVICE_STORED)
      .filter((label) => labelMatches(label, op, values, caseSensitive))
      .flatMap((label) => DEVICE_STORED[label]);
    return [negated ? "is_not" : "is", dimension, stored];
  }
  if (isUtm(dimension) && op.startsWith("is")) {
    const caseSensitive = modifiers?.case_sensitive ?? true;
    const notSet = values.some((v) => (caseSensitive ? v === NOT_SET : v.toLowerCase() === NOT_SET));
    if (notSet) {
      const rest = values.filter((v) => (caseSensitive ? v !== NOT_SET : v.toLowerCase() !== NOT_SET));
      return [op, dimension, [...rest, UTM_STORED_NONE], ...(modifiers ? [modifiers] : [])] as ValueFilter;
    }
  }
  return leaf;
}

/** A filter tree with Plausible's labels replaced by the values the engine stores. */
export function toStoredFilters(tree: FilterTree): FilterTree {
  switch (tree[0]) {
    case "and":
    case "or":
      return [tree[0], (tree[1] as FilterTree[]).map(toStoredFilters)];
    case "not":
    case "has_done":
    case "has_not_done":
      return [tree[0], toStoredFilters(tree[1] as FilterTree)] as FilterTree;
    default:
      return storedLeaf(tree as ValueFilter);
  }
}

/** The query with its filters in stored values (what the engine runs). */
export function storedQuery(q: ResolvedQuery): ResolvedQuery {
  return { ...q, filters: toStoredFilters(q.filters) };
}

/** Rows with dimension labels only (v1 answers revenue and empty metrics its own way). */
export function labelRows(q: ResolvedQuery, answer: QueryAnswer): QueryAnswer {
  return {
    meta: answer.meta,
    results: answer.results.map((r) => ({
      metrics: r.metrics,
      dimensions: r.dimensions.map((v, i) => dimensionLabel(q.dimensions[i], v)),
    })),
  };
}

/** A v2 answer's rows and meta as Plausible writes them. */
export function presentRows(
  q: ResolvedQuery,
  answer: QueryAnswer,
  goals: readonly Goal[],
): { results: PresentedRow[]; meta: QueryMeta } {
  const { revenue_currency: defaultCurrency, ...meta } = answer.meta;
  const warned = answer.meta.metric_warnings ?? {};
  const goalIndex = q.dimensions.indexOf("event:goal");
  const currencyOf = (dimensions: string[]): string | null => {
    if (goalIndex >= 0) {
      // Broken down by goal: each row in its own goal's currency (Plausible's goal → currency map).
      return goals.find((g) => g.name === dimensions[goalIndex])?.currency ?? null;
    }
    return typeof defaultCurrency === "string" ? defaultCurrency : null;
  };
  const results = answer.results.map((row) => {
    const currency = currencyOf(row.dimensions);
    const metrics = q.metrics.map((metric, i): MetricValue => {
      const value = row.metrics[i];
      switch (metric) {
        case "total_revenue":
        case "average_revenue":
          return currency === null || warned[metric] ? null : formatMoney(value ?? 0, currency);
        case "scroll_depth":
        case "time_on_page":
          return value === 0 ? null : value;
        case "percentage":
          return q.dimensions.length === 0 && value === 0 ? null : value;
        default:
          return value;
      }
    });
    return { metrics, dimensions: row.dimensions.map((v, i) => dimensionLabel(q.dimensions[i], v)) };
  });
  return { results, meta };
}
