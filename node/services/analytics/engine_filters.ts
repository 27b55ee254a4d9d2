/**
 * The filter trees of stats queries as SQL conditions over an event `e`
 * joined to its visit `v` (`engine_sql.ts` puts them in its statements):
 * value filters on event, visit and prop dimensions, goals (`event:goal`),
 * country names, `and`/`or`/`not`, and `has_done`/`has_not_done` as a
 * semi-join on the visits with a matching event in the range. Plus the
 * visit dimensions' columns and Plausible's page wildcards.
 *
 * ```ts
 * const where = filterSql(query.filters, { q: query, D: DUCKDB, goals, b: new Binder(), engagement: false });
 * ```
 */
import type { FilterTree, Goal, ResolvedQuery, ValueFilter } from "./query_ast.ts";
import { propName } from "./query_ast.ts";
import type { Binder, Dialect } from "./engine_sql.ts";
import { channelSql } from "./channel.ts";
import { countryCodesWhere } from "./country_names.ts";

/**
 * The visit dimensions whose columns a visit has from its first event on
 * (never updated), which a dialect with `visitColumnsOnEvents` also keeps
 * on each event row, so filters and breakdowns on them need no join.
 */
const VISIT_ONLY_DIMENSIONS = new Set([
  "visit:entry_page",
  "visit:exit_page",
  "visit:entry_page_hostname",
  "visit:exit_page_hostname",
]);

/** Whether `d` (a visit dimension) must be read from the visit row in dialect `D`. */
export function needsVisitRow(d: string, D: Dialect): boolean {
  return d.startsWith("visit:") && (D.visitColumnsOnEvents.length === 0 || VISIT_ONLY_DIMENSIONS.has(d));
}

/** The column of a visit dimension (null where the visit has no value). */
export function visitColumn(d: string, D: Dialect, v = "v"): string {
  switch (d) {
    case "visit:entry_page":
      return `${v}.entry_page`;
    case "visit:exit_page":
      return `${v}.exit_page`;
    case "visit:entry_page_hostname":
      return `${v}.entry_hostname`;
    case "visit:exit_page_hostname":
      return D.exitHostname;
    case "visit:source":
      return `COALESCE(${v}.source, 'Direct / None')`;
    case "visit:referrer":
      return `COALESCE(${v}.referrer, 'Direct / None')`;
    case "visit:channel":
      return channelSql(v);
    case "visit:utm_source":
    case "visit:utm_medium":
    case "visit:utm_campaign":
    case "visit:utm_content":
    case "visit:utm_term":
      return `COALESCE(${v}.${d.slice(6)}, '(none)')`;
    case "visit:device":
    case "visit:browser":
    case "visit:os":
      return `COALESCE(NULLIF(${v}.${d.slice(6)}, ''), '(not set)')`;
    case "visit:browser_version":
    case "visit:os_version":
      return "'(not set)'";
    case "visit:country":
    case "visit:country_name":
      return `${v}.country`;
    case "visit:region":
      return `${v}.region`;
    case "visit:city":
      return `${v}.city`;
    case "visit:city_name":
      return `${v}.city_name`;
    case "visit:region_name":
      return `${v}.region_name`;
  }
  throw new TypeError(`Cannot query "${d}": unknown dimension`);
}

/** Plausible's page wildcards (`*` anything but `/`, `**` anything) as an anchored regular expression. */
export function wildcardRegex(pattern: string): string {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        out += ".*";
        i++;
      } else out += "[^/]*";
    } else out += /[\\^$.|?+()[\]{}]/.test(c) ? `\\${c}` : c;
  }
  return `^${out}$`;
}

/**
 * `expr` matches a page pattern with Plausible's wildcards: equality without
 * any, `GLOB` (case-sensitive in both engines) when only `**` occur, which
 * is much cheaper than a regular expression on every event, else `GLOB` on
 * the literal prefix and the expression.
 */
