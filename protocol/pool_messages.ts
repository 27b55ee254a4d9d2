/**
 * The frames of `/kosmos/pool/1.0.0` (`POOL_PROTOCOL` in `pools.ts`): the asking side writes one
 * length-prefixed JSON request and reads one response. Every frame is size-capped before it is parsed and
 * every field checked (exact keys, decimal ids, hex sizes, addresses, canonical signatures); a
 * contribution's cells are strings, numbers or null, one per column, capped in length and count.
 *
 *     request:  { v: 1, type: "join", poolId, contributor, consentId, signature }
 *             | { v: 1, type: "leave", poolId, contributor }
 *             | { v: 1, type: "contribute", poolId, version }
 *             | { v: 1, type: "announcements" }
 *     response: { v: 1, ok: true } | { v: 1, error: { code, message } }
 *             | { v: 1, contribution: { columns, rows, count, report } }
 *             | { v: 1, announcements: [PoolAnnouncement…] }
 *
 * ```ts
 * const bytes = encodePoolRequest({ v: 1, type: "contribute", poolId: "1", version: "0x…" });
 * decodePoolRequest(bytes); // throws PoolProtocolError
 * ```
 */
import type { Address, Hex } from "viem";
import {
  address,
  exactKeys,
  fail,
  hex,
  integer,
  isObject,
  parseJson,
  signature,
  text,
  uint,
} from "./pool_fields.ts";
import {
  MAX_CONTRIBUTION_CELL_LENGTH,
  MAX_CONTRIBUTION_COLUMNS,
  MAX_CONTRIBUTION_ROWS,
  MAX_POOL_ANNOUNCEMENTS,
  MAX_POOL_K,
  MAX_POOL_REQUEST_BYTES,
  MAX_POOL_RESPONSE_BYTES,
  MIN_POOL_K,
  POOL_VERSION,
  type PoolAnnouncement,
  type PoolAnnouncementOptions,
  validatePoolAnnouncement,
} from "./pools.ts";

/** Why a pool request was refused. */
export type PoolRefusal =
  | "bad-request"
  | "unknown-pool"
  | "not-member"
  | "bad-signature"
  | "consent-invalid"
  | "no-rows"
  | "full"
  | "rate-limited"
  | "unavailable";

export const POOL_REFUSALS: readonly PoolRefusal[] = [
  "bad-request",
  "unknown-pool",
  "not-member",
  "bad-signature",
  "consent-invalid",
  "no-rows",
  "full",
  "rate-limited",
  "unavailable",
];

export type PoolRequest =
  | { v: 1; type: "join"; poolId: string; contributor: Address; consentId: string; signature: Hex }
  | { v: 1; type: "leave"; poolId: string; contributor: Address }
  | { v: 1; type: "contribute"; poolId: string; version: Hex }
  | { v: 1; type: "announcements" };

export type ContributionCell = string | number | null;

/** A member's anonymized rows of the pool's kind. */
export interface Contribution {
  columns: string[];
  rows: ContributionCell[][];
  /** Rows released; equals `rows.length`. */
  count: number;
  /** The member's privacy report of these rows. */
  report: { k: number; suppressed: number; dropped: string[]; generalised: Record<string, string> };
}

export type PoolResponse =
  | { v: 1; ok: true }
  | { v: 1; error: { code: PoolRefusal; message: string } }
  | { v: 1; contribution: Contribution }
  | { v: 1; announcements: PoolAnnouncement[] };

export function encodePoolRequest(request: PoolRequest): Uint8Array {
  const bytes = new TextEncoder().encode(JSON.stringify(checkRequest(request)));
  if (bytes.byteLength > MAX_POOL_REQUEST_BYTES) {
    throw new RangeError("Cannot encode pool request: too large");
  }
  return bytes;
}

/** Decodes and checks a request; throws a {@link PoolProtocolError}. */
export function decodePoolRequest(bytes: Uint8Array): PoolRequest {
  return checkRequest(parseJson(bytes, MAX_POOL_REQUEST_BYTES, "pool request"));
}

function checkRequest(value: unknown): PoolRequest {
  if (!isObject(value) || value.v !== POOL_VERSION) fail("Invalid pool request: v must be 1");
  switch (value.type) {
    case "join": {
      const r = exactKeys(
        value,
        ["v", "type", "poolId", "contributor", "consentId", "signature"],
        "join request",
      );
      return {
        v: 1,
        type: "join",
        poolId: uint(r.poolId, "poolId", { positive: true }),
        contributor: address(r.contributor, "contributor"),
        consentId: uint(r.consentId, "consentId", { positive: true }),
        signature: signature(r.signature, "signature"),
      };
    }
    case "leave": {
      const r = exactKeys(value, ["v", "type", "poolId", "contributor"], "leave request");
      return {
        v: 1,
        type: "leave",
        poolId: uint(r.poolId, "poolId", { positive: true }),
        contributor: address(r.contributor, "contributor"),
      };
    }
    case "contribute": {
      const r = exactKeys(value, ["v", "type", "poolId", "version"], "contribute request");
      return {
        v: 1,
        type: "contribute",
        poolId: uint(r.poolId, "poolId", { positive: true }),
        version: hex(r.version, 16, "version"),
      };
    }
    case "announcements":
      exactKeys(value, ["v", "type"], "announcements request");
      return { v: 1, type: "announcements" };
    default:
      fail("Invalid pool request: type must be join, leave, contribute or announcements");
  }
}

