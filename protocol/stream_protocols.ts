/**
 * The request/response frames of the stream protocols (re-exported by `streams.ts`), each size-capped
 * before it is parsed, with exact keys:
 * - `/kosmos/stream-sale/1.0.0`, JSON like the dataset sale: `{ v, type: "subscribe", streamId, first, last,
 *   buyer }` → a `QuoteOffer` whose `z` holds one key per epoch of the span, or `{ v, error: { code, message } }`;
 * - `/kosmos/streams/1.0.0`, DAG-CBOR: `{ v, streamId, from, to }` → `{ v, epochs: EpochSealed[] }` (at most
 *   1000, validated; the asker verifies them) or `{ v, error }`; and `{ v, type: "streams", after?, limit }` →
 *   `{ v, streams: StreamAnnouncement[], next? }`: the signed announcements the node stored, by stream id
 *   ascending after `after`, at most `limit` (≤ 64) and 1 MiB of them; `next` (the last id) when more remain.
 *
 * ```ts
 * const request = decodeStreamSaleRequest(bytes); // throws StreamProtocolError
 * const answer = decodeEpochQueryResponse(encodeEpochQueryResponse({ v: 1, epochs }));
 * const asked = decodeStreamsRequest(bytes); // an EpochQueryRequest or a StreamListRequest
 * ```
 */
import type { Address } from "viem";
import type { QuoteOffer } from "./sale.ts";
import { quoteFromJson, quoteToJson } from "./sale.ts";
import { checkAddress, checkInteger, checkKeys, checkObject, FieldError } from "./manifest.ts";
import {
  checkHexBytes,
  MAX_EPOCH,
  MAX_EPOCH_SEALED_BYTES,
  MAX_SALE_EPOCHS,
  MAX_STREAM_MANIFEST_BYTES,
  StreamProtocolError,
  wrap,
} from "./stream_fields.ts";
import {
  checkCap,
  checkStreamId,
  decodeCapped,
  encodeCapped,
  type EpochSealed,
  message,
  type StreamAnnouncement,
  validateEpochSealed,
  validateStreamAnnouncement,
} from "./stream_messages.ts";

export const MAX_STREAM_SALE_REQUEST_BYTES = 512;
export const MAX_STREAM_SALE_RESPONSE_BYTES = 64 * 1024;
export const MAX_EPOCH_QUERY_REQUEST_BYTES = 256;
/** Most EpochSealed records in one epoch query answer. */
export const MAX_EPOCH_QUERY_RESULTS = 1000;
export const MAX_EPOCH_QUERY_RESPONSE_BYTES = MAX_EPOCH_QUERY_RESULTS * MAX_EPOCH_SEALED_BYTES + 1024;
/** Most announcements in one stream list answer. */
export const MAX_STREAM_LIST_RESULTS = 64;
/** Announcement bytes a stream list answer carries at most (one announcement more may cross it). */
export const STREAM_LIST_PAGE_BYTES = 1024 * 1024;
/** The page plus one announcement (`MAX_STREAM_ANNOUNCEMENT_BYTES`, a constant of a module importing this one). */
export const MAX_STREAM_LIST_RESPONSE_BYTES = STREAM_LIST_PAGE_BYTES + MAX_STREAM_MANIFEST_BYTES + 2048 +
  4096;

export interface StreamSaleRequest {
  v: 1;
  type: "subscribe";
  streamId: string;
  first: number;
  last: number;
  buyer: Address;
}

export type StreamSaleRefusal =
  | "bad-request"
  | "unknown-stream"
  | "not-seller"
  | "out-of-range"
  | "rate-limited"
  | "unavailable";
export const STREAM_SALE_REFUSALS: readonly StreamSaleRefusal[] = [
  "bad-request",
  "unknown-stream",
  "not-seller",
  "out-of-range",
  "rate-limited",
  "unavailable",
];
export type StreamSaleResponse = QuoteOffer | { v: 1; error: { code: StreamSaleRefusal; message: string } };

export interface EpochQueryRequest {
  v: 1;
  streamId: string;
  from: number;
  to: number;
}
export type EpochQueryRefusal = "bad-request" | "unknown-stream" | "rate-limited";

/** The streams a node knows: one page, by stream id ascending, after `after` when given. */
export interface StreamListRequest {
  v: 1;
  type: "streams";
  after?: string;
  limit: number;
}
export type StreamListResponse =
  | { v: 1; streams: StreamAnnouncement[]; next?: string }
  | { v: 1; error: { code: EpochQueryRefusal; message: string } };
export type EpochQueryResponse =
  | { v: 1; epochs: EpochSealed[] }
  | { v: 1; error: { code: EpochQueryRefusal; message: string } };

// --- Stream sale (JSON, like the dataset sale) -------------------------------------------------------------

function parseJson(bytes: Uint8Array, max: number, what: string): unknown {
  checkCap(bytes, max, what);
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new StreamProtocolError(`Cannot decode ${what}: not JSON`, { cause });
  }
}

