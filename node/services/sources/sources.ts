/**
 * The sources service: imports of a person's exports (streamed through the kind's importer into
 * SQLite), their rows in time order, what would be shared of one after anonymization, and the
 * publications made from them (`publications.ts`).
 */
import type { Logger } from "../../log.ts";
import { NotFoundError } from "../../errors.ts";
import {
  type BankMapping,
  SOURCE_KINDS,
  type SourceKind,
  type SourceRow,
} from "../../../protocol/sources.ts";
import type { PrivacyReport } from "../../../protocol/manifest.ts";
import type { ChainService } from "../chain/mod.ts";
import type { Consents } from "../consent/mod.ts";
import type { Database } from "../db/mod.ts";
import type { Datasets } from "../datasets/mod.ts";
import { DEFAULT_K, type Privacy } from "../privacy/mod.ts";
import { detectBankLayout, IMPORTERS } from "./importers/mod.ts";
import { decodeText } from "./importers/csv.ts";
import {
  MAX_K,
  MIN_K,
  Publications,
  type PublishPreview,
  type PublishSourcesFields,
} from "./publications.ts";
import { type PublicationRecord, type SourceRecord, SourceStore } from "./store.ts";

export interface SourcesComponents {
  db: Database;
  datasets: Datasets;
  privacy: Privacy;
  consent: Consents;
  chain: ChainService;
  log: Logger;
}

export interface ImportFileOptions {
  /** The file's name as the person gave it (a path is cut to its last part). */
  filename: string;
  /** Bank statements: the confirmed column mapping. @default detected from the file's first 64 KiB */
  mapping?: BankMapping;
  signal?: AbortSignal;
  /** Called as the file is read, with the bytes read so far. */
  onProgress?: (bytesRead: number) => void;
}

/** `previewSource()`: the first rows that would leave the node, and the report of releasing them all. */
export interface SourcePreviewRecord {
  id: string;
  kind: SourceKind;
  columns: string[];
  rows: (string | number | null)[][];
  released: number;
  privacy: PrivacyReport;
}

/** The head of a bank statement a layout is detected from. */
export const LAYOUT_HEAD_BYTES = 64 * 1024;
/** Rows a preview shows. */
export const PREVIEW_ROWS = 50;
const MAX_FILENAME_LENGTH = 255;

export class Sources {
  readonly #c: SourcesComponents;
  readonly #store: SourceStore;
  readonly #publications: Publications;

  constructor(components: SourcesComponents) {
    this.#c = components;
    this.#store = new SourceStore(components.db);
    this.#publications = new Publications({ ...components, store: this.#store });
  }

  start(): Promise<void> {
    this.#store.open();
    return Promise.resolve();
  }

