/**
 * A streaming `multipart/form-data` reader (RFC 7578). Unlike
 * `Request.formData()`, which holds the whole body in memory, it yields one
 * part at a time and hands out each part's bytes as a `ReadableStream` while
 * they arrive, so a route can pipe a multi-gigabyte file part into the block
 * store with memory bounded by a few network chunks.
 *
 * ```ts
 * for await (const part of readMultipart(request.body!, getBoundary(contentType))) {
 *   if (part.filename === undefined) fields[part.name] = await readPartText(part, { maxBytes: 16_384 });
 *   else await store(part.body); // consume (or cancel) each body before the next part
 * }
 * ```
 *
 * A part's body closes only once the reader knows whether another part
 * follows, so `part.last` is settled by then: a consumer can refuse to commit
 * a file part that is not the last part.
 */

/** The body is not well-formed multipart, or breaks a limit of the reader. */
export class MultipartError extends Error {
  override name = "MultipartError";
}

/** One part of a multipart body. */
export interface MultipartPart {
  /** The `name` of its `Content-Disposition`. */
  name: string;
  /** The `filename` of its `Content-Disposition`, when it is a file. */
  filename?: string;
  /** Its `Content-Type`, when given. */
  contentType?: string;
  /** The part's bytes; read or cancel them before asking for the next part. */
  body: ReadableStream<Uint8Array>;
  /** Whether this is the last part; settled when `body` closes. */
  last: boolean;
}

export interface ReadMultipartOptions {
  /** Largest header block of one part, in bytes. @default 8192 */
  maxHeaderBytes?: number;
  /** Most parts accepted. @default 32 */
  maxParts?: number;
  /** Largest preamble before the first boundary, in bytes. @default 8192 */
  maxPreambleBytes?: number;
}

/**
 * The boundary of a `multipart/form-data` content type, or `undefined` when
 * the type is another one. Throws a {@link MultipartError} when the type is
 * multipart but its boundary is missing or invalid.
 */
export function getBoundary(contentType: string | null | undefined): string | undefined {
  if (!contentType) return undefined;
  const [type, ...params] = contentType.split(";");
  if (type.trim().toLowerCase() !== "multipart/form-data") return undefined;
  for (const param of params) {
    const eq = param.indexOf("=");
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== "boundary") continue;
    let value = param.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (!/^[0-9A-Za-z'()+_,./:=? -]{1,70}$/.test(value) || value.endsWith(" ")) {
      throw new MultipartError("The multipart boundary in Content-Type is not a valid boundary");
    }
    return value;
  }
  throw new MultipartError("Content-Type multipart/form-data has no boundary parameter");
}