function checkSpan(m: Record<string, unknown>, a: string, b: string): { first: number; last: number } {
  const first = checkInteger(m[a], a, 0, MAX_EPOCH);
  const last = checkInteger(m[b], b, 0, MAX_EPOCH);
  if (last < first) throw new FieldError(b, `must not be before ${a}`);
  return { first, last };
}

/** The refusal any of these protocols may answer with: `{ v, error: { code, message } }`. */
type Refusal<C extends string> = { v: 1; error: { code: C; message: string } };

/**
 * Validates a response of `what`: an object of version 1, then a {@link Refusal} with one of `codes` when
 * it has an `error`, else what `answer` reads from it. Field errors become a `StreamProtocolError`.
 */
function validateResponse<C extends string, T>(
  value: unknown,
  what: string,
  codes: readonly C[],
  answer: (m: Record<string, unknown>) => T,
): T | Refusal<C> {
  return wrap(what, () => {
    const m = checkObject(value, "response");
    if (m.v !== 1) throw new FieldError("v", "must be 1");
    if (!("error" in m)) return answer(m);
    checkKeys(m, ["v", "error"], "");
    const e = checkObject(m.error, "error");
    checkKeys(e, ["code", "message"], "error");
    if (!(codes as readonly unknown[]).includes(e.code)) throw new FieldError("error.code", "is unknown");
    if (typeof e.message !== "string" || e.message.length > 300) {
      throw new FieldError("error.message", "must be a string of at most 300");
    }
    return { v: 1, error: { code: e.code as C, message: e.message } };
  });
}

export function validateStreamSaleRequest(value: unknown): StreamSaleRequest {
  return wrap("stream sale request", () => {
    const m = message(value, "subscribe", ["v", "type", "streamId", "first", "last", "buyer"]);
    const { first, last } = checkSpan(m, "first", "last");
    if (last - first + 1 > MAX_SALE_EPOCHS) {
      throw new FieldError("last", `span over ${MAX_SALE_EPOCHS} epochs`);
    }
    return {
      v: 1,
      type: "subscribe",
      streamId: checkStreamId(m.streamId),
      first,
      last,
      buyer: checkAddress(m.buyer, "buyer"),
    };
  });
}

export function encodeStreamSaleRequest(request: StreamSaleRequest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(validateStreamSaleRequest(request)));
}

export function decodeStreamSaleRequest(bytes: Uint8Array): StreamSaleRequest {
  return validateStreamSaleRequest(parseJson(bytes, MAX_STREAM_SALE_REQUEST_BYTES, "stream sale request"));
}

function checkSaleResponse(value: unknown): StreamSaleResponse {
  try {
    return validateResponse(value, "stream sale response", STREAM_SALE_REFUSALS, (m): QuoteOffer => {
      checkKeys(m, ["v", "quote", "signature", "z"], "");
      const keys = typeof m.z === "string" ? (m.z.length - 2) / 64 : 0;
      if (!Number.isInteger(keys) || keys < 1 || keys > MAX_SALE_EPOCHS) {
        throw new FieldError("z", `must hold 1 to ${MAX_SALE_EPOCHS} keys of 32 bytes`);
      }
      return {
        v: 1,
        quote: quoteFromJson(m.quote),
        signature: checkHexBytes(
          typeof m.signature === "string" ? m.signature.toLowerCase() : m.signature,
          65,
          "signature",
        ),
        z: checkHexBytes(typeof m.z === "string" ? m.z.toLowerCase() : m.z, keys * 32, "z"),
      };
    });
  } catch (err) {
    if (err instanceof StreamProtocolError) throw err;
    throw new StreamProtocolError(`Invalid stream sale response: ${(err as Error).message}`, { cause: err });
  }
}

export function encodeStreamSaleResponse(response: StreamSaleResponse): Uint8Array {
  const clean = checkSaleResponse(
    "quote" in response ? { ...response, quote: quoteToJson(response.quote) } : response,
  );
  const json = "quote" in clean ? { ...clean, quote: quoteToJson(clean.quote) } : clean;
  const bytes = new TextEncoder().encode(JSON.stringify(json));
  if (bytes.byteLength > MAX_STREAM_SALE_RESPONSE_BYTES) {
    throw new RangeError(`Cannot encode stream sale response: ${bytes.byteLength} bytes, over the cap`);
  }
  return bytes;
}

export function decodeStreamSaleResponse(bytes: Uint8Array): StreamSaleResponse {
  return checkSaleResponse(parseJson(bytes, MAX_STREAM_SALE_RESPONSE_BYTES, "stream sale response"));
}

// --- Epoch query (DAG-CBOR) --------------------------------------------------------------------------------

export function validateEpochQueryRequest(value: unknown): EpochQueryRequest {
  return wrap("epoch query", () => {
    const m = checkObject(value, "request");
    checkKeys(m, ["v", "streamId", "from", "to"], "");
    if (m.v !== 1) throw new FieldError("v", "must be 1");
    const { first, last } = checkSpan(m, "from", "to");
    return { v: 1, streamId: checkStreamId(m.streamId), from: first, to: last };
  });
}

