/**
 * The checks every multipart upload route makes before reading a byte: a multipart/form-data
 * Content-Type with a boundary (else 415, or 400 when malformed), a declared length within the
 * limit (else 413), and a body.
 *
 * ```ts
 * const { stream, boundary } = openUpload(c.req.raw, maxBytes);
 * for await (const part of readMultipart(stream, boundary)) { … }
 * ```
 */
import { HttpError } from "./http_error.ts";
import { getBoundary } from "./multipart.ts";

/** The multipart body of an upload and its boundary; 415, 400 or 413 before a byte is read. */
export function openUpload(
  request: Request,
  maxBytes: number,
): { stream: ReadableStream<Uint8Array>; boundary: string } {
  const type = request.headers.get("content-type");
  let boundary: string | undefined;
  try {
    boundary = getBoundary(type);
  } catch (err) {
    throw new HttpError(400, "bad_request", (err as Error).message);
  }
  if (!boundary) {
    throw new HttpError(
      415,
      "unsupported_media_type",
      `Expected a multipart/form-data upload with the file in a part named "file", got ${
        type ? `"${type.slice(0, 100)}"` : "no Content-Type"
      }`,
    );
  }
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > maxBytes + 64 * 1024) throw tooLarge(maxBytes);
  if (!request.body) throw new HttpError(400, "bad_request", "The upload is empty");
  return { stream: request.body, boundary };
}

/** The 413 of a file over `maxBytes`. */
export function tooLarge(maxBytes: number): HttpError {
  return new HttpError(
    413,
    "payload_too_large",
    `The file is larger than the ${maxBytes} bytes this node accepts`,
  );
}
