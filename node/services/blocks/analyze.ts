/**
 * Incremental analysis of dataset plaintext as it streams past: format
 * (CSV, NDJSON, JSON array), schema with inferred column types, row count,
 * time range and a masked preview. Holds only the parser state, the column
 * statistics and the first rows, never the data.
 *
 * ```ts
 * const analyzer = new DatasetAnalyzer({ filename: "trips.csv" });
 * for await (const text of decodedPieces) analyzer.push(text);
 * const { format, schema, rowCount, timeRange, preview } = analyzer.finish();
 * ```
 */
import {
  type Cell,
  type Column,
  type ColumnType,
  type DatasetFormat,
  MASK,
  MAX_CELL_LENGTH,
  MAX_COLUMN_NAME_LENGTH,
  MAX_COLUMNS,
  type TimeRange,
} from "../../../protocol/manifest.ts";
import { DatasetFormatError } from "./errors.ts";
import { CsvReader, JsonArrayReader, NdjsonReader } from "./readers.ts";

/** Rows kept for the preview. */
export const PREVIEW_ROWS = 5;

export interface DatasetAnalysis {
  format: DatasetFormat;
  rowCount: number;
  schema: Column[];
  timeRange?: TimeRange;
  preview: Cell[][];
}

export interface DatasetAnalyzerInit {
  /** Skips detection. @default detected from contentType, filename, then the first character */
  format?: DatasetFormat;
  filename?: string;
  contentType?: string;
}

const IDENTIFYING = new Set([
  "email",
  "mail",
  "phone",
  "tel",
  "telephone",
  "mobile",
  "name",
  "firstname",
  "lastname",
  "fullname",
  "surname",
  "username",
  "ip",
  "ipv4",
  "ipv6",
  "address",
  "addr",
  "street",
  "user",
  "uid",
  "id",
  "uuid",
  "guid",
  "ssn",
  "iban",
  "card",
  "passport",
  "dob",
  "birthday",
  "birthdate",
  "imei",
  "mac",
  "lat",
  "lon",
  "lng",
  "latitude",
  "longitude",
  "postcode",
  "zip",
  "zipcode",
]);

const IDENTIFYING_COMPOUND =
  /^(e?mail|phone|user|customer|client|device|account|session|visitor|person|patient|member|owner|sensor|subject)(id|ids|name|no|number|address|uuid)$/;

/**
 * True for columns whose values identify people or devices: email, phone,
 * name, ip, address, user and id-like names, matched per word of the name
 * (`userId`, `user_id`, `userid`, `Sensor ID`, `last_name`, `ip_address`).
 */