function pageMatchSql(expr: string, pattern: string, D: Dialect, b: Binder): string {
  if (!pattern.includes("*")) return `${expr} = ${b.bind(pattern)}`;
  const glob = (p: string) => p.replace(/[*?[]/g, (c) => `[${c}]`);
  const prefix = pattern.slice(0, pattern.indexOf("*"));
  if (!pattern.replaceAll("**", "").includes("*")) {
    return `${expr} GLOB ${b.bind(pattern.split("**").map(glob).join("*"))}`;
  }
  return `(${expr} GLOB ${b.bind(`${glob(prefix)}*`)} AND ${D.regex(expr, wildcardRegex(pattern), b)})`;
}

/** The condition under which an event `x` completes `goal`. */
export function goalCondition(goal: Goal, x: string, D: Dialect, b: Binder): string {
  const parts: string[] = [];
  if (goal.kind === "event") {
    parts.push(`${x}.name = ${b.bind(goal.match)}`);
  } else {
    parts.push(`${x}.name = 'pageview'`);
    parts.push(pageMatchSql(`${x}.pathname`, goal.match, D, b));
  }
  for (const [key, value] of Object.entries(goal.customProps ?? {})) {
    parts.push(`${D.prop(x, key, b)} = ${b.bind(value)}`);
  }
  return `(${parts.join(" AND ")})`;
}

export interface FilterContext {
  q: ResolvedQuery;
  D: Dialect;
  goals: readonly Goal[];
  b: Binder;
  /** Over engagement events: leaves on event names and goals hold for every row. */
  engagement: boolean;
  /** The alias visit columns are read from: `v` (the joined visit, the default) or `e` (copied onto events). */
  visitAlias?: string;
  /** The visit id behavioural filters test: `e.visit_id` (the default) or `v.id` (over visit rows). */
  visitId?: string;
  /**
   * The condition is a `WHERE` clause's (or an `and`/`or` in one), where NULL drops a row as false does,
   * so a leaf needs no `COALESCE(…, false)` (which keeps DuckDB from pushing it into its scan).
   */
  where?: boolean;
}

const TRUE = "(1 = 1)";
const FALSE = "(1 = 0)";

/** The SQL condition of a filter tree over `e` joined to `v`. */
export function filterSql(tree: FilterTree, c: FilterContext): string {
  switch (tree[0]) {
    case "and":
    case "or": {
      const children = (tree[1] as FilterTree[]).map((t) => filterSql(t, c));
      if (children.length === 0) return tree[0] === "and" ? TRUE : FALSE;
      return `(${children.join(tree[0] === "and" ? " AND " : " OR ")})`;
    }
    case "not":
      return `(NOT ${filterSql(tree[1] as FilterTree, { ...c, where: false })})`;
    case "has_done":
    case "has_not_done": {
      const { q, b, D } = c;
      const joined = needsVisitJoin(tree[1] as FilterTree, D);
      const inner = filterSql(tree[1] as FilterTree, {
        ...c,
        engagement: false,
        visitAlias: joined ? "v" : "e",
        where: true,
      });
      const join = joined ? `JOIN ${D.visits} v ON v.id = e.visit_id` : "";
      const sub = `${c.visitId ?? "e.visit_id"} IN (SELECT e.visit_id FROM ${D.events} e ${join}
        WHERE e.site = ${b.bind(q.site)} AND e.ts >= ${b.bind(q.from)} AND e.ts < ${
        b.bind(q.to)
      } AND ${inner})`;
      return tree[0] === "has_done" ? `(${sub})` : `(NOT ${sub})`;
    }
    default:
      return leafSql(tree as ValueFilter, c);
  }
}

export function leafSql([op, dim, values, modifiers]: ValueFilter, c: FilterContext): string {
  const negated = op.endsWith("_not");
  const caseSensitive = modifiers?.case_sensitive ?? true;
  if (c.engagement && (dim === "event:name" || dim === "event:goal")) return TRUE;
  let positive: string;
  if (dim === "event:goal") {
    const chosen = c.goals.filter((g) => valueMatches(g.name, op, values, caseSensitive));
    const conditions = chosen.map((g) => goalCondition(g, "e", c.D, c.b));
    positive = conditions.length === 0 ? FALSE : `(${conditions.join(" OR ")})`;
  } else if (dim === "visit:country_name") {
    const codes = countryCodesWhere((name) => valueMatches(name, op, values, caseSensitive));
    positive = codes.length === 0
      ? FALSE
      : `COALESCE(${c.visitAlias ?? "v"}.country IN (${
        codes.map((code) => c.b.bind(code)).join(", ")
      }), ${FALSE})`;
  } else {
    const prop = propName(dim);
    const expr = prop !== null ? c.D.prop("e", prop, c.b) : eventOrVisitColumn(dim, c.D, c.visitAlias ?? "v");
    const test = (x: string) => valueTest(x, op, values, caseSensitive, prop !== null, c);
    const bare = prop === null && op.startsWith("is") && caseSensitive
      ? bareColumn(dim, values, c.visitAlias ?? "v")
      : null;
    const decided = (t: string) => c.where && !negated ? `(${t})` : `COALESCE((${t}), ${FALSE})`;
    if (bare !== null) {
      // No label of a missing value among the values: the column itself (NULL where missing) decides.
      positive = decided(`${bare} IN (${values.map((v) => c.b.bind(v)).join(", ")})`);
    } else if (dim === "event:page" && c.D.pages && op.startsWith("matches")) {
      // Each of the site's distinct pathnames goes through the regular expression once, rather than every
      // event's (for `contains`, a semi-join on the pathname costs more than the test itself).
      positive = `COALESCE(${expr} IN (SELECT pg.pathname FROM ${c.D.pages} pg
        WHERE pg.site = ${c.b.bind(c.q.site)} AND (${test("pg.pathname")})), ${FALSE})`;
    } else {
      positive = decided(test(expr));
    }
  }
  return negated ? `(NOT ${positive})` : positive;
}

/** The labels {@link visitColumn} shows for a missing (or empty) value, by dimension. */
const MISSING_LABELS: Record<string, string[]> = {
  "visit:source": ["Direct / None"],
  "visit:referrer": ["Direct / None"],
  "visit:utm_source": ["(none)"],
  "visit:utm_medium": ["(none)"],
  "visit:utm_campaign": ["(none)"],
  "visit:utm_content": ["(none)"],
  "visit:utm_term": ["(none)"],
  "visit:device": ["(not set)", ""],
  "visit:browser": ["(not set)", ""],
  "visit:os": ["(not set)", ""],
};

/** The column an `is` leaf on `dim` can test directly: its values name none of its missing-value labels. */
function bareColumn(dim: string, values: string[], v: string): string | null {
  const labels = MISSING_LABELS[dim];
  if (!labels || values.some((x) => labels.includes(x))) return null;
  return `${v}.${dim.slice(6)}`;
}

/** Whether `expr` passes a leaf's `is`, `contains` or `matches` values (`prop`: "(none)" is a missing prop). */
function valueTest(
  expr: string,
  op: string,
  values: string[],
  caseSensitive: boolean,
  prop: boolean,
  c: FilterContext,
): string {
  const subject = caseSensitive ? expr : `lower(${expr})`;
  const bind = (v: string) => caseSensitive ? c.b.bind(v) : `lower(${c.b.bind(v)})`;
  if (op.startsWith("is")) {
    const real = values.filter((v) => !(prop && v === "(none)"));
    const parts = real.length > 0 ? [`${subject} IN (${real.map(bind).join(", ")})`] : [];
    if (prop && values.includes("(none)")) parts.push(`${expr} IS NULL`);
    return parts.length === 0 ? FALSE : parts.join(" OR ");
  }
  if (op.startsWith("contains")) return values.map((v) => `instr(${subject}, ${bind(v)}) > 0`).join(" OR ");
  return values.map((v) => c.D.regex(expr, caseSensitive ? v : `(?i)${v}`, c.b)).join(" OR ");
}

function eventOrVisitColumn(dim: string, D: Dialect, v: string): string {
  switch (dim) {
    case "event:page":
      return "e.pathname";
    case "event:name":
      return "e.name";
    case "event:hostname":
      return "e.hostname";
  }
  return visitColumn(dim, D, v);
}

/** Whether a value (a goal's or a country's name) matches a leaf's operator and values. */
export function valueMatches(value: string, op: string, values: string[], caseSensitive: boolean): boolean {
  const v = caseSensitive ? value : value.toLowerCase();
  const vs = caseSensitive ? values : values.map((x) => x.toLowerCase());
  if (op.startsWith("is")) return vs.includes(v);
  if (op.startsWith("contains")) return vs.some((x) => v.includes(x));
  return values.some((x) => new RegExp(x, caseSensitive ? "" : "i").test(value));
}

/** The leaves at the top level of a filter tree (an `and` of leaves, or a leaf). */
export function topLevelLeaves(tree: FilterTree): ValueFilter[] {
  if (tree[0] === "and") return (tree[1] as FilterTree[]).filter(isLeaf) as ValueFilter[];
  return isLeaf(tree) ? [tree as ValueFilter] : [];
}

function isLeaf(t: FilterTree): boolean {
  return !["and", "or", "not", "has_done", "has_not_done"].includes(t[0]);
}

/** Whether a filter tree reads a visit's columns (outside its behavioural filters' own subqueries). */
export function usesVisits(tree: FilterTree): boolean {
  let uses = false;
  const go = (t: FilterTree) => {
    switch (t[0]) {
      case "and":
      case "or":
        (t[1] as FilterTree[]).forEach(go);
        return;
      case "not":
        go(t[1] as FilterTree);
        return;
      case "has_done":
      case "has_not_done":
        return;
      default:
        if ((t as ValueFilter)[1].startsWith("visit:")) uses = true;
    }
  };
  go(tree);
  return uses;
}

/** Whether a filter tree reads a visit column only the visit row has in dialect `D` (see {@link needsVisitRow}). */
export function needsVisitJoin(tree: FilterTree, D: Dialect): boolean {
  switch (tree[0]) {
    case "and":
    case "or":
      return (tree[1] as FilterTree[]).some((t) => needsVisitJoin(t, D));
    case "not":
      return needsVisitJoin(tree[1] as FilterTree, D);
    case "has_done":
    case "has_not_done":
      return false;
    default:
      return needsVisitRow((tree as ValueFilter)[1], D);
  }
}

/**
 * Whether a filter tree holds or fails for whole visits: an `and` with a behavioural filter
 * (`has_done`/`has_not_done`) among its children (or one alone), all its other leaves on visit dimensions.
 */
export function visitLevelFilters(tree: FilterTree): boolean {
  const behaviour = (t: FilterTree) => t[0] === "has_done" || t[0] === "has_not_done";
  if (behaviour(tree)) return true;
  if (tree[0] !== "and") return false;
  const children = tree[1] as FilterTree[];
  return children.some(behaviour) && children.every((t) => behaviour(t) || onlyVisitFilters(t));
}

/** Whether a filter tree tests only visit dimensions (no events, props, goals or behaviour). */
export function onlyVisitFilters(tree: FilterTree): boolean {
  switch (tree[0]) {
    case "and":
    case "or":
      return (tree[1] as FilterTree[]).every(onlyVisitFilters);
    case "not":
      return onlyVisitFilters(tree[1] as FilterTree);
    case "has_done":
    case "has_not_done":
      return false;
    default:
      return (tree as ValueFilter)[1].startsWith("visit:");
  }
}
