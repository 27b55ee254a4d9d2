/**
 * Rows out of dataset plaintext (CSV, NDJSON or a JSON array of objects),
 * read incrementally: memory holds the parser state and the rows of one
 * piece, never the file.
 *
 * The three readers are the ones `../blocks/analyze.ts` uses to describe a
 * dataset when it is published, so export reads exactly what was analysed.
 *
 * ```ts
 * for await (const rows of readRows(stream, { sourceFormat: "csv" })) send(rows);
 * ```
 */
import type { DatasetFormat } from "../../../protocol/manifest.ts";
import { CsvReader, DatasetFormatError, JsonArrayReader, NdjsonReader } from "../blocks/mod.ts";

export type Row = Record<string, unknown>;

export interface ReadRowsOptions {
  /** The plaintext's format. @default detected from the first character ("[" JSON, "{" NDJSON, else CSV) */
  sourceFormat?: DatasetFormat;
  signal?: AbortSignal;
}

/**
 * Yields the rows of `stream` in order, in groups (one group per piece of
 * input). CSV rows map header names to the cells' text; a row shorter than
 * the header leaves the missing columns out, cells beyond it are named
 * `column_N`. JSON rows are the objects as parsed.
 */
export async function* readRows(
  stream: ReadableStream<Uint8Array>,
  options: ReadRowsOptions = {},
): AsyncGenerator<Row[]> {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  let pending: Row[] = [];
  let reader: CsvReader | NdjsonReader | JsonArrayReader | undefined;
  let probe = "";
  const start = (format: DatasetFormat) => {
    if (format === "csv") {
      let header: string[] | undefined;
      return new CsvReader((cells) => {
        if (header === undefined) {
          header = cells.map((name, i) => name === "" ? `column_${i + 1}` : name);
          return;
        }
        const row: Row = {};
        for (let i = 0; i < cells.length; i++) row[header[i] ?? `column_${i + 1}`] = cells[i];
        pending.push(row);
      });
    }
    const onRecord = (record: unknown) => {
      if (typeof record !== "object" || record === null || Array.isArray(record)) {
        throw new DatasetFormatError(`Cannot read JSON: record ${pending.length + 1} is not an object`);
      }
      pending.push(record as Row);
    };
    return format === "ndjson" ? new NdjsonReader(onRecord) : new JsonArrayReader(onRecord);
  };
  const feed = (text: string) => {
    if (reader === undefined) {
      probe += text;
      const first = probe.search(/\S/);
      if (first < 0 && options.sourceFormat === undefined) return;
      reader = start(
        options.sourceFormat ?? (probe[first] === "[" ? "json" : probe[first] === "{" ? "ndjson" : "csv"),
      );
      text = probe;
      probe = "";
    }
    reader.push(text);
  };
  const it = stream.getReader();
  try {
    while (true) {
      options.signal?.throwIfAborted();
      const { done, value } = await it.read();
      let text: string;
      try {
        text = done ? decoder.decode() : decoder.decode(value, { stream: true });
      } catch (cause) {
        throw new DatasetFormatError("Cannot read dataset: it is not valid UTF-8", { cause });
      }
      if (text !== "") feed(text);
      if (done) break;
      if (pending.length > 0) {
        const rows = pending;
        pending = [];
        yield rows;
      }
    }
    reader?.finish();
    if (pending.length > 0) yield pending;
  } finally {
    it.releaseLock();
    await stream.cancel().catch(() => {});
  }
}