export function isIdentifyingColumn(name: string): boolean {
  const words = name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
  return words.some((w) => IDENTIFYING.has(w) || IDENTIFYING_COMPOUND.test(w)) ||
    IDENTIFYING.has(words.join(""));
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const IPV4 = /^(\d{1,3}\.){3}\d{1,3}$/;
const IPV6 = /^[0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,7}$/i;

/** True for values that identify someone whatever their column: emails and IP addresses. */
export function isIdentifyingValue(value: string): boolean {
  return EMAIL.test(value) || IPV4.test(value) || (value.includes(":") && IPV6.test(value));
}

const INTEGER = /^[-+]?\d{1,15}$/;
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const BOOLEAN = /^(true|false)$/i;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const TEMPORAL_NAME =
  /(^|[_\s-])(ts|time|timestamp|date|datetime|epoch)$|_at$|[a-z]At$|^(ts|time|timestamp|date|datetime|epoch)$/i;

/** ms since the epoch of an ISO 8601 date or date-time; one without a zone is taken as UTC. */
function parseTime(value: string): number | undefined {
  const match = ISO_TIME.exec(value);
  if (match === null) return undefined;
  let iso = value.length > 10 ? value.slice(0, 10) + "T" + value.slice(11) : value;
  if (match[1] !== undefined && match[4] === undefined) iso += "Z";
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : undefined;
}

class ColumnStats {
  seen = 0;
  integer = true;
  number = true;
  boolean = true;
  timestamp = true;
  minTime = Infinity;
  maxTime = -Infinity;
  minNumber = Infinity;
  maxNumber = -Infinity;
  constructor(readonly name: string) {}

  #number(n: number): void {
    if (n < this.minNumber) this.minNumber = n;
    if (n > this.maxNumber) this.maxNumber = n;
  }

  #time(value: string): void {
    const ms = parseTime(value);
    if (ms === undefined) {
      this.timestamp = false;
      return;
    }
    if (ms < this.minTime) this.minTime = ms;
    if (ms > this.maxTime) this.maxTime = ms;
  }

  /** A CSV field: types come from the text. */
  observeText(value: string): void {
    if (value === "") return;
    this.seen++;
    if (this.integer || this.number) {
      const isInt = this.integer && INTEGER.test(value);
      if (!isInt) this.integer = false;
      if (isInt || (this.number && NUMBER.test(value))) this.#number(Number(value));
      else this.number = false;
    }
    if (this.boolean && !BOOLEAN.test(value)) this.boolean = false;
    if (this.timestamp) this.#time(value);
  }

  /** A JSON value: types come from the JSON type; only strings can be timestamps. */
  observeJson(value: unknown): void {
    if (value === null || value === undefined) return;
    this.seen++;
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value)) this.integer = false;
      this.#number(value);
      this.boolean = false;
      this.timestamp = false;
    } else if (typeof value === "boolean") {
      this.integer = this.number = this.timestamp = false;
    } else {
      this.integer = this.number = this.boolean = false;
      if (this.timestamp && typeof value === "string") this.#time(value);
      else this.timestamp = false;
    }
  }

  /** Integer columns named like times with values all in epoch seconds or all in epoch milliseconds. */
  #epochUnit(): number | undefined {
    if (!this.integer || !TEMPORAL_NAME.test(this.name)) return undefined;
    if (this.minNumber >= 1e9 && this.maxNumber < 1e10) return 1000;
    if (this.minNumber >= 1e12 && this.maxNumber < 1e13) return 1;
    return undefined;
  }

  type(): ColumnType {
    if (this.seen === 0) return "string";
    if (this.integer) return this.#epochUnit() === undefined ? "integer" : "timestamp";
    if (this.number) return "number";
    if (this.boolean) return "boolean";
    if (this.timestamp) return "timestamp";
    return "string";
  }

  timeRange(): TimeRange | undefined {
    if (this.seen === 0) return undefined;
    const unit = this.#epochUnit();
    if (unit !== undefined) return { from: this.minNumber * unit, to: this.maxNumber * unit };
    if (this.timestamp && !this.integer && !this.number) return { from: this.minTime, to: this.maxTime };
    return undefined;
  }
}

function truncate(text: string): string {
  return text.length <= MAX_CELL_LENGTH ? text : text.slice(0, MAX_CELL_LENGTH - 1) + "…";
}

function toCell(value: unknown, type: ColumnType, masked: boolean): Cell {
  if (value === null || value === undefined || value === "") return null;
  if (masked) return MASK;
  if (typeof value === "string") {
    if (isIdentifyingValue(value)) return MASK;
    if (type === "integer" || type === "number") return Number(value);
    if (type === "boolean") return value.toLowerCase() === "true";
    return truncate(value);
  }
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "boolean") return value;
  return truncate(JSON.stringify(value));
}

/** Picks a format from an explicit type or name, else `undefined` (the first character decides). */
export function formatFromName(filename?: string, contentType?: string): DatasetFormat | undefined {
  const type = contentType?.split(";")[0].trim().toLowerCase();
  if (type === "text/csv" || type === "text/tab-separated-values") return "csv";
  if (type === "application/x-ndjson" || type === "application/ndjson" || type === "application/jsonl") {
    return "ndjson";
  }
  const ext = filename?.toLowerCase().match(/\.([a-z]+)$/)?.[1];
  if (ext === "csv" || ext === "tsv") return "csv";
  if (ext === "ndjson" || ext === "jsonl") return "ndjson";
  return undefined;
}

export class DatasetAnalyzer {
  #format: DatasetFormat | undefined;
  #reader: CsvReader | NdjsonReader | JsonArrayReader | undefined;
  #columns: ColumnStats[] = [];
  #index = new Map<string, number>();
  #preview: unknown[][] = [];
  #rows = 0;
  #probe = "";
  #sawBom = false;

