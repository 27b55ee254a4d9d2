/**
 * k-anonymity by generalisation and suppression, in two passes over a source's rows.
 *
 * Pass 1 ({@link analyse}) reduces every quasi-identifier to its finest form and counts the rows of
 * each distinct combination: memory holds these class counts, never rows. Every level vector (one
 * level per quasi-identifier) is a function of the finest values, so its class counts follow from
 * them without reading the rows again. The vectors are tried by total level, least first; the first
 * total at which some vector suppresses (drops the rows of classes smaller than k) at most
 * `maxSuppressedShare` of the rows wins, the vector with the fewest suppressed rows among them (then
 * the first in field order). When none does, the coarsest vector is taken and its small classes
 * suppressed. Pass 2 (each iteration of `rows()`) generalises every row with the chosen vector and
 * releases those whose class has at least k rows; if the rows changed between the passes, the
 * classes no longer add up and it throws {@link SourceChangedError} rather than release a class it
 * did not count.
 *
 * ```ts
 * const table = anonymize("uber", () => sources.rows(id), { k: 5 });
 * table.report; // { k: 5, suppressed: 3, dropped: ["pickupAddress", …], generalised: { requestedAt: "day", … } }
 * for (const row of table.rows()) console.log(row);
 * ```
 */
import type { PrivacyReport } from "../../../protocol/manifest.ts";
import {
  type FieldSpec,
  SOURCE_KIND_INFO,
  SOURCE_KINDS,
  type SourceKind,
  type SourceRow,
} from "../../../protocol/sources.ts";
import { SourceChangedError } from "./errors.ts";
import { type Finest, fixedLevels, type Level, rangeLevels, type Released, toFinest } from "./generalise.ts";

export const DEFAULT_K = 5;
export const MIN_K = 2;
export const MAX_K = 10_000;
/** Share of rows the search may suppress before it generalises further. */
export const DEFAULT_MAX_SUPPRESSED_SHARE = 0.05;

export interface AnonymizeOptions {
  /** Least size of a released equivalence class. @default {@link DEFAULT_K} */
  k?: number;
  /** Share of rows suppression may remove at the chosen generalisation. @default 0.05 */
  maxSuppressedShare?: number;
  /** Called with the number of rows read so far, every 10,000 rows of the first pass. */
  onProgress?: (rows: number) => void;
}

export type AnonymizedReport =
  & Required<Pick<PrivacyReport, "k" | "suppressed" | "dropped" | "generalised">>
  & PrivacyReport;

export interface AnonymizedTable {
  /** `null` for a combined table. */
  kind: SourceKind | null;
  /** Released columns: every field but the identifiers, in the kind's order. */
  columns: string[];
  /** Rows released. */
  released: number;
  report: AnonymizedReport;
  /** The released rows, generalised; each iteration reads the source again. */
  rows(): Iterable<Released[]>;
}

/** An equivalence class: its released quasi-identifier values and its size. */
export interface EquivalenceClass {
  values: Released[];
  count: number;
}

/** What the first pass found and chose. */
export interface Analysis {
  kind: SourceKind;
  /** The quasi-identifiers, in the kind's order, and the level chosen for each. */
  quasi: { spec: FieldSpec; level: Level }[];
  k: number;
  /** Rows read. */
  total: number;
  /** Rows in classes smaller than k. */
  suppressed: number;
  /** Every class of the chosen vector, small ones included, by {@link classKey}. */
  classes: Map<string, EquivalenceClass>;
  report: AnonymizedReport;
}

/** Validated options; throws `TypeError` naming the bad one. */
export function checkOptions(options: AnonymizeOptions): { k: number; maxSuppressedShare: number } {
  const k = options.k ?? DEFAULT_K;
  if (!Number.isSafeInteger(k) || k < MIN_K || k > MAX_K) {
    throw new TypeError(`Invalid "k": expected an integer from ${MIN_K} to ${MAX_K}`);
  }
  const maxSuppressedShare = options.maxSuppressedShare ?? DEFAULT_MAX_SUPPRESSED_SHARE;
  if (typeof maxSuppressedShare !== "number" || !(maxSuppressedShare >= 0 && maxSuppressedShare <= 1)) {
    throw new TypeError('Invalid "maxSuppressedShare": expected a share from 0 to 1');
  }
  return { k, maxSuppressedShare };
}

