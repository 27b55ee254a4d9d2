/**
 * Streaming CSV for the importers. Bytes become text (UTF-8; a file whose bytes are not UTF-8 is
 * read as windows-1252 from the first bad byte on, as many bank exports are; a BOM is dropped;
 * CRLF becomes LF, also inside quoted fields), then records on csv-parse, each with the line it
 * starts on. Memory stays bounded: one record at a time, at most {@link MAX_CSV_RECORD} characters.
 *
 * ```ts
 * const table = await openCsvTable(file.stream(), { filename, what: "a Netflix ViewingActivity.csv", required: ["Start Time"] });
 * const start = table.column("Start Time");
 * for await (const { line, cells } of table.rows) console.log(line, cells[start]);
 * ```
 */
import { parse } from "csv-parse/stream";
import { Buffer } from "node:buffer";
import { ImportError } from "./types.ts";

/** Longest CSV record accepted, in characters. */
export const MAX_CSV_RECORD = 1024 * 1024;

/** One CSV record and the (1-based) line of the file it starts on. */
export interface CsvRecord {
  line: number;
  cells: string[];
}

export interface CsvOptions {
  filename: string;
  /** @default "," */
  delimiter?: "," | ";" | "\t";
}

/** The length of `bytes` up to the end of its last complete UTF-8 sequence. */
function completeLength(bytes: Uint8Array): number {
  const end = bytes.length;
  for (let i = end - 1; i >= Math.max(0, end - 4); i--) {
    const b = bytes[i];
    if (b < 0x80) return end;
    if (b >= 0xc0) {
      const need = b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
      return end - i >= need ? end : i;
    }
  }
  return end;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Bytes → text: UTF-8, falling back to windows-1252 at the first byte that is not UTF-8 (the text
 * before it was valid UTF-8, so nothing is decoded twice). Drops a leading BOM and turns CRLF into LF.
 */
export function decodeText(): TransformStream<Uint8Array, string> {
  const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  let legacy: TextDecoder | null = null;
  let held: Uint8Array = new Uint8Array(0); // an incomplete UTF-8 sequence at the end of a chunk
  let first = true;
  let cr = false; // the last text ended with "\r"
  const emit = (text: string, controller: TransformStreamDefaultController<string>) => {
    if (first && text.length > 0) {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (cr) text = "\r" + text;
    cr = text.endsWith("\r");
    if (cr) text = text.slice(0, -1);
    if (text.length > 0) controller.enqueue(text.replaceAll("\r\n", "\n"));
  };
  const decode = (bytes: Uint8Array, flush: boolean): string => {
    if (legacy) return legacy.decode(bytes);
    const whole = concat(held, bytes);
    const n = flush ? whole.length : completeLength(whole);
    try {
      const text = utf8.decode(whole.subarray(0, n));
      held = whole.slice(n);
      return text;
    } catch {
      legacy = new TextDecoder("windows-1252");
      held = new Uint8Array(0);
      return legacy.decode(whole);
    }
  };
  return new TransformStream({
    transform(chunk, controller) {
      emit(decode(chunk, false), controller);
    },
    flush(controller) {
      emit(decode(new Uint8Array(0), true), controller);
      if (cr) controller.enqueue("\r");
    },
  });
}

/**
 * The first `maxChars` characters of a file as text (decoded as {@link decodeText} does), for
 * `detectBankLayout`; the rest of the stream is cancelled.
 */
export async function readTextHead(input: ReadableStream<Uint8Array>, maxChars = 64 * 1024): Promise<string> {
  const reader = input.pipeThrough(decodeText()).getReader();
  let head = "";
  try {
    while (head.length < maxChars) {
      const next = await reader.read();
      if (next.done) break;
      head += next.value;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return head.slice(0, maxChars);
}

/** What a csv-parse error code means, in words (its message may quote the file's contents). */
function describeCsvError(code: string): string {
  switch (code) {
    case "CSV_QUOTE_NOT_CLOSED":
      return "a quoted field is never closed (is the file cut short?)";
    case "CSV_MAX_RECORD_SIZE":
      return `a record is longer than ${MAX_CSV_RECORD} characters`;
    case "CSV_INVALID_CLOSING_QUOTE":
      return "a quoted field is followed by more text before the next delimiter";
    default:
      return `the CSV cannot be read (${code})`;
  }
}

/** Records of CSV text, streaming, each with the line it starts on. */
export async function* readCsvText(
  text: ReadableStream<string>,
  options: CsvOptions,
): AsyncGenerator<CsvRecord> {
  let lastEnd = 0; // the line the last parsed record ended on
  const parser = parse({
    delimiter: options.delimiter ?? ",",
    info: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    max_record_size: MAX_CSV_RECORD,
    // Called as each record is parsed (records still queued are dropped when the parser fails).
    on_record: (record, context) => {
      lastEnd = context.lines;
      return record;
    },
  });
  // The parser's writable side would queue 1024 chunks: write one at a time, each once the parser
  // has taken the last (it does when its queue of records drains), so memory stays one chunk of records.
  const source = text.getReader();
  const writer = parser.writable.getWriter();
  const pump = (async () => {
    try {
      for (let next = await source.read(); !next.done; next = await source.read()) {
        await writer.write(Buffer.from(next.value, "utf8"));
      }
      await writer.close();
    } catch (err) {
      await writer.abort(err).catch(() => {});
    }
  })();
  const records = parser.readable.getReader();
  try {
    while (true) {
      const next = await records.read();
      if (next.done) break;
      const { record, info } = next.value as { record: string[]; info: { lines: number } };
      let newlines = 0;
      for (const cell of record) {
        for (let i = cell.indexOf("\n"); i >= 0; i = cell.indexOf("\n", i + 1)) newlines++;
      }
      yield { line: info.lines - newlines, cells: record };
    }
  } catch (err) {
    const { code, lines } = err as { code?: unknown; lines?: unknown };
    if (typeof code === "string" && code.startsWith("CSV_")) {
      // An unclosed quote is reported where the file ends; its record starts after the last one.
      const line = code === "CSV_QUOTE_NOT_CLOSED" ? lastEnd + 1 : lines;
      throw new ImportError(
        options.filename,
        typeof line === "number" ? `line ${line}` : "",
        describeCsvError(code),
      );
    }
    throw err;
  } finally {
    await Promise.all([records.cancel().catch(() => {}), source.cancel().catch(() => {})]);
    await pump;
  }
}

/** Records of a CSV file, streaming (see {@link decodeText} for the encodings it reads). */
export function readCsv(input: ReadableStream<Uint8Array>, options: CsvOptions): AsyncGenerator<CsvRecord> {
  return readCsvText(input.pipeThrough(decodeText()), options);
}

/** A CSV file whose first record is its header. */
export interface CsvTable {
  /** The header's cells, trimmed. */
  header: string[];
  /** The index of the first column named any of `names` (case-insensitive), or -1. */
  column(...names: string[]): number;
  /** The records after the header. */
  rows: AsyncGenerator<CsvRecord>;
}

export interface CsvTableOptions extends CsvOptions {
  /** What the file should be, for errors: `"a Netflix ViewingActivity.csv"`. */
  what: string;
  /** Columns the header must have (any of the names of each entry). */
  required?: (string | string[])[];
}

function normalizeName(name: string): string {
  return name.trim().toLowerCase();
}

/** Finds a column among `header` by any of its names. */
export function findColumn(header: string[], names: string[]): number {
  const wanted = new Set(names.map(normalizeName));
  return header.findIndex((h) => wanted.has(normalizeName(h)));
}

/**
 * Opens a CSV file by its header. An empty file, or a header that lacks a required column, is an
 * {@link ImportError}: `not a Netflix ViewingActivity.csv: header lacks Start Time`.
 */
export async function openCsvTable(
  input: ReadableStream<Uint8Array>,
  options: CsvTableOptions,
): Promise<CsvTable> {
  const rows = readCsv(input, options);
  const first = await rows.next();
  if (first.done) throw new ImportError(options.filename, "", `the file is empty: expected ${options.what}`);
  const header = first.value.cells.map((c) => c.trim());
  const missing = (options.required ?? [])
    .map((r) => (Array.isArray(r) ? r : [r]))
    .filter((names) => findColumn(header, names) < 0)
    .map((names) => names[0]);
  if (missing.length > 0) {
    await rows.return(undefined);
    throw new ImportError(
      options.filename,
      `line ${first.value.line}`,
      `not ${options.what}: header lacks ${missing.join(", ")}`,
    );
  }
  return { header, column: (...names) => findColumn(header, names), rows };
}

/** The trimmed cell at `index` of a record; `""` when the column is absent or the record short. */
export function cellAt(record: CsvRecord, index: number): string {
  return index < 0 ? "" : (record.cells[index] ?? "").trim();
}
