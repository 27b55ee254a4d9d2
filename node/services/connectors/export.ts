/**
 * Exports: dataset plaintext (CSV, NDJSON or a JSON array) re-encoded as CSV
 * (RFC 4180: fields with a comma, quote, CR or LF are quoted, quotes doubled,
 * CRLF line ends) or NDJSON, as a stream.
 *
 * ```ts
 * const csv = exportRows(plaintext, { format: "csv", sourceFormat: "ndjson" });
 * await csv.pipeTo(file.writable);
 * ```
 */
import type { DatasetFormat } from "../../../protocol/manifest.ts";
import { KosmosError } from "../../errors.ts";
import { readRows, type Row } from "./read_rows.ts";

export type ExportFormat = "csv" | "ndjson";

export const EXPORT_FORMATS: readonly ExportFormat[] = ["csv", "ndjson"];

/** Media type of each export format. */
export const EXPORT_CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: "text/csv; charset=utf-8",
  ndjson: "application/x-ndjson",
};

export interface ExportRowsOptions {
  format: ExportFormat;
  /** @default detected from the first character */
  sourceFormat?: DatasetFormat;
  /**
   * CSV from JSON rows: the columns are the keys seen in the first this many
   * rows (held in memory until then); a later row with a new key fails the
   * export rather than losing the value. @default 1000
   */
  headerRows?: number;
  signal?: AbortSignal;
}

/** Thrown when rows cannot be written in the asked format (a CSV column seen too late). */
export class ExportError extends KosmosError {
  override name = "ExportError";
}

/** One CSV field: quoted when it holds a comma, quote, CR or LF, or starts or ends with a space. */
export function encodeCsvField(value: unknown): string {
  let text: string;
  if (value === null || value === undefined) return "";
  if (typeof value === "string") text = value;
  else if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    text = String(value);
  } else text = JSON.stringify(value);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One CSV record with its CRLF. */
export function encodeCsvRow(columns: readonly string[], row: Row): string {
  return columns.map((c) => encodeCsvField(row[c])).join(",") + "\r\n";
}

/** Columns of `rows` in order of first appearance. */
export function getColumns(rows: Iterable<Row>): string[] {
  const seen = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) seen.add(key);
  return [...seen];
}

/** A whole batch in one format (for connectors: batches are in memory already). */
export function encodeRows(rows: readonly Row[], format: ExportFormat): string {
  if (format === "ndjson") return rows.map((row) => JSON.stringify(row) + "\n").join("");
  const columns = getColumns(rows);
  return encodeCsvRow(columns, Object.fromEntries(columns.map((c) => [c, c]))) +
    rows.map((row) => encodeCsvRow(columns, row)).join("");
}

/** Streams the rows of `stream` re-encoded as `format`; memory holds one piece of input at a time. */
export function exportRows(
  stream: ReadableStream<Uint8Array>,
  options: ExportRowsOptions,
): ReadableStream<Uint8Array> {
  const { format } = options;
  const headerRows = options.headerRows ?? 1000;
  const encoder = new TextEncoder();
  const source = readRows(stream, { sourceFormat: options.sourceFormat, signal: options.signal });
  let columns: string[] | undefined;
  let known: Set<string> | undefined;
  let held: Row[] = [];

  const writeCsv = (rows: Row[]): string => {
    let text = "";
    for (const row of rows) {
      for (const key of Object.keys(row)) {
        if (!known!.has(key)) {
          throw new ExportError(
            `Cannot export as CSV: column "${key.slice(0, 60)}" first appears after the header was written`,
          );
        }
      }
      text += encodeCsvRow(columns!, row);
    }
    return text;
  };
  const flushHeld = (): string => {
    columns = getColumns(held);
    known = new Set(columns);
    const text =
      (columns.length > 0 ? encodeCsvRow(columns, Object.fromEntries(columns.map((c) => [c, c]))) : "") +
      writeCsv(held);
    held = [];
    return text;
  };

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (true) {
        const next = await source.next();
        if (next.done) {
          if (format === "csv" && columns === undefined) {
            const text = flushHeld();
            if (text !== "") controller.enqueue(encoder.encode(text));
          }
          controller.close();
          return;
        }
        let text: string;
        if (format === "ndjson") text = next.value.map((row) => JSON.stringify(row) + "\n").join("");
        else if (columns !== undefined) text = writeCsv(next.value);
        else {
          held.push(...next.value);
          if (held.length < headerRows) continue;
          text = flushHeld();
        }
        if (text !== "") {
          controller.enqueue(encoder.encode(text));
          return;
        }
      }
    },
    async cancel(reason) {
      await source.return(undefined);
      void reason;
    },
  }, { highWaterMark: 0 });
}