/** Reads a part's body as UTF-8 text; throws a `RangeError` past `maxBytes`. */
export async function readPartText(part: MultipartPart, options: { maxBytes: number }): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of part.body) {
    size += chunk.byteLength;
    if (size > options.maxBytes) {
      throw new RangeError(`Field "${part.name}" is larger than ${options.maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new MultipartError(`Field "${part.name}" is not valid UTF-8`);
  }
}

const CR = 13;
const LF = 10;
const DASH = 45;
const encoder = new TextEncoder();

/**
 * Yields the parts of a multipart body in order. Each part's body must be
 * read to its end or cancelled before the next part is requested; whatever
 * is left of it is skipped otherwise. Errors are {@link MultipartError}s.
 */
export async function* readMultipart(
  body: ReadableStream<Uint8Array>,
  boundary: string,
  options: ReadMultipartOptions = {},
): AsyncGenerator<MultipartPart> {
  const maxHeaderBytes = options.maxHeaderBytes ?? 8192;
  const maxParts = options.maxParts ?? 32;
  const maxPreambleBytes = options.maxPreambleBytes ?? 8192;
  // Every delimiter is CRLF "--" boundary; a virtual CRLF before the body makes the first one match too.
  const delimiter = encoder.encode(`\r\n--${boundary}`);
  const reader = body.getReader();
  let buf: Uint8Array = new Uint8Array([CR, LF]);
  let pos = 0;
  let ended = false;

  /** Reads more bytes into `buf`; false at the end of the body. */
  const fill = async (): Promise<boolean> => {
    if (ended) return false;
    const { done, value } = await reader.read();
    if (done) {
      ended = true;
      return false;
    }
    if (value.byteLength === 0) return true;
    // Never mutate `buf` in place: slices of it may have been handed out.
    if (pos >= buf.length) buf = value;
    else {
      const next = new Uint8Array(buf.length - pos + value.byteLength);
      next.set(buf.subarray(pos));
      next.set(value, buf.length - pos);
      buf = next;
    }
    pos = 0;
    return true;
  };

  /** Ensures `n` unread bytes are buffered; false when the body ends first. */
  const need = async (n: number): Promise<boolean> => {
    while (buf.length - pos < n) if (!(await fill())) return false;
    return true;
  };

  /**
   * Takes the next run of bytes before the next delimiter (at most what is
   * buffered) and reports whether `pos` is now on the delimiter. Throws when
   * the body ends first.
   */
  const step = async (what: string): Promise<{ bytes?: Uint8Array; found: boolean }> => {
    for (;;) {
      const at = indexOf(buf, delimiter, pos);
      if (at >= 0) {
        const bytes = at > pos ? buf.subarray(pos, at) : undefined;
        pos = at;
        return { bytes, found: true };
      }
      const safe = buf.length - (delimiter.length - 1);
      if (safe > pos) {
        const bytes = buf.subarray(pos, safe);
        pos = safe;
        return { bytes, found: false };
      }
      if (!(await fill())) throw new MultipartError(`The multipart body ended inside ${what}`);
    }
  };

  /** Skips to the next delimiter, passing what it skips to `onSkip`. */
  const scanTo = async (onSkip: (bytes: Uint8Array) => void, what: string): Promise<void> => {
    for (;;) {
      const { bytes, found } = await step(what);
      if (bytes) onSkip(bytes);
      if (found) return;
    }
  };

  /** At a delimiter: consumes it and reports whether it closes the body. */
  const passDelimiter = async (): Promise<boolean> => {
    if (!(await need(delimiter.length + 2))) {
      throw new MultipartError("The multipart body ended at a boundary");
    }
    pos += delimiter.length;
    if (buf[pos] === DASH && buf[pos + 1] === DASH) {
      pos += 2;
      return true;
    }
    // Transport padding, then CRLF.
    for (;;) {
      if (!(await need(2))) throw new MultipartError("The multipart body ended at a boundary");
      if (buf[pos] === 32 || buf[pos] === 9) pos++;
      else break;
    }
    if (buf[pos] !== CR || buf[pos + 1] !== LF) {
      throw new MultipartError("A multipart boundary is not followed by a line break");
    }
    pos += 2;
    return false;
  };

  try {
    let preamble = 0;
    await scanTo((bytes) => {
      preamble += bytes.byteLength;
      if (preamble > maxPreambleBytes) {
        throw new MultipartError("The body does not start with the multipart boundary of its Content-Type");
      }
    }, "the preamble");
    let closed = await passDelimiter();
    if (closed) throw new MultipartError("The multipart body has no parts");
    for (let count = 1; !closed; count++) {
      if (count > maxParts) throw new MultipartError(`The multipart body has more than ${maxParts} parts`);
      const headers = await readHeaders();
      const part = describePart(headers);
      let done = false;
      let failure: unknown;
      const settle = async () => {
        closed = await passDelimiter();
        part.last = closed;
        done = true;
      };
      part.body = new ReadableStream<Uint8Array>({
        pull: async (controller) => {
          try {
            const { bytes, found } = await step(`part "${part.name}"`);
            if (bytes) controller.enqueue(bytes);
            if (found) {
              await settle();
              controller.close();
            }
          } catch (err) {
            failure = err;
            throw err;
          }
        },
        cancel: () => {
          failure = new MultipartError(`The body of part "${part.name}" was cancelled`);
        },
      }, { highWaterMark: 0 });
      yield part;
      if (failure) throw failure;
      if (!done) {
        // The consumer left some of the body unread: skip it.
        await scanTo(() => {}, `part "${part.name}"`);
        await settle();
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }

  async function readHeaders(): Promise<Headers> {
    const end = new Uint8Array([CR, LF, CR, LF]);
    // A part without headers starts right away with the blank line.
    if (!(await need(2))) throw new MultipartError("The multipart body ended in part headers");
    let text: string;
    if (buf[pos] === CR && buf[pos + 1] === LF) {
      pos += 2;
      text = "";
    } else {
      let at: number;
      for (;;) {
        at = indexOf(buf, end, pos);
        if (at >= 0) break;
        if (buf.length - pos > maxHeaderBytes) {
          throw new MultipartError(`The headers of a multipart part are larger than ${maxHeaderBytes} bytes`);
        }
        if (!(await fill())) throw new MultipartError("The multipart body ended in part headers");
      }
      if (at - pos > maxHeaderBytes) {
        throw new MultipartError(`The headers of a multipart part are larger than ${maxHeaderBytes} bytes`);
      }
      text = new TextDecoder().decode(buf.subarray(pos, at));
      pos = at + 4;
    }
    const headers = new Headers();
    for (const line of text.split("\r\n")) {
      if (line === "") continue;
      const colon = line.indexOf(":");
      if (colon <= 0) throw new MultipartError("A multipart part has a malformed header line");
      try {
        headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
      } catch {
        throw new MultipartError("A multipart part has a malformed header line");
      }
    }
    return headers;
  }
}

function describePart(headers: Headers): MultipartPart {
  const disposition = headers.get("content-disposition");
  if (!disposition) throw new MultipartError("A multipart part has no Content-Disposition header");
  const [kind, ...rest] = splitParams(disposition);
  if (kind.toLowerCase() !== "form-data") {
    throw new MultipartError("A multipart part's Content-Disposition is not form-data");
  }
  const params = new Map<string, string>();
  for (const param of rest) {
    const eq = param.indexOf("=");
    if (eq < 0) continue;
    let value = param.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) {
      value = value.slice(1, -1).replace(/\\(.)/g, "$1");
    }
    params.set(param.slice(0, eq).trim().toLowerCase(), value);
  }
  const name = params.get("name");
  if (name === undefined) throw new MultipartError("A multipart part has no name");
  const part: MultipartPart = { name, body: new ReadableStream(), last: false };
  const filename = params.get("filename");
  if (filename !== undefined) part.filename = filename.replace(/^.*[\\/]/, "");
  const type = headers.get("content-type");
  if (type) part.contentType = type;
  return part;
}

/** Splits a header value at `;` outside quotes. */
function splitParams(value: string): string[] {
  const out: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === "\\" && quoted && i + 1 < value.length) {
      current += c + value[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ";" && !quoted) {
      out.push(current.trim());
      current = "";
    } else current += c;
  }
  out.push(current.trim());
  return out;
}

/** First index of `needle` in `haystack` at or after `from`, or -1. */
function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  const last = haystack.length - needle.length;
  for (let i = haystack.indexOf(first, from); i >= 0 && i <= last; i = haystack.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}
