/**
 * A streaming reader of one JSON array of records: the top-level array, or the array under one key
 * of a top-level object (`{"Browser History": [...]}`). It yields one element at a time with its
 * record number and keeps nothing else: memory stays bounded whatever the size of the file, and one
 * record may be at most {@link MAX_JSON_RECORD} bytes.
 *
 * ```ts
 * for await (const { value, record } of readJsonArray(file.stream(), { filename, what: "a Chrome history", key: "Browser History" })) {
 *   console.log(record, value);
 * }
 * ```
 */
import { JSONParser } from "@streamparser/json";
import { ImportError } from "./types.ts";

/** Largest single record accepted, in bytes. */
export const MAX_JSON_RECORD = 8 * 1024 * 1024;

/** Deepest nesting accepted (the file's own array counts): real exports nest 3 or 4 levels. */
export const MAX_JSON_DEPTH = 32;

/**
 * Nesting depth of JSON text, chunk by chunk, outside strings. The parser builds every open
 * array or object before it can yield anything, so a million `[` would cost hundreds of MB before
 * the record-size limit is reached; this stops such a file at {@link MAX_JSON_DEPTH}.
 */
class DepthGauge {
  depth = 0;
  #inString = false;
  #escaped = false;

  /** The deepest nesting reached in `bytes`. */
  feed(bytes: Uint8Array): number {
    let deepest = this.depth;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (b === 0x5c) this.#escaped = true; // \
        else if (b === 0x22) this.#inString = false; // "
      } else if (b === 0x22) this.#inString = true;
      else if (b === 0x5b || b === 0x7b) {
        if (++this.depth > deepest) deepest = this.depth;
        if (deepest > MAX_JSON_DEPTH) return deepest;
      } else if (b === 0x5d || b === 0x7d) this.depth--;
    }
    return deepest;
  }
}

/** One element of the array and its 1-based position (`record 1` is the first element). */
export interface JsonRecord {
  value: unknown;
  record: number;
}

export interface JsonArrayOptions {
  filename: string;
  /** What the file should be, for errors: `"a Spotify streaming history"`. */
  what: string;
  /** When the file is an object, the key of the array to read. */
  key?: string;
}

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** Index of the first byte that is neither whitespace nor part of a UTF-8 BOM, or -1. */
function firstSignificant(bytes: Uint8Array, start: number): number {
  for (let i = start; i < bytes.length; i++) {
    const b = bytes[i];
    if (WHITESPACE.has(b) || (i < 3 && b === [0xef, 0xbb, 0xbf][i])) continue;
    return i;
  }
  return -1;
}

function describeJsonError(err: Error): string {
  if (/ended in (the middle|mid-parsing)/.test(err.message)) {
    return "the file ends in the middle of a record (is it cut short?)";
  }
  const at = err.message.match(/absolute position "(\d+)"/);
  return `not valid JSON${at ? ` near byte ${at[1]}` : ""}`;
}

/** The elements of the file's array, one at a time (see the module doc). */
export async function* readJsonArray(
  input: ReadableStream<Uint8Array>,
  options: JsonArrayOptions,
): AsyncGenerator<JsonRecord> {
  const { filename, what, key } = options;
  const reader = input.getReader();
  try {
    // Find the first significant byte to know whether this is an array or an object.
    let head = new Uint8Array(0);
    let at = -1;
    let offset = 0;
    while (at < 0) {
      const { value, done } = await reader.read();
      if (done) throw new ImportError(filename, "", `the file is empty: expected ${what}`);
      const joined = new Uint8Array(head.length + value.length);
      joined.set(head);
      joined.set(value, head.length);
      head = joined;
      at = firstSignificant(head, offset);
      offset = head.length;
      if (at < 0 && head.length > 64 * 1024) {
        throw new ImportError(filename, "", `not ${what}: only whitespace`);
      }
    }
    const isArray = head[at] === 0x5b; // [
    if (!isArray && !(head[at] === 0x7b && key)) { // {
      throw new ImportError(
        filename,
        "",
        `not ${what}: expected a JSON array${key ? ` or an object with "${key}"` : ""}`,
      );
    }
    const parser = new JSONParser({ paths: [isArray ? "$.*" : `$.${key}.*`], keepStack: false });
    const ready: JsonRecord[] = [];
    let count = 0;
    let failure: Error | null = null;
    let sinceLast = 0;
    parser.onValue = ({ value }) => {
      ready.push({ value, record: ++count });
      sinceLast = 0;
    };
    parser.onError = (err) => {
      failure ??= err;
    };
    const check = () => {
      if (failure) throw new ImportError(filename, `record ${count + 1}`, describeJsonError(failure));
      if (sinceLast > MAX_JSON_RECORD) {
        throw new ImportError(
          filename,
          `record ${count + 1}`,
          `a record is larger than ${MAX_JSON_RECORD} bytes`,
        );
      }
    };
    const gauge = new DepthGauge();
    let chunk: Uint8Array | undefined = head.subarray(at);
    while (chunk) {
      if (gauge.feed(chunk) > MAX_JSON_DEPTH) {
        throw new ImportError(filename, `record ${count + 1}`, `nested deeper than ${MAX_JSON_DEPTH} levels`);
      }
      sinceLast += chunk.length;
      parser.write(chunk);
      const batch = ready.splice(0);
      for (const r of batch) yield r;
      check();
      const next = await reader.read();
      chunk = next.done ? undefined : next.value;
    }
    if (!parser.isEnded) parser.end();
    const batch = ready.splice(0);
    for (const r of batch) yield r;
    check();
    if (!isArray && count === 0) throw new ImportError(filename, "", `not ${what}: no "${key}" records`);
  } finally {
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
