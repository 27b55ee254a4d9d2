/**
 * The one error shape of the HTTP API. Routes throw an `HttpError`; the app's
 * error handler turns it (and anything else that escapes a route) into
 *
 *     { "error": { "code": "not_found", "message": "No API route GET /api/v1/nope" } }
 *
 * with the matching status. Unexpected errors become a 500 with code
 * `"internal"` and a generic message; their details go to the log, never to
 * the client.
 *
 * ```ts
 * throw new HttpError(404, "not_found", `No listing "${id}"`);
 * ```
 */

/** Machine-readable error codes; clients switch on these, people read the message. */
export type ErrorCode =
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "method_not_allowed"
  | "conflict"
  | "payload_too_large"
  | "unsupported_media_type"
  | "unprocessable"
  | "too_many_requests"
  | "internal"
  | "unavailable";

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/** Status codes an `HttpError` may carry (4xx for the caller's mistakes, 5xx for ours). */
export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 422 | 429 | 500 | 503;

export interface HttpErrorOptions {
  /** Extra response headers, such as `Allow` on a 405 or `Retry-After` on a 429. */
  headers?: Record<string, string>;
  cause?: unknown;
}

/** An error a route throws to answer with a given status and code. */
export class HttpError extends Error {
  override name = "HttpError";
  readonly status: ErrorStatus;
  readonly code: ErrorCode;
  readonly headers: Record<string, string>;

  constructor(status: ErrorStatus, code: ErrorCode, message: string, options: HttpErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.status = status;
    this.code = code;
    this.headers = options.headers ?? {};
  }

  /** The JSON body for this error. */
  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

/** The code that goes with a status when a library (not our code) picked the status. */
export function getCodeForStatus(status: number): ErrorCode {
  switch (status) {
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 409:
      return "conflict";
    case 413:
      return "payload_too_large";
    case 415:
      return "unsupported_media_type";
    case 422:
      return "unprocessable";
    case 429:
      return "too_many_requests";
    case 503:
      return "unavailable";
    default:
      return status >= 500 ? "internal" : "bad_request";
  }
}