  constructor(init: DatasetAnalyzerInit = {}) {
    this.#format = init.format ?? formatFromName(init.filename, init.contentType);
  }

  /** Feeds the next piece of decoded text. */
  push(text: string): void {
    if (!this.#sawBom && text.length > 0) {
      this.#sawBom = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.#reader === undefined) {
      this.#probe += text;
      const first = this.#probe.search(/\S/);
      if (first < 0 && this.#format === undefined) return;
      this.#start(
        this.#format ?? (this.#probe[first] === "[" ? "json" : this.#probe[first] === "{" ? "ndjson" : "csv"),
      );
      text = this.#probe;
      this.#probe = "";
    }
    this.#reader!.push(text);
  }

  #start(format: DatasetFormat): void {
    this.#format = format;
    if (format === "csv") {
      let header: string[] | undefined;
      this.#reader = new CsvReader((cells) => {
        if (header === undefined) {
          header = this.#header(cells);
          return;
        }
        this.#rows++;
        const n = Math.min(cells.length, this.#columns.length);
        for (let i = 0; i < n; i++) this.#columns[i].observeText(cells[i]);
        if (this.#preview.length < PREVIEW_ROWS) this.#preview.push(cells.slice(0, this.#columns.length));
      });
    } else {
      const onRecord = (record: Record<string, unknown>) => {
        if (typeof record !== "object" || record === null || Array.isArray(record)) {
          throw new DatasetFormatError(`Cannot read JSON: record ${this.#rows + 1} is not an object`);
        }
        this.#rows++;
        const cells: unknown[] = [];
        for (const key of Object.keys(record)) {
          const at = this.#column(key);
          this.#columns[at].observeJson(record[key]);
          cells[at] = record[key];
        }
        if (this.#preview.length < PREVIEW_ROWS) this.#preview.push(cells);
      };
      this.#reader = format === "ndjson" ? new NdjsonReader(onRecord) : new JsonArrayReader(onRecord);
    }
  }

  #column(name: string): number {
    const known = this.#index.get(name);
    if (known !== undefined) return known;
    if (this.#columns.length >= MAX_COLUMNS) {
      throw new DatasetFormatError(`Cannot analyze dataset: more than ${MAX_COLUMNS} columns`);
    }
    let label = name.trim().slice(0, MAX_COLUMN_NAME_LENGTH) || `column_${this.#columns.length + 1}`;
    for (let n = 2; this.#columns.some((c) => c.name === label); n++) {
      label = `${name.trim().slice(0, MAX_COLUMN_NAME_LENGTH - 4)}_${n}`;
    }
    this.#index.set(name, this.#columns.length);
    this.#columns.push(new ColumnStats(label));
    return this.#columns.length - 1;
  }

  #header(cells: string[]): string[] {
    if (cells.length > MAX_COLUMNS) {
      throw new DatasetFormatError(`Cannot analyze dataset: ${cells.length} columns is over ${MAX_COLUMNS}`);
    }
    cells.forEach((name, i) => this.#column(name === "" ? `column_${i + 1}` : name));
    return cells;
  }

  /** Ends the input and returns what was learnt. */
  finish(): DatasetAnalysis {
    if (this.#reader === undefined) {
      if (this.#probe.trim() === "") throw new DatasetFormatError("Cannot analyze dataset: it has no data");
      this.#start(this.#format ?? "csv");
      this.#reader!.push(this.#probe);
    }
    this.#reader!.finish();
    const schema = this.#columns.map((c) => ({ name: c.name, type: c.type() }));
    const masked = schema.map((c) => isIdentifyingColumn(c.name));
    const preview = this.#preview.map((row) => schema.map((c, i) => toCell(row[i], c.type, masked[i])));
    const analysis: DatasetAnalysis = { format: this.#format!, rowCount: this.#rows, schema, preview };
    for (const column of this.#columns) {
      const range = column.type() === "timestamp" ? column.timeRange() : undefined;
      if (range !== undefined) {
        analysis.timeRange = range;
        break;
      }
    }
    return analysis;
  }
}
