/**
 * Streaming readers of dataset plaintext, one per format: CSV (RFC 4180, the
 * delimiter sniffed from the header), NDJSON and a JSON array of objects. Each
 * takes text in pieces of any size, yields whole records, and throws a
 * `DatasetFormatError` that names the line or element for malformed input.
 *
 * ```ts
 * const reader = new CsvReader((cells) => rows.push(cells));
 * for (const text of pieces) reader.push(text);
 * reader.finish();
 * ```
 */
import { DatasetFormatError } from "./errors.ts";

/** Longest NDJSON line or JSON array element accepted, in characters. */
export const MAX_RECORD_LENGTH = 8 * 1024 * 1024;

/** Streaming RFC 4180 reader: quoted fields, doubled quotes, CRLF / LF / CR, delimiter sniffed from the header. */
export class CsvReader {
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
export class NdjsonReader {
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
export class JsonArrayReader {
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