export function encodeEpochQueryRequest(request: EpochQueryRequest): Uint8Array {
  return encodeCapped(validateEpochQueryRequest(request), MAX_EPOCH_QUERY_REQUEST_BYTES, "epoch query");
}

export function decodeEpochQueryRequest(bytes: Uint8Array): EpochQueryRequest {
  return decodeCapped(bytes, MAX_EPOCH_QUERY_REQUEST_BYTES, "epoch query", validateEpochQueryRequest);
}

const QUERY_REFUSALS: readonly EpochQueryRefusal[] = ["bad-request", "unknown-stream", "rate-limited"];

/** Validates (signatures are checked by the asker with {@link verifyEpochSealed}). */
export function validateEpochQueryResponse(value: unknown): EpochQueryResponse {
  return validateResponse(value, "epoch query response", QUERY_REFUSALS, (m) => {
    checkKeys(m, ["v", "epochs"], "");
    if (!Array.isArray(m.epochs) || m.epochs.length > MAX_EPOCH_QUERY_RESULTS) {
      throw new FieldError("epochs", `must be an array of at most ${MAX_EPOCH_QUERY_RESULTS}`);
    }
    return { v: 1 as const, epochs: m.epochs.map(validateEpochSealed) };
  });
}

export function encodeEpochQueryResponse(response: EpochQueryResponse): Uint8Array {
  return encodeCapped(
    validateEpochQueryResponse(response),
    MAX_EPOCH_QUERY_RESPONSE_BYTES,
    "epoch query response",
  );
}

export function decodeEpochQueryResponse(bytes: Uint8Array): EpochQueryResponse {
  return decodeCapped(
    bytes,
    MAX_EPOCH_QUERY_RESPONSE_BYTES,
    "epoch query response",
    validateEpochQueryResponse,
  );
}

// --- Stream list (DAG-CBOR, same protocol) -----------------------------------------------------------------

export function validateStreamListRequest(value: unknown): StreamListRequest {
  return wrap("stream list request", () => {
    const m = checkObject(value, "request");
    const keys = ["v", "type", "limit"];
    if ("after" in m) keys.push("after");
    checkKeys(m, keys, "");
    if (m.v !== 1) throw new FieldError("v", "must be 1");
    if (m.type !== "streams") throw new FieldError("type", "must be streams");
    const limit = checkInteger(m.limit, "limit", 1, MAX_STREAM_LIST_RESULTS);
    return "after" in m
      ? { v: 1, type: "streams", after: checkStreamId(m.after, "after"), limit }
      : { v: 1, type: "streams", limit };
  });
}

export function encodeStreamListRequest(request: StreamListRequest): Uint8Array {
  return encodeCapped(
    validateStreamListRequest(request),
    MAX_EPOCH_QUERY_REQUEST_BYTES,
    "stream list request",
  );
}

/** A request of `/kosmos/streams/1.0.0`: a stream list when it has a `type`, else an epoch query. */
export function decodeStreamsRequest(bytes: Uint8Array): EpochQueryRequest | StreamListRequest {
  return decodeCapped(bytes, MAX_EPOCH_QUERY_REQUEST_BYTES, "streams request", (value) => {
    if (typeof value === "object" && value !== null && "type" in value) {
      return validateStreamListRequest(value);
    }
    return validateEpochQueryRequest(value);
  });
}

/**
 * Validates (signatures are checked by the asker like gossip). Stream ids must ascend, and `next` is the
 * last one's.
 */
export function validateStreamListResponse(value: unknown): StreamListResponse {
  return validateResponse(value, "stream list response", QUERY_REFUSALS, (m): StreamListResponse => {
    checkKeys(m, "next" in m ? ["v", "streams", "next"] : ["v", "streams"], "");
    if (!Array.isArray(m.streams) || m.streams.length > MAX_STREAM_LIST_RESULTS) {
      throw new FieldError("streams", `must be an array of at most ${MAX_STREAM_LIST_RESULTS}`);
    }
    const streams = m.streams.map(validateStreamAnnouncement);
    for (let i = 1; i < streams.length; i++) {
      if (streams[i].streamId <= streams[i - 1].streamId) {
        throw new FieldError("streams", "must be in ascending stream id order, each once");
      }
    }
    if (!("next" in m)) return { v: 1, streams };
    const next = checkStreamId(m.next, "next");
    if (streams.length === 0 || next !== streams.at(-1)!.streamId) {
      throw new FieldError("next", "must be the last stream's id");
    }
    return { v: 1, streams, next };
  });
}

export function encodeStreamListResponse(response: StreamListResponse): Uint8Array {
  return encodeCapped(
    validateStreamListResponse(response),
    MAX_STREAM_LIST_RESPONSE_BYTES,
    "stream list response",
  );
}

export function decodeStreamListResponse(bytes: Uint8Array): StreamListResponse {
  return decodeCapped(
    bytes,
    MAX_STREAM_LIST_RESPONSE_BYTES,
    "stream list response",
    validateStreamListResponse,
  );
}