/** Throws `TypeError` unless `kind` is a source kind. */
export function checkKind(kind: unknown): SourceKind {
  if (!(SOURCE_KINDS as readonly unknown[]).includes(kind)) {
    throw new TypeError(`Unknown source kind "${String(kind)}": expected one of ${SOURCE_KINDS.join(", ")}`);
  }
  return kind as SourceKind;
}

/** The key of a class: its released values. */
export function classKey(values: readonly Released[]): string {
  return JSON.stringify(values);
}

/** Pass 1: class counts at the finest level, the search over level vectors, the chosen classes. */
export function analyse(
  kind: SourceKind,
  rows: () => Iterable<SourceRow>,
  options: AnonymizeOptions = {},
): Analysis {
  checkKind(kind);
  const { k, maxSuppressedShare } = checkOptions(options);
  const fields = SOURCE_KIND_INFO[kind].fields;
  const quasi = fields.filter((f) => f.role === "quasi");
  const plain = fields.filter((f) => f.role === "plain");
  // Each field's distinct finest values get a number; a finest class is the tuple of those numbers.
  const distinct = quasi.map(() => new Map<Finest, { id: number; value: Finest; count: number }>());
  const finestClasses = new Map<string, { ids: number[]; count: number }>();
  let total = 0;
  for (const row of rows()) {
    total += 1;
    if (options.onProgress && total % 10_000 === 0) options.onProgress(total);
    checkRow(row, total);
    for (const spec of plain) plainValue(row[spec.name], spec.name, `row ${total} of "${kind}"`);
    const ids = quasi.map((spec, f) => {
      const value = toFinest(spec, row[spec.name], `row ${total} of "${kind}"`);
      let entry = distinct[f].get(value);
      if (!entry) distinct[f].set(value, entry = { id: distinct[f].size, value, count: 0 });
      entry.count += 1;
      return entry.id;
    });
    const key = ids.join(",");
    const cls = finestClasses.get(key);
    if (cls) cls.count += 1;
    else finestClasses.set(key, { ids, count: 1 });
  }
  const hierarchies = quasi.map((spec, f) => levelsOf(spec, distinct[f]));
  // rendered[f][l][id]: the released value of distinct value `id` of field f at level l, and its number.
  const values = distinct.map((d) => [...d.values()].sort((a, b) => a.id - b.id).map((e) => e.value));
  const rendered = hierarchies.map((levels, f) =>
    levels.map((level) => values[f].map((v) => level.render(v)))
  );
  const renderedIds = rendered.map((levels) => levels.map(numberValues));
  const classList = [...finestClasses.values()];

  const suppressedAt = (vector: number[]): number => {
    const counts = new Map<string, number>();
    for (const cls of classList) {
      let key = "";
      for (let f = 0; f < vector.length; f++) key += renderedIds[f][vector[f]][cls.ids[f]] + ",";
      counts.set(key, (counts.get(key) ?? 0) + cls.count);
    }
    let suppressed = 0;
    for (const count of counts.values()) if (count < k) suppressed += count;
    return suppressed;
  };

  const chosen = searchLattice(hierarchies.map((h) => h.length), suppressedAt, maxSuppressedShare * total);
  const classes = new Map<string, EquivalenceClass>();
  for (const cls of classList) {
    const released = chosen.map((level, f) => rendered[f][level][cls.ids[f]]);
    const key = classKey(released);
    const existing = classes.get(key);
    if (existing) existing.count += cls.count;
    else classes.set(key, { values: released, count: cls.count });
  }
  let suppressed = 0;
  for (const cls of classes.values()) if (cls.count < k) suppressed += cls.count;
  const chosenLevels = quasi.map((spec, f) => ({ spec, level: hierarchies[f][chosen[f]] }));
  return {
    kind,
    quasi: chosenLevels,
    k,
    total,
    suppressed,
    classes,
    report: {
      k,
      suppressed,
      dropped: fields.filter((f) => f.role === "identifier").map((f) => f.name),
      generalised: Object.fromEntries(chosenLevels.map(({ spec, level }) => [spec.name, level.label])),
    },
  };
}

function levelsOf(spec: FieldSpec, distinct: Map<Finest, { value: Finest; count: number }>): Level[] {
  if (spec.generalise !== "range") return fixedLevels(spec);
  const counts = new Map<number, number>();
  for (const { value, count } of distinct.values()) if (value !== null) counts.set(value as number, count);
  return rangeLevels(counts);
}

