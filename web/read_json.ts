/**
 * Reads a JSON request body for an API route, turning every way it can be
 * wrong into the right `HttpError`: 415 when it is not JSON, 413 when it is
 * too large (checked while streaming, not only from `Content-Length`), 400
 * when it does not parse. Routes read JSON through `validate.ts`'s `readBody`, which then
 * checks the value against the route's schema (422).
 *
 * ```ts
 * const body = await readJson(c.req.raw, { maxBytes: 16 * 1024 });
 * ```
 */
import { HttpError } from "./http_error.ts";

export interface ReadJsonOptions {
  /** @default 1 MiB */
  maxBytes?: number;
}

export async function readJson(request: Request, options: ReadJsonOptions = {}): Promise<unknown> {
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const type = request.headers.get("content-type") ?? "";
  const mediaType = type.split(";")[0].trim().toLowerCase();
  if (mediaType !== "application/json" && !mediaType.endsWith("+json")) {
    throw new HttpError(
      415,
      "unsupported_media_type",
      `Expected a JSON body with Content-Type: application/json, got ${type ? `"${type}"` : "none"}`,
    );
  }
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  if (!request.body) throw new HttpError(400, "bad_request", "Expected a JSON body, got an empty request");
  const bytes = await readBytes(request, maxBytes);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "bad_request", "The request body is not valid UTF-8");
  }
  if (text.trim() === "") {
    throw new HttpError(400, "bad_request", "Expected a JSON body, got an empty request");
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, "bad_request", `The request body is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Reads a request body into memory (empty when there is none). Throws a 413
 * `<subject> is larger than <maxBytes> bytes` as soon as it passes the limit,
 * while streaming; `subject` defaults to "The request body".
 */
export async function readBytes(
  request: Request,
  maxBytes: number,
  subject = "The request body",
): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) throw tooLarge(maxBytes, subject);
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

function tooLarge(maxBytes: number, subject = "The request body"): HttpError {
  return new HttpError(413, "payload_too_large", `${subject} is larger than ${maxBytes} bytes`);
}
