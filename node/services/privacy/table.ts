/**
 * Released tables put together and written out: {@link combineTables} unions the tables of several
 * kinds under a leading `source` column, {@link encodeTableCsv} streams a table as RFC 4180 CSV.
 *
 * ```ts
 * const table = combineTables([anonymize("uber", uberRows), anonymize("bank", bankRows)]);
 * table.columns; // ["source", "requestedAt", "city", …, "date", "amount", …]
 * await datasets.publishDataset(encodeTableCsv(table), { …, privacy: table.report });
 * ```
 */
import type { AnonymizedReport, AnonymizedTable } from "./anonymize.ts";
import type { Released } from "./generalise.ts";

/** The leading column of a combined table: the kind each row came from. */
export const SOURCE_COLUMN = "source";

/**
 * The union of per-kind tables: a leading `source` column (the kind), then every other column in
 * first-seen order, `null` where a kind has no such column. The report: the least k, the suppressed
 * rows summed, the dropped and generalised fields merged (a field name that more than one table
 * reports becomes `kind.field` for each), ε summed when any table has one (each kind spends its own
 * budget; together they spend the sum). A table that is itself combined keeps its `source` values.
 */
export function combineTables(tables: readonly AnonymizedTable[]): AnonymizedTable {
  if (tables.length === 0) throw new RangeError("Cannot combine tables: none given");
  const columns = [SOURCE_COLUMN];
  for (const t of tables) for (const c of t.columns) if (!columns.includes(c)) columns.push(c);
  const positions = tables.map((t) => t.columns.map((c) => columns.indexOf(c)));
  const label = (t: AnonymizedTable, i: number) => t.kind ?? `table ${i + 1}`;

  const dropped = mergeNames(tables.map((t, i) => ({ label: label(t, i), names: t.report.dropped })));
  const generalisedNames = mergeNames(
    tables.map((t, i) => ({ label: label(t, i), names: Object.keys(t.report.generalised) })),
  );
  const generalised: Record<string, string> = {};
  tables.forEach((t, i) => {
    Object.values(t.report.generalised).forEach((level, j) => {
      generalised[generalisedNames.byTable[i][j]] = level;
    });
  });
  const epsilons = tables.map((t) => t.report.epsilon).filter((e): e is number => e !== undefined);
  const report: AnonymizedReport = {
    k: Math.min(...tables.map((t) => t.report.k)),
    suppressed: tables.reduce((a, t) => a + t.report.suppressed, 0),
    dropped: dropped.all,
    generalised,
    ...(epsilons.length > 0 ? { epsilon: Math.round(epsilons.reduce((a, b) => a + b, 0) * 1e6) / 1e6 } : {}),
  };
  return {
    kind: null,
    columns,
    released: tables.reduce((a, t) => a + t.released, 0),
    report,
    *rows() {
      for (const [i, t] of tables.entries()) {
        for (const row of t.rows()) {
          const out: Released[] = new Array(columns.length).fill(null);
          if (t.kind !== null) out[0] = t.kind;
          row.forEach((value, j) => out[positions[i][j]] = value);
          yield out;
        }
      }
    },
  };
}

/** Names of several tables merged: a name more than one table has becomes `label.name` for each. */
function mergeNames(lists: { label: string; names: readonly string[] }[]) {
  const owners = new Map<string, number>();
  for (const { names } of lists) for (const n of new Set(names)) owners.set(n, (owners.get(n) ?? 0) + 1);
  const byTable = lists.map(({ label, names }) => names.map((n) => owners.get(n)! > 1 ? `${label}.${n}` : n));
  return { byTable, all: [...new Set(byTable.flat())] };
}

/** One CSV field: quoted when it holds a quote, comma, CR or LF, or starts or ends with a space. */
export function csvField(value: Released): string {
  if (value === null) return "";
  const text = String(value);
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Rows encoded per chunk: about this many characters, so a pull neither starves nor balloons. */
const CHUNK_CHARS = 64 * 1024;

/**
 * The table as RFC 4180 CSV: a header row of the columns, one record per released row, CRLF line
 * ends, `null` as an empty field. Streamed: each pull encodes about 64 KiB of rows, so a table of any
 * size takes constant memory; cancelling the stream stops reading the rows.
 */
export function encodeTableCsv(table: Pick<AnonymizedTable, "columns" | "rows">): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let iterator: Iterator<Released[]> | null = null;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(table.columns.map(csvField).join(",") + "\r\n"));
    },
    pull(controller) {
      iterator ??= table.rows()[Symbol.iterator]();
      let text = "";
      while (text.length < CHUNK_CHARS) {
        const next = iterator.next();
        if (next.done) {
          if (text) controller.enqueue(encoder.encode(text));
          controller.close();
          return;
        }
        text += next.value.map(csvField).join(",") + "\r\n";
      }
      controller.enqueue(encoder.encode(text));
    },
    cancel() {
      iterator?.return?.();
    },
  }, { highWaterMark: 1 });
}