export function encodePoolResponse(response: PoolResponse): Uint8Array {
  const bytes = new TextEncoder().encode(JSON.stringify(checkResponse(response, { maxClockSkew: Infinity })));
  if (bytes.byteLength > MAX_POOL_RESPONSE_BYTES) {
    throw new RangeError(
      `Cannot encode pool response: ${bytes.byteLength} bytes, over ${MAX_POOL_RESPONSE_BYTES}`,
    );
  }
  return bytes;
}

/** Decodes and checks a response (announcements validated, not verified); throws a {@link PoolProtocolError}. */
export function decodePoolResponse(bytes: Uint8Array, options: PoolAnnouncementOptions = {}): PoolResponse {
  return checkResponse(parseJson(bytes, MAX_POOL_RESPONSE_BYTES, "pool response"), options);
}

function checkResponse(value: unknown, options: PoolAnnouncementOptions): PoolResponse {
  if (!isObject(value) || value.v !== POOL_VERSION) fail("Invalid pool response: v must be 1");
  if ("ok" in value) {
    exactKeys(value, ["v", "ok"], "pool response");
    if (value.ok !== true) fail("Invalid pool response: ok must be true");
    return { v: 1, ok: true };
  }
  if ("error" in value) {
    const e = exactKeys(
      exactKeys(value, ["v", "error"], "pool response").error,
      ["code", "message"],
      "error",
    );
    if (!(POOL_REFUSALS as readonly unknown[]).includes(e.code)) {
      fail("Invalid pool response: unknown error code");
    }
    return {
      v: 1,
      error: { code: e.code as PoolRefusal, message: text(e.message, "error.message", 0, 500, false) },
    };
  }
  if ("contribution" in value) {
    exactKeys(value, ["v", "contribution"], "pool response");
    return { v: 1, contribution: checkContribution(value.contribution) };
  }
  if ("announcements" in value) {
    exactKeys(value, ["v", "announcements"], "pool response");
    const list = value.announcements;
    if (!Array.isArray(list) || list.length > MAX_POOL_ANNOUNCEMENTS) {
      fail(`Invalid pool response: announcements must be an array of at most ${MAX_POOL_ANNOUNCEMENTS}`);
    }
    return { v: 1, announcements: list.map((a) => validatePoolAnnouncement(a, options)) };
  }
  fail("Invalid pool response: expected ok, error, contribution or announcements");
}

/** Checks a contribution's shape: distinct column names, one cell per column, cells capped, count = rows. */
export function checkContribution(value: unknown): Contribution {
  const c = exactKeys(value, ["columns", "rows", "count", "report"], "contribution");
  if (!Array.isArray(c.columns) || c.columns.length === 0 || c.columns.length > MAX_CONTRIBUTION_COLUMNS) {
    fail(`Invalid contribution: columns must be 1 to ${MAX_CONTRIBUTION_COLUMNS} names`);
  }
  const columns = c.columns.map((name, i) => text(name, `columns[${i}]`, 1, 128));
  if (new Set(columns).size !== columns.length) fail("Invalid contribution: a column name repeats");
  if (!Array.isArray(c.rows) || c.rows.length > MAX_CONTRIBUTION_ROWS) {
    fail("Invalid contribution: rows must be an array");
  }
  const rows = c.rows.map((row, r) => {
    if (!Array.isArray(row) || row.length !== columns.length) {
      fail(`Invalid contribution: rows[${r}] must have ${columns.length} cells`);
    }
    return row.map((cell): ContributionCell => {
      if (cell === null) return null;
      if (typeof cell === "number" && Number.isFinite(cell)) return cell;
      if (typeof cell === "string" && cell.length <= MAX_CONTRIBUTION_CELL_LENGTH) return cell;
      fail(`Invalid contribution: rows[${r}] has a cell that is not a string, number or null`);
    });
  });
  const count = integer(c.count, "count", 0, MAX_CONTRIBUTION_ROWS);
  if (count !== rows.length) fail("Invalid contribution: count is not the number of rows");
  const r = exactKeys(c.report, ["k", "suppressed", "dropped", "generalised"], "contribution report");
  const dropped = Array.isArray(r.dropped) && r.dropped.length <= MAX_CONTRIBUTION_COLUMNS
    ? r.dropped.map((d, i) => text(d, `report.dropped[${i}]`, 1, 128))
    : fail("Invalid contribution: report.dropped must be a list of field names");
  if (!isObject(r.generalised) || Object.keys(r.generalised).length > MAX_CONTRIBUTION_COLUMNS) {
    fail("Invalid contribution: report.generalised must map fields to levels");
  }
  const generalised: Record<string, string> = {};
  for (const [field, level] of Object.entries(r.generalised)) {
    generalised[text(field, "report.generalised field", 1, 128)] = text(
      level,
      `report.generalised.${field}`,
      1,
      64,
    );
  }
  return {
    columns,
    rows,
    count,
    report: {
      k: integer(r.k, "report.k", MIN_POOL_K, MAX_POOL_K),
      suppressed: integer(r.suppressed, "report.suppressed", 0, Number.MAX_SAFE_INTEGER),
      dropped,
      generalised,
    },
  };
}
