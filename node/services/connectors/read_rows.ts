/**
 * Rows out of dataset plaintext (CSV, NDJSON or a JSON array of objects),
 * read incrementally: memory holds the parser state and the rows of one
 * piece, never the file.
 *
 * The three readers are the ones of `../blocks/analyze.ts` (which keeps them
 * private); they are kept in step by the round-trip tests in `export_test.ts`.
 *
 * ```ts
 * for await (const rows of readRows(stream, { sourceFormat: "csv" })) send(rows);
 * ```
 */
import type { DatasetFormat } from "../../../protocol/manifest.ts";
import { MAX_RECORD_LENGTH } from "../blocks/analyze.ts";
import { DatasetFormatError } from "../blocks/errors.ts";

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

/** Streaming RFC 4180 reader: quoted fields, doubled quotes, CRLF / LF / CR, delimiter sniffed from the header. */
class CsvReader {
  #delimiter = -1;
  #field = "";
  #row: string[] = [];
  #quoted = false;
  #afterQuote = false;
  #fieldStart = true;
  #skipLf = false;
  #headerProbe = "";

  constructor(readonly onRow: (cells: string[]) => void) {}

  push(text: string): void {
    if (this.#delimiter < 0) {
      this.#headerProbe += text;
      const end = this.#headerProbe.search(/[\r\n]/);
      if (end < 0 && this.#headerProbe.length < 64 * 1024) return;
      this.#delimiter = sniffDelimiter(end < 0 ? this.#headerProbe : this.#headerProbe.slice(0, end));
      text = this.#headerProbe;
      this.#headerProbe = "";
    }
    const d = this.#delimiter;
    let start = 0; // start of the pending unquoted run in `text`
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.#skipLf) {
        this.#skipLf = false;
        if (c === 10) {
          start = i + 1;
          continue;
        }
      }
      if (this.#quoted) {
        if (c === 34) {
          this.#field += text.slice(start, i);
          this.#quoted = false;
          this.#afterQuote = true;
          start = i + 1;
        }
        continue;
      }
      if (c === 34) {
        if (this.#fieldStart) {
          this.#quoted = true;
          this.#fieldStart = false;
          start = i + 1;
        } else if (this.#afterQuote) {
          // A doubled quote inside a quoted field.
          this.#field += '"';
          this.#quoted = true;
          this.#afterQuote = false;
          start = i + 1;
        }
        continue;
      }
      if (c === d || c === 10 || c === 13) {
        this.#field += text.slice(start, i);
        this.#row.push(this.#field);
        this.#field = "";
        this.#fieldStart = true;
        this.#afterQuote = false;
        start = i + 1;
        if (c !== d) {
          this.#endRow();
          if (c === 13) this.#skipLf = true;
        }
        continue;
      }
      this.#fieldStart = false;
      this.#afterQuote = false;
    }
    this.#field += text.slice(start);
    if (this.#field.length > MAX_RECORD_LENGTH) {
      throw new DatasetFormatError(`Cannot read CSV: a field is longer than ${MAX_RECORD_LENGTH} characters`);
    }
  }

  #endRow(): void {
    const row = this.#row;
    this.#row = [];
    if (row.length === 1 && row[0] === "") return; // blank line
    this.onRow(row);
  }

  finish(): void {
    if (this.#delimiter < 0) this.push("\n");
    if (this.#quoted) throw new DatasetFormatError("Cannot read CSV: a quoted field is never closed");
    if (!this.#fieldStart || this.#field !== "" || this.#row.length > 0) {
      this.#row.push(this.#field);
      this.#field = "";
      this.#endRow();
    }
  }
}

function sniffDelimiter(header: string): number {
  let best = ",";
  let bestCount = 0;
  for (const candidate of [",", ";", "\t", "|"]) {
    const count = header.split(candidate).length - 1;
    if (count > bestCount) {
      best = candidate;
      bestCount = count;
    }
  }
  return best.charCodeAt(0);
}

/** Streaming NDJSON reader: one JSON object per non-blank line. */
class NdjsonReader {
  #pending = "";
  #line = 0;
  constructor(readonly onRecord: (record: Record<string, unknown>) => void) {}

  push(text: string): void {
    let start = 0;
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
      this.#take(this.#pending + text.slice(start, nl));
      this.#pending = "";
      start = nl + 1;
    }
    this.#pending += text.slice(start);
    if (this.#pending.length > MAX_RECORD_LENGTH) {
      throw new DatasetFormatError(
        `Cannot read NDJSON: line ${this.#line + 1} is over ${MAX_RECORD_LENGTH} characters`,
      );
    }
  }

  #take(line: string): void {
    this.#line++;
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (cause) {
      throw new DatasetFormatError(`Cannot read NDJSON: line ${this.#line} is not valid JSON`, { cause });
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new DatasetFormatError(`Cannot read NDJSON: line ${this.#line} is not a JSON object`);
    }
    this.onRecord(value as Record<string, unknown>);
  }

  finish(): void {
    if (this.#pending !== "") this.#take(this.#pending);
    this.#pending = "";
  }
}

/** Streaming reader of a JSON array of objects: scans element boundaries and parses one element at a time. */
class JsonArrayReader {
  #state: "before" | "between" | "element" | "after" = "before";
  #element = "";
  #depth = 0;
  #inString = false;
  #escaped = false;
  #expectComma = false;
  #count = 0;
  constructor(readonly onRecord: (record: Record<string, unknown>) => void) {}

  push(text: string): void {
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (this.#state === "element") {
        if (this.#inString) {
          if (this.#escaped) this.#escaped = false;
          else if (ch === "\\") this.#escaped = true;
          else if (ch === '"') this.#inString = false;
        } else if (ch === '"') this.#inString = true;
        else if (ch === "{" || ch === "[") this.#depth++;
        else if (ch === "}" || ch === "]") {
          if (--this.#depth === 0) {
            this.#element += text.slice(start, i + 1);
            this.#take();
            this.#state = "between";
            this.#expectComma = true;
          }
        }
        continue;
      }
      if (ch === " " || ch === "\n" || ch === "\r" || ch === "\t") continue;
      if (this.#state === "before") {
        if (ch !== "[") throw new DatasetFormatError("Cannot read JSON: expected an array of objects");
        this.#state = "between";
      } else if (this.#state === "between") {
        if (ch === "]" && (this.#expectComma || this.#count === 0)) this.#state = "after";
        else if (ch === "," && this.#expectComma) this.#expectComma = false;
        else if (ch === "{" && !this.#expectComma) {
          this.#state = "element";
          this.#depth = 1;
          this.#element = "";
          start = i;
        } else {
          throw new DatasetFormatError(`Cannot read JSON: element ${this.#count + 1} is not an object`);
        }
      } else {
        throw new DatasetFormatError("Cannot read JSON: data after the closing bracket");
      }
    }
    if (this.#state === "element") {
      this.#element += text.slice(start);
      if (this.#element.length > MAX_RECORD_LENGTH) {
        throw new DatasetFormatError(
          `Cannot read JSON: element ${this.#count + 1} is over ${MAX_RECORD_LENGTH} characters`,
        );
      }
    }
  }

  #take(): void {
    this.#count++;
    let value: unknown;
    try {
      value = JSON.parse(this.#element);
    } catch (cause) {
      throw new DatasetFormatError(`Cannot read JSON: element ${this.#count} is not valid JSON`, { cause });
    }
    this.#element = "";
    this.onRecord(value as Record<string, unknown>);
  }

  finish(): void {
    if (this.#state !== "after") throw new DatasetFormatError("Cannot read JSON: the array is never closed");
  }
}