/** A small number for each distinct value of a list (equal values, equal numbers). */
function numberValues(list: Released[]): number[] {
  const ids = new Map<Released, number>();
  return list.map((v) => {
    let id = ids.get(v);
    if (id === undefined) ids.set(v, id = ids.size);
    return id;
  });
}

/**
 * The least coarse vector suppressing at most `allowed` rows: vectors by total level, least first;
 * within the first total that has one, the fewest suppressed, then the first in order. Else the
 * coarsest.
 */
export function searchLattice(
  sizes: readonly number[],
  suppressedAt: (vector: number[]) => number,
  allowed: number,
): number[] {
  const maxTotal = sizes.reduce((a, b) => a + b - 1, 0);
  for (let sum = 0; sum <= maxTotal; sum++) {
    let best: { vector: number[]; suppressed: number } | null = null;
    for (const vector of vectorsWithSum(sizes, sum)) {
      const suppressed = suppressedAt(vector);
      if (suppressed <= allowed && (best === null || suppressed < best.suppressed)) {
        best = { vector, suppressed };
      }
    }
    if (best) return best.vector;
  }
  return sizes.map((n) => n - 1);
}

function* vectorsWithSum(sizes: readonly number[], sum: number, from = 0): Generator<number[]> {
  if (from === sizes.length) {
    if (sum === 0) yield [];
    return;
  }
  for (let level = 0; level < sizes[from] && level <= sum; level++) {
    for (const rest of vectorsWithSum(sizes, sum - level, from + 1)) yield [level, ...rest];
  }
}

function checkRow(row: unknown, index: number): asserts row is SourceRow {
  if (typeof row !== "object" || row === null || Array.isArray(row)) {
    throw new TypeError(`Invalid row ${index}: expected an object of fields`);
  }
}

/** A plain field's value as released: strings and finite numbers as they are, anything else refused. */
function plainValue(value: unknown, name: string, where: string): Released {
  if (value === null || value === undefined) return null;
  if (typeof value === "string" || (typeof value === "number" && Number.isFinite(value))) return value;
  throw new TypeError(`Invalid ${where}: field "${name}" is not a string or a finite number`);
}

/** A level that remembers its renderings (of at most 100,000 values at a time). */
function cached(level: Level): Level {
  const memo = new Map<Finest, Released>();
  return {
    label: level.label,
    render(finest) {
      let out = memo.get(finest);
      if (out === undefined) {
        if (memo.size >= 100_000) memo.clear();
        memo.set(finest, out = level.render(finest));
      }
      return out;
    },
  };
}

/** Drops the identifiers, generalises the quasi-identifiers and suppresses classes smaller than k. */
export function anonymize(
  kind: SourceKind,
  rows: () => Iterable<SourceRow>,
  options: AnonymizeOptions = {},
): AnonymizedTable {
  const analysis = analyse(kind, rows, options);
  const fields = SOURCE_KIND_INFO[kind].fields.filter((f) => f.role !== "identifier");
  const levels = new Map(analysis.quasi.map(({ spec, level }) => [spec.name, cached(level)]));
  return {
    kind,
    columns: fields.map((f) => f.name),
    released: analysis.total - analysis.suppressed,
    report: analysis.report,
    *rows() {
      const seen = new Map<string, number>();
      let index = 0;
      for (const row of rows()) {
        index += 1;
        checkRow(row, index);
        const where = `row ${index} of "${kind}"`;
        const out: Released[] = [];
        const quasi: Released[] = [];
        for (const spec of fields) {
          const level = levels.get(spec.name);
          if (level) {
            const value = level.render(toFinest(spec, row[spec.name], where));
            quasi.push(value);
            out.push(value);
          } else {
            out.push(plainValue(row[spec.name], spec.name, where));
          }
        }
        const key = classKey(quasi);
        const cls = analysis.classes.get(key);
        if (!cls) throw new SourceChangedError(kind, "a row belongs to a class the first pass did not count");
        if (cls.count < analysis.k) continue;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        if (seen.get(key)! > cls.count) {
          throw new SourceChangedError(kind, "a class has more rows than counted");
        }
        yield out;
      }
      for (const [key, cls] of analysis.classes) {
        if (cls.count >= analysis.k && seen.get(key) !== cls.count) {
          throw new SourceChangedError(kind, "a class has fewer rows than counted");
        }
      }
    },
  };
}