  /**
   * Streams `stream` through the importer of `kind` into the node's database; resolves once every
   * row is committed and the source is listed. Throws `NotFoundError` for an unknown kind,
   * `TypeError` for bad options, `ImportError` naming the file and the line or record of a bad
   * file; on any failure nothing of the file is kept and the stream is cancelled.
   */
  async importFile(
    kind: SourceKind,
    stream: ReadableStream<Uint8Array>,
    options: ImportFileOptions,
  ): Promise<SourceRecord> {
    const reader = stream.getReader();
    try {
      checkKind(kind);
      const filename = checkFilename(options.filename);
      if (options.mapping && kind !== "bank") {
        throw new TypeError(`A column mapping is only for bank statements, not ${kind} exports`);
      }
      let input = countBytes(reader, options.onProgress);
      let mapping = options.mapping;
      if (kind === "bank" && !mapping) {
        const peeked = await peekHead(input, LAYOUT_HEAD_BYTES);
        mapping = detectBankLayout(peeked.text, { filename }).mapping;
        input = peeked.stream;
      }
      const batches = IMPORTERS[kind].parse(input, { filename, mapping, signal: options.signal });
      const source = await this.#store.writeImport(kind, batches, {
        filename,
        mapping,
        signal: options.signal,
      });
      this.#c.log.info("imported source", { id: source.id, kind, rows: source.rows });
      return source;
    } catch (err) {
      await reader.cancel(err).catch(() => {});
      throw err;
    } finally {
      reader.releaseLock();
    }
  }

  /** Every import, newest first. */
  list(): SourceRecord[] {
    return this.#store.list();
  }

  /** One import; `NotFoundError` when there is none with this id. */
  get(id: string): SourceRecord {
    return this.#store.get(id);
  }

  /** Adds rows to an import, all or none (the extension's visits join one browsing source). */
  appendRows(id: string, rows: readonly SourceRow[]): SourceRecord {
    return this.#store.appendRows(id, rows);
  }

  /** An import's rows in time order, read from SQLite as iterated. */
  rows(id: string): Iterable<SourceRow> {
    return this.#store.rows(id);
  }

  /** Removes an import and its rows; `NotFoundError` when there is none with this id. */
  delete(id: string): void {
    const source = this.#store.get(id);
    this.#store.delete(id);
    this.#c.log.info("deleted source", { id, kind: source.kind, rows: source.rows });
  }

  /** The columns of a bank statement, detected from its first 64 KiB (the rest is not read). */
  async detectBankLayout(
    stream: ReadableStream<Uint8Array>,
    options: { filename?: string; signal?: AbortSignal } = {},
  ) {
    const reader = stream.getReader();
    try {
      options.signal?.throwIfAborted();
      const { text } = await peekHead(countBytes(reader), LAYOUT_HEAD_BYTES);
      return detectBankLayout(text, { filename: checkFilename(options.filename ?? "statement.csv") });
    } finally {
      await reader.cancel().catch(() => {});
      reader.releaseLock();
    }
  }

  /** What publishing one import alone would release at `k`: the first rows and the privacy report. */
  previewSource(id: string, options: { k?: number } = {}): SourcePreviewRecord {
    const k = options.k ?? DEFAULT_K;
    if (!Number.isInteger(k) || k < MIN_K || k > MAX_K) {
      throw new RangeError(`k must be a whole number from ${MIN_K} to ${MAX_K} (got ${k})`);
    }
    const source = this.#store.get(id);
    const table = this.#c.privacy.anonymize(source.kind, () => this.#store.rows(id), { k });
    const rows: (string | number | null)[][] = [];
    for (const row of table.rows()) {
      if (rows.length === PREVIEW_ROWS) break;
      rows.push(row);
    }
    return {
      id,
      kind: source.kind,
      columns: table.columns,
      rows,
      released: table.released,
      privacy: table.report,
    };
  }

  publish(fields: PublishSourcesFields, options: { signal?: AbortSignal } = {}): Promise<PublicationRecord> {
    return this.#publications.publish(fields, options);
  }

  previewPublish(
    fields: PublishSourcesFields,
    options: { signal?: AbortSignal } = {},
  ): Promise<PublishPreview> {
    return this.#publications.previewPublish(fields, options);
  }

  listPublications(): PublicationRecord[] {
    return this.#publications.listPublications();
  }
}

/** Throws `NotFoundError` naming the kinds for anything else. */
export function checkKind(kind: string): asserts kind is SourceKind {
  if (!(SOURCE_KINDS as readonly string[]).includes(kind)) {
    throw new NotFoundError(
      `No source kind "${String(kind).slice(0, 40)}"; the kinds are ${SOURCE_KINDS.join(", ")}`,
      { details: { kind: String(kind).slice(0, 40) } },
    );
  }
}

/** The last part of a path, on one line, at most 255 characters; "upload" when empty. */
function checkFilename(filename: string): string {
  if (typeof filename !== "string") throw new TypeError("filename must be text");
  // deno-lint-ignore no-control-regex
  const name = filename.split(/[\\/]/).pop()!.replace(/[\u0000-\u001f\u007f]/g, "").trim();
  if (name.length > MAX_FILENAME_LENGTH) {
    throw new RangeError(`The file name is longer than ${MAX_FILENAME_LENGTH} characters`);
  }
  return name || "upload";
}

/** A stream of `reader`'s chunks that reports the bytes read so far. */
function countBytes(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  onProgress?: (bytesRead: number) => void,
): ReadableStream<Uint8Array> {
  let bytes = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) return controller.close();
      bytes += value.byteLength;
      onProgress?.(bytes);
      controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

/**
 * Reads up to `max` bytes of `stream`; resolves with them as text (cut after the last line break
 * when the file goes on) and a stream of the whole file again.
 */
async function peekHead(
  stream: ReadableStream<Uint8Array>,
  max: number,
): Promise<{ text: string; stream: ReadableStream<Uint8Array> }> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let ended = false;
  while (size < max) {
    const { done, value } = await reader.read();
    if (done) {
      ended = true;
      break;
    }
    chunks.push(value);
    size += value.byteLength;
  }
  const head = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    head.set(chunk, offset);
    offset += chunk.byteLength;
  }
  // Decoded as the importers decode (UTF-8, else windows-1252), without a line the head cuts.
  let part = head.subarray(0, Math.min(size, max));
  if (!ended || size > max) {
    const cut = part.lastIndexOf(0x0a);
    if (cut > 0) part = part.subarray(0, cut + 1);
  }
  const text = (await Array.fromAsync(ReadableStream.from([part]).pipeThrough(decodeText()))).join("");
  let replayed = false;
  const whole = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!replayed) {
        replayed = true;
        if (head.byteLength > 0) return controller.enqueue(head);
      }
      if (ended) return controller.close();
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
  return { text, stream: whole };
}
