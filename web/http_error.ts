/**
 * The one error shape of the HTTP API. Routes throw an `HttpError`; the app's
 * error handler turns it (and anything else that escapes a route) into
 *
 *     { "error": { "code": "not_found", "message": "No API route GET /api/v1/nope" } }
 *
 * with the matching status. Errors of the node's services are mapped once, by
 * class name, in {@link ERROR_TABLE}, under the policy the route declared with
 * `defineRoute(…, { errors })`. Anything else becomes a 500 with code
 * `"internal"` and a generic message; its details go to the log, never to the
 * client.
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
  /** The IPFS gateway serves none of the response types the request accepts (`GET /ipfs/{cid}`). */
  | "not_acceptable"
  | "conflict"
  | "payload_too_large"
  | "unsupported_media_type"
  | "unprocessable"
  | "too_many_requests"
  /** `Cache-Control: only-if-cached` asked for a block the IPFS gateway does not hold. */
  | "precondition_failed"
  | "internal"
  | "unavailable"
  /** A file that is not a valid export of its kind (`POST /api/v1/sources/:kind/imports`). */
  | "import_error"
  /** Visits sent by the browser extension while no browsing consent is valid (`POST /api/v1/extension/visits`). */
  | "consent_required";

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/** Status codes an `HttpError` may carry (4xx for the caller's mistakes, 5xx for ours). */
export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 406 | 409 | 412 | 413 | 415 | 422 | 429 | 500 | 503;

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
    case 406:
      return "not_acceptable";
    case 409:
      return "conflict";
    case 412:
      return "precondition_failed";
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

/** What a route family decides about errors the table leaves open; declared once with `defineRoute`. */
export interface ErrorPolicy {
  /** Status of bad input (`TypeError`, `RangeError`): 400 or 422. */
  badInput: 400 | 422;
  /**
   * How a `ContractRevertError` maps: `"registry"` by the revert's name (403, 404, 422, else 409),
   * `"conflict"` always 409. @default none: a revert is a 500
   */
  reverts?: "registry" | "conflict";
  /** Rewrites the message of every error the table maps: `[pattern, replacement]`. */
  rewrite?: [RegExp, string];
}

type TableRow = { status: ErrorStatus; code: ErrorCode; prefix?: string } | "badInput" | "reverts";

/**
 * The one error table: error class name → status and code. Keyed by name because the web
 * layer cannot import the node's classes; every node error keeps its class name in `name`.
 */
export const ERROR_TABLE: Readonly<Record<string, TableRow>> = {
  NotFoundError: { status: 404, code: "not_found" },
  TypeError: "badInput",
  RangeError: "badInput",
  DatasetFormatError: { status: 422, code: "unprocessable" },
  EmptyReleaseError: { status: 422, code: "unprocessable" },
  MultipartError: { status: 400, code: "bad_request", prefix: "Malformed upload: " },
  PurchaseNotReadyError: { status: 409, code: "conflict" },
  PrivacyBudgetError: { status: 409, code: "conflict" },
  ReleaseCapError: { status: 400, code: "bad_request" },
  DeliveryTargetError: { status: 400, code: "bad_request" },
  FetchError: { status: 503, code: "unavailable" },
  QuoteError: { status: 503, code: "unavailable" },
  SaleProtocolError: { status: 503, code: "unavailable" },
  DelegationError: { status: 503, code: "unavailable" },
  ChainUnavailableError: { status: 503, code: "unavailable" },
  NotArbiterError: { status: 403, code: "forbidden" },
  FaucetUnavailableError: { status: 404, code: "not_found" },
  FaucetLimitError: { status: 429, code: "too_many_requests" },
  ConsentNotHeldError: { status: 403, code: "forbidden" },
  ConsentNotValidError: { status: 409, code: "conflict" },
  ConsentSignatureError: { status: 422, code: "unprocessable" },
  RewardUnverifiableError: { status: 409, code: "conflict" },
  ContractRevertError: "reverts",
  ImportError: { status: 422, code: "import_error" },
  NothingToPublishError: { status: 409, code: "conflict" },
  EmptyPublicationError: { status: 422, code: "unprocessable" },
  SourceChangedError: { status: 409, code: "conflict" },
  NotPoolOperatorError: { status: 403, code: "forbidden" },
  PoolJoinRefusedError: { status: 409, code: "conflict" },
  PoolUnreachableError: { status: 503, code: "unavailable" },
  EmptyVersionError: { status: 409, code: "conflict" },
  ExtensionTokenError: { status: 401, code: "unauthorized" },
  PairingCodeError: { status: 401, code: "unauthorized" },
  ExtensionRateLimitError: { status: 429, code: "too_many_requests" },
  IpfsRateLimitError: { status: 429, code: "too_many_requests" },
  ConsentRequiredError: { status: 409, code: "consent_required" },
  IngestKeyError: { status: 401, code: "unauthorized" },
  IngestBatchTooLargeError: { status: 413, code: "payload_too_large" },
  SensorExistsError: { status: 409, code: "conflict" },
  OwnerStateError: { status: 409, code: "conflict" },
  StreamQuoteError: { status: 503, code: "unavailable" },
  SubscriptionStateError: { status: 409, code: "conflict" },
  EpochUnavailableError: { status: 409, code: "conflict" },
  EpochIntegrityError: { status: 503, code: "unavailable" },
};

