/**
 * Rows of exactly a kind's fields: built by importers, checked by anyone who receives them, and
 * handed out in batches of at most `MAX_BATCH`.
 *
 * ```ts
 * const row = rowBuilder("netflix");
 * yield row({ startedAt, title }); // every other field of the kind is null
 * validateSourceRow("netflix", someRow); // throws TypeError naming the bad field
 * ```
 */
import { SOURCE_KIND_INFO, type SourceKind, type SourceRow } from "../../../../protocol/sources.ts";
import { ImportError, MAX_BATCH } from "./types.ts";

/** A function that makes a row of `kind` from some of its fields, the others null. */
export function rowBuilder(kind: SourceKind): (values: SourceRow) => SourceRow {
  const names = SOURCE_KIND_INFO[kind].fields.map((f) => f.name);
  const known = new Set(names);
  return (values) => {
    for (const name in values) {
      if (!known.has(name)) throw new TypeError(`Cannot build a ${kind} row: no field "${name}"`);
    }
    const row: SourceRow = {};
    for (const name of names) row[name] = values[name] ?? null;
    return row;
  };
}

const PLACE = /^(-?\d{1,2}(?:\.\d+)?),(-?\d{1,3}(?:\.\d+)?)$/;

/** What is wrong with `row` as a row of `kind`, or null when it is one. */
export function sourceRowProblem(kind: SourceKind, row: unknown): string | null {
  if (typeof row !== "object" || row === null || Array.isArray(row)) return "not an object";
  const fields = SOURCE_KIND_INFO[kind].fields;
  const record = row as Record<string, unknown>;
  const extra = Object.keys(record).filter((k) => !fields.some((f) => f.name === k));
  if (extra.length > 0) return `unknown field "${extra[0]}"`;
  for (const f of fields) {
    if (!(f.name in record)) return `missing field "${f.name}"`;
    const v = record[f.name];
    if (v === null) continue;
    switch (f.type) {
      case "time":
        if (typeof v !== "number" || !Number.isSafeInteger(v)) return `${f.name} is not a time in ms`;
        break;
      case "number":
        if (typeof v !== "number" || !Number.isFinite(v)) return `${f.name} is not a finite number`;
        break;
      case "place": {
        const m = typeof v === "string" ? v.match(PLACE) : null;
        if (!m || Math.abs(+m[1]) > 90 || Math.abs(+m[2]) > 180) return `${f.name} is not a "lat,lng" place`;
        break;
      }
      default:
        if (typeof v !== "string") return `${f.name} is not text`;
    }
  }
  return null;
}

/** Checks that `row` is a row of `kind` (exactly its fields, each of its type or null); returns it. */
export function validateSourceRow(kind: SourceKind, row: unknown): SourceRow {
  const problem = sourceRowProblem(kind, row);
  if (problem) throw new TypeError(`Invalid ${kind} row: ${problem}`);
  return row as SourceRow;
}

/** Groups rows into batches of at most {@link MAX_BATCH}, stopping when `signal` aborts. */
export async function* batchRows(
  rows: AsyncIterable<SourceRow>,
  signal?: AbortSignal,
): AsyncGenerator<SourceRow[]> {
  let batch: SourceRow[] = [];
  for await (const row of rows) {
    batch.push(row);
    if (batch.length >= MAX_BATCH) {
      signal?.throwIfAborted();
      yield batch;
      batch = [];
    }
  }
  signal?.throwIfAborted();
  if (batch.length > 0) yield batch;
}

/** A place from two coordinate cells; null when either is empty or both are 0 (no fix). */
export function placeOf(lat: number | null | undefined, lng: number | null | undefined): string | null {
  if (lat == null || lng == null || (lat === 0 && lng === 0)) return null;
  if (Math.abs(lat) > 90 || Math.abs(lng) > 180) return null;
  return `${+lat.toFixed(6)},${+lng.toFixed(6)}`;
}

/** Throws the ImportError of one line or record. */
export type Fail = (detail: string) => never;

/** A {@link Fail} for `location` (`"line 12"`, `"record 3"`) of `filename`. */
export function failAt(filename: string, location: string): Fail {
  return (detail) => {
    throw new ImportError(filename, location, detail);
  };
}
