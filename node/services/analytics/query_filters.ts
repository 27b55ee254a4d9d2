/**
 * The filter trees of a v2 query: {@link parseFilterTree} checks one entry of
 * `filters` against Plausible's JSON schema (its messages), and the walkers
 * `query_v2.ts` uses for Plausible's rules across the tree (which dimensions
 * are filtered where; behavioural filters only over event dimensions, never
 * nested).
 */
import {
  BEHAVIOURAL_OPS,
  EVENT_DIMENSIONS,
  type FilterDimension,
  type FilterTree,
  isDimension,
  isTimeDimension,
  PROPS_PREFIX,
  VALUE_OPS,
  type ValueFilter,
} from "./query_ast.ts";
import { inspect, QueryError } from "./query_error.ts";

const MAX_CLAUSES = 1_000;
const MAX_CLAUSE_LENGTH = 2_048;
const MAX_FILTER_DEPTH = 16;
const MAX_FILTER_NODES = 200;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const EVENT_DIMS: readonly string[] = EVENT_DIMENSIONS;

export function parseFilterTree(
  f: unknown,
  path: string,
  top: unknown,
  depth: number,
  budget: { nodes: number },
): FilterTree {
  const invalid = () => new QueryError(`${path}: Invalid filter ${inspect(f)}`);
  if (++budget.nodes > MAX_FILTER_NODES || depth > MAX_FILTER_DEPTH) {
    throw new QueryError(
      `Invalid filters. At most ${MAX_FILTER_NODES} filters nested ${MAX_FILTER_DEPTH} deep.`,
    );
  }
  if (!Array.isArray(f) || f.length < 2) throw invalid();
  const op = f[0];
  if (op === "and" || op === "or") {
    if (f.length !== 2 || !Array.isArray(f[1]) || f[1].length === 0) throw invalid();
    return [op, f[1].map((child: unknown) => parseFilterTree(child, path, top, depth + 1, budget))];
  }
  if (op === "not" || (BEHAVIOURAL_OPS as readonly unknown[]).includes(op)) {
    if (f.length !== 2) throw invalid();
    return [op, parseFilterTree(f[1], path, top, depth + 1, budget)] as FilterTree;
  }
  if (!(VALUE_OPS as readonly unknown[]).includes(op)) throw invalid();
  if (f.length !== 3 && f.length !== 4) throw invalid();
  const dim = f[1];
  if (dim === "segment") {
    throw new QueryError("Invalid filters. Some segments don't exist or aren't accessible.");
  }
  if (!isDimension(dim) || isTimeDimension(dim)) throw invalid();
  if (dim === "event:goal" && op !== "is" && op !== "contains") throw invalid();
  const clauses = f[2];
  if (!Array.isArray(clauses) || clauses.length > MAX_CLAUSES) throw invalid();
  let values: string[];
  if (clauses.every((c) => typeof c === "string")) {
    values = clauses as string[];
  } else if (dim === "visit:city" && clauses.every((c) => Number.isSafeInteger(c))) {
    values = clauses.map((c) => String(c));
  } else {
    throw new QueryError(`Invalid filter '${inspect(f)}'.`);
  }
  if (values.some((v) => v.length > MAX_CLAUSE_LENGTH)) {
    throw new QueryError(`${path}: Invalid filter: values are at most ${MAX_CLAUSE_LENGTH} characters`);
  }
  if (
    dim === "visit:country" && (op === "is" || op === "is_not") && values.some((v) => [...v].length !== 2)
  ) {
    throw new QueryError(
      "Invalid visit:country filter, visit:country needs to be a valid 2-letter country code.",
    );
  }
  if (op === "matches" || op === "matches_not") {
    for (const v of values) {
      try {
        new RegExp(v, "u");
      } catch {
        throw new QueryError(
          `Invalid filter '${inspect(f)}'. ${inspect(v)} is not a valid regular expression.`,
        );
      }
    }
  }
  const leaf: ValueFilter = [op as ValueFilter[0], dim as FilterDimension, [...values]];
  if (f.length === 4) {
    const mods = f[3];
    if (!isObject(mods)) throw invalid();
    for (const [key, value] of Object.entries(mods)) {
      if (key !== "case_sensitive" || typeof value !== "boolean") throw invalid();
    }
    if (mods.case_sensitive !== undefined) {
      return [leaf[0], leaf[1], leaf[2], { case_sensitive: mods.case_sensitive as boolean }];
    }
  }
  return leaf;
}

export function forEachLeaf(tree: FilterTree, visit: (leaf: ValueFilter) => void): void {
  if (tree[0] === "and" || tree[0] === "or") {
    for (const child of tree[1] as FilterTree[]) forEachLeaf(child, visit);
  } else if (tree[0] === "not" || tree[0] === "has_done" || tree[0] === "has_not_done") {
    forEachLeaf(tree[1] as FilterTree, visit);
  } else {
    visit(tree as ValueFilter);
  }
}

/** Dimensions by where they are filtered, ignoring those under behavioural filters. */
export function collectDims(
  tree: FilterTree,
  depth: number,
  behavioural: number,
  out: { deep: Set<string>; anywhere: Set<string>; topLevel: Set<string> },
): void {
  const op = tree[0];
  if (op === "and" || op === "or") {
    for (const child of tree[1] as FilterTree[]) collectDims(child, depth + 1, behavioural, out);
  } else if (op === "not") {
    collectDims(tree[1] as FilterTree, depth + 1, behavioural, out);
  } else if (op === "has_done" || op === "has_not_done") {
    collectDims(tree[1] as FilterTree, depth + 1, behavioural + 1, out);
  } else if (behavioural === 0) {
    const dim = tree[1] as string;
    out.anywhere.add(dim);
    if (depth === 0) out.topLevel.add(dim);
    else out.deep.add(dim);
  }
}

export function checkBehavioural(tree: FilterTree, behavioural: number): void {
  const op = tree[0];
  if (op === "and" || op === "or") {
    for (const child of tree[1] as FilterTree[]) checkBehavioural(child, behavioural);
  } else if (op === "not") {
    checkBehavioural(tree[1] as FilterTree, behavioural);
  } else if (op === "has_done" || op === "has_not_done") {
    if (behavioural > 0) {
      throw new QueryError("Invalid filters. Behavioral filters (has_done, has_not_done) cannot be nested.");
    }
    checkBehavioural(tree[1] as FilterTree, behavioural + 1);
  } else if (behavioural > 0) {
    const dim = tree[1] as string;
    if (!EVENT_DIMS.includes(dim) && !dim.startsWith(PROPS_PREFIX)) {
      throw new QueryError(
        "Invalid filters. Behavioral filters (has_done, has_not_done) can only be used with event dimension filters.",
      );
    }
  }
}