/** Registry reverts that mean the caller may not do this. */
const FORBIDDEN_REVERTS = new Set(["NotArbiter", "NotListingOwner"]);
/** Registry reverts that mean the request's values cannot work, whatever the chain's state. */
const UNPROCESSABLE_REVERTS = new Set([
  "StakeTooLow",
  "ChallengeStakeTooLow",
  "EmptyCid",
  "OwnListing",
  "ERC20InsufficientBalance",
  "ERC20InsufficientAllowance",
  "SafeCastOverflowedUintDowncast",
]);

/**
 * The `HttpError` the table gives `err` under `policy`, or undefined when the table leaves it
 * open (no policy, or a name it does not list): the app then answers 500.
 */
export function toHttpError(err: unknown, policy: ErrorPolicy | undefined): HttpError | undefined {
  if (err instanceof HttpError) return err;
  if (!policy || typeof err !== "object" || err === null) return undefined;
  const e = err as Error & { revert?: string };
  const row = Object.hasOwn(ERROR_TABLE, e.name) ? ERROR_TABLE[e.name] : undefined;
  let status: ErrorStatus;
  let code: ErrorCode | undefined;
  let prefix = "";
  if (row === undefined) return undefined;
  if (row === "badInput") status = policy.badInput;
  else if (row === "reverts") {
    if (!policy.reverts) return undefined;
    status = policy.reverts === "conflict" ? 409 : getRegistryRevertStatus(e.revert ?? "Revert");
  } else {
    status = row.status;
    code = row.code;
    prefix = row.prefix ?? "";
  }
  const message = policy.rewrite ? e.message.replace(...policy.rewrite) : e.message;
  // A rate limit says when to come back (`FaucetLimitError.retryAfter`, seconds).
  const retryAfter = (err as { retryAfter?: unknown }).retryAfter;
  const headers = status === 429 && typeof retryAfter === "number" && retryAfter > 0
    ? { "Retry-After": String(Math.ceil(retryAfter)) }
    : undefined;
  return new HttpError(status, code ?? getCodeForStatus(status), prefix + message, { cause: err, headers });
}

function getRegistryRevertStatus(revert: string): ErrorStatus {
  if (FORBIDDEN_REVERTS.has(revert)) return 403;
  if (revert === "ERC721NonexistentToken") return 404;
  if (UNPROCESSABLE_REVERTS.has(revert)) return 422;
  return 409;
}

const policies = new WeakMap<Request, ErrorPolicy>();

/** Records the error policy of the route that handles `request` (`defineRoute` does). */
export function setErrorPolicy(request: Request, policy: ErrorPolicy): void {
  policies.set(request, policy);
}

/** The error policy recorded for `request`, if its route declared one. */
export function getErrorPolicy(request: Request): ErrorPolicy | undefined {
  return policies.get(request);
}
