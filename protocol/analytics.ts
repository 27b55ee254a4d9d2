/**
 * Website analytics on the wire: the Plausible-compatible payload a browser
 * posts to `POST /api/event` on any node, the anonymized {@link AnalyticsEvent}
 * a proxy node makes of it, and the sealed batch in which it travels to the
 * site owner's node over {@link INGEST_PROTOCOL}. Everything identifying is
 * gone by then: the visitor id is a keyed hash that rotates daily, and the IP
 * is never part of an event.
 *
 * ```ts
 * const payload = parseEventPayload(JSON.parse(body)); // event_payload.ts; throws a TypeError naming the bad field
 * const event: AnalyticsEvent = {
 *   ts: Date.now(), name: "pageview", pathname: "/pricing", hostname: "example.com",
 *   referrer: "https://news.ycombinator.com/", referrerSource: "news.ycombinator.com",
 *   utm: {}, device: "desktop", browser: "Firefox", os: "Linux", visitorId: "9f2c…",
 * };
 * const bytes = encodeSealedBatch({ v: 1, id, site: "example.com", epk, iv, ct });
 * ```
 */
import * as dagCbor from "@ipld/dag-cbor";

/** One page view or custom event, anonymized on arrival at the proxy node. */
export interface AnalyticsEvent {
  ts: number; // ms since epoch (server receive time)
  name: string; // "pageview" or custom event name
  pathname: string; // URL path without query
  hostname: string;
  referrer: string | null;
  referrerSource: string | null; // e.g. "Google", "news.ycombinator.com", null = direct
  utm: { source?: string; medium?: string; campaign?: string; content?: string; term?: string };
  device: "desktop" | "mobile" | "tablet" | "other";
  browser: string;
  os: string;
  visitorId: string; // keyed hash (hex), never the IP
  props?: Record<string, string>;
  /** Plausible's `$`/`revenue`: the amount as given (decimal, at most 2 decimals) and its ISO 4217 currency. */
  revenue?: { amount: string; currency: string };
  /** ISO 3166-1 alpha-2, looked up from the client IP at the receiving node. */
  country?: string;
  /** ISO 3166-2 subdivision, e.g. "DE-BE". */
  region?: string;
  /** GeoNames id of the city, as a decimal string. */
  city?: string;
  cityName?: string;
  regionName?: string;
  /** Engagement events: how far down the page the visitor scrolled, 0..100. */
  scrollDepth?: number;
  /** Engagement events: ms the page was visible and engaged since the last engagement event. */
  engagedMs?: number;
  /** `i`/`interactive`: false for events that do not count toward bounces. @default true */
  interactive?: boolean;
  /** The visitor called `kosmos.consent(true)`. */
  consented?: boolean;
}

/** Largest `POST /api/event` body, in bytes; larger bodies get 413. */
export const MAX_EVENT_BODY_BYTES = 64 * 1024;
export const MAX_EVENT_NAME_LENGTH = 120;
export const MAX_URL_LENGTH = 2000;
export const MAX_DOMAIN_LENGTH = 253;
export const MAX_PROPS = 30;
export const MAX_PROP_KEY_LENGTH = 300;
export const MAX_PROP_VALUE_LENGTH = 2000;
/** Most events in one sealed batch. */
export const MAX_BATCH_EVENTS = 1000;
/** Largest encoded sealed batch, in bytes. */
export const MAX_SEALED_BATCH_BYTES = 4 * 1024 * 1024;

/** Delivery of sealed event batches from a proxy node to the site owner's node. */
export const INGEST_PROTOCOL = "/kosmos/ingest/1.0.0";

/** Response header of `POST /api/event` saying why an accepted (202) or refused event was not kept. */
export const DROP_HEADER = "X-Kosmos-Dropped";

/** Why `POST /api/event` did not keep an event. */
export type EventDropReason =
  | "bot"
  | "invalid"
  | "rate_limited"
  | "unknown_site"
  | "opted_out"
  /** The site takes more events through this node than its limit: dropped with a 202, as Plausible throttles. */
  | "throttled";

/** Who sent an analytics event, as the HTTP layer saw the request. */
export interface EventClient {
  /** The socket's peer address ("" when unknown). */
  remoteAddress: string;
  /** `X-Forwarded-For`; the node trusts it only from its configured proxies. */
  forwardedFor?: string;
  userAgent: string;
  /** The request carried `DNT: 1` or `Sec-GPC: 1`. @default false */
  optOut?: boolean;
}

/** What became of one analytics event. */
export interface RecordEventResult {
  /** Why it was not kept; absent when it was. */
  dropped?: EventDropReason;
  /** With `rate_limited`: seconds before the client should send again. */
  retryAfter?: number;
}

/**
 * The metrics of a stats query (`POST /api/v2/query`, Plausible's Stats API
 * v2), in the order of the dashboard's top row and its CSV columns.
 */
export const STATS_METRICS = [
  "visitors",
  "visits",
  "pageviews",
  "views_per_visit",
  "bounce_rate",
  "visit_duration",
  "events",
] as const;
export type StatsMetric = typeof STATS_METRICS[number];

/** The named date ranges of a stats query, also the periods of the dashboard and its CSV export. */
export const STATS_DATE_RANGES = ["day", "7d", "30d", "month", "all"] as const;
export type StatsDateRange = typeof STATS_DATE_RANGES[number];

export type { EventPayload } from "./event_payload.ts";

const DOMAIN = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/;

/** Whether `domain` is a valid lowercase host name (`example.com`, `localhost`, `blog.example.org`). */
export function isSiteDomain(domain: unknown): domain is string {
  return typeof domain === "string" && DOMAIN.test(domain);
}

const DEVICES = new Set(["desktop", "mobile", "tablet", "other"]);
const UTM_KEYS = new Set(["source", "medium", "campaign", "content", "term"]);

function isShortString(value: unknown, max = MAX_URL_LENGTH): value is string {
  return typeof value === "string" && value.length <= max;
}

/** Checks an event that arrived from another node (decrypted); throws a `TypeError` when it is malformed. */
export function checkAnalyticsEvent(value: unknown): AnalyticsEvent {
  const e = value as Record<string, unknown>;
  const ok = typeof e === "object" && e !== null && !Array.isArray(e) &&
    Number.isSafeInteger(e.ts) && (e.ts as number) > 0 &&
    isShortString(e.name, MAX_EVENT_NAME_LENGTH) && isShortString(e.pathname) &&
    isShortString(e.hostname, MAX_DOMAIN_LENGTH) &&
    (e.referrer === null || isShortString(e.referrer)) &&
    (e.referrerSource === null || isShortString(e.referrerSource)) &&
    typeof e.utm === "object" && e.utm !== null && !Array.isArray(e.utm) &&
    Object.entries(e.utm).every(([k, v]) => UTM_KEYS.has(k) && isShortString(v)) &&
    DEVICES.has(e.device as string) && isShortString(e.browser, 64) && isShortString(e.os, 64) &&
    typeof e.visitorId === "string" && /^[0-9a-f]{16,64}$/.test(e.visitorId) &&
    (e.props === undefined || (typeof e.props === "object" && e.props !== null && !Array.isArray(e.props) &&
      Object.keys(e.props).length <= MAX_PROPS &&
      Object.entries(e.props).every(([k, v]) =>
        k.length <= MAX_PROP_KEY_LENGTH && isShortString(v, MAX_PROP_VALUE_LENGTH)
      ))) &&
    hasValidExtras(e);
  if (!ok) throw new TypeError("Malformed analytics event");
  return e as unknown as AnalyticsEvent;
}

const REVENUE_AMOUNT = /^-?\d{1,13}(\.\d{1,2})?$/;

/** The optional fields of an {@link AnalyticsEvent} (revenue, geo, engagement, consent), when present, are well formed. */
function hasValidExtras(e: Record<string, unknown>): boolean {
  const r = e.revenue as Record<string, unknown> | undefined;
  const text = (value: unknown, re: RegExp) =>
    value === undefined || (typeof value === "string" && re.test(value));
  const name = (value: unknown) => value === undefined || isShortString(value, 200);
  const count = (value: unknown, max: number) =>
    value === undefined ||
    (Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= max);
  const flag = (value: unknown) => value === undefined || typeof value === "boolean";
  return (r === undefined || (typeof r === "object" && r !== null && !Array.isArray(r) &&
    Object.keys(r).length === 2 && typeof r.amount === "string" && REVENUE_AMOUNT.test(r.amount) &&
    typeof r.currency === "string" && /^[A-Z]{3}$/.test(r.currency))) &&
    text(e.country, /^[A-Z]{2}$/) && text(e.region, /^[A-Z]{2}-[A-Z0-9]{1,3}$/) &&
    text(e.city, /^\d{1,10}$/) &&
    name(e.cityName) && name(e.regionName) &&
    count(e.scrollDepth, 100) && count(e.engagedMs, 30 * 24 * 3600 * 1000) &&
    flag(e.interactive) && flag(e.consented);
}

/**
 * A batch of events sealed to the site owner's X25519 key: ECDH with the
 * ephemeral key `epk`, HKDF-SHA256, AES-256-GCM with `id` and `site` as
 * associated data. Only the owner's node can read `ct`.
 *
 * Version 2 is signed by the proxy that sealed it: `proxy` names its peer id,
 * `from`/`to` the time window its events fall in, and `sig` is its node key's
 * signature over the batch's hash, site, window and proxy
 * (`protocol/ingest.ts`, `sealedBatchSigningBytes`). Owners refuse version 1.
 */
export interface SealedBatch {
  v: 1 | 2;
  /** Random batch id (hex); the owner acks it and ignores repeats. */
  id: string;
  /** The site's domain (public: sites are announced). */
  site: string;
  /** Ephemeral X25519 public key, 32 bytes. */
  epk: Uint8Array;
  /** AES-GCM nonce, 12 bytes. */
  iv: Uint8Array;
  /** Ciphertext with its 16-byte tag. */
  ct: Uint8Array;
  /** v2: the sealing proxy's peer id. */
  proxy?: string;
  /** v2: no event of the batch is older than this, ms since the epoch. */
  from?: number;
  /** v2: no event of the batch is newer than this, ms since the epoch. */
  to?: number;
  /** v2: the proxy's node key signature. */
  sig?: Uint8Array;
}

/** The owner's answer to one sealed batch: `ack` once stored durably, `reject` when it never will be. */
export type IngestReply = { ack: string } | { reject: string };

export function encodeSealedBatch(batch: SealedBatch): Uint8Array {
  return dagCbor.encode(batch);
}

/** Decodes and checks a sealed batch; throws a `TypeError`. */
export function decodeSealedBatch(bytes: Uint8Array): SealedBatch {
  if (bytes.byteLength > MAX_SEALED_BATCH_BYTES) throw new TypeError("Sealed batch is too large");
  let value: Record<string, unknown>;
  try {
    value = dagCbor.decode(bytes);
  } catch {
    throw new TypeError("Sealed batch is not DAG-CBOR");
  }
  const keys = typeof value === "object" && value !== null && value.v === 2
    ? ["v", "id", "site", "epk", "iv", "ct", "proxy", "from", "to", "sig"]
    : ["v", "id", "site", "epk", "iv", "ct"];
  if (
    typeof value !== "object" || value === null || Object.keys(value).length !== keys.length ||
    !keys.every((k) => k in value) || (value.v !== 1 && value.v !== 2) ||
    typeof value.id !== "string" || !/^[0-9a-f]{32}$/.test(value.id) || !isSiteDomain(value.site) ||
    !(value.epk instanceof Uint8Array) || value.epk.byteLength !== 32 ||
    !(value.iv instanceof Uint8Array) || value.iv.byteLength !== 12 ||
    !(value.ct instanceof Uint8Array) || value.ct.byteLength < 16 ||
    (value.v === 2 && (
      typeof value.proxy !== "string" || value.proxy.length < 1 || value.proxy.length > 128 ||
      !Number.isSafeInteger(value.from) || !Number.isSafeInteger(value.to) ||
      (value.from as number) < 0 || (value.from as number) > (value.to as number) ||
      !(value.sig instanceof Uint8Array) || value.sig.byteLength < 32 || value.sig.byteLength > 512
    ))
  ) {
    throw new TypeError("Sealed batch has bad fields");
  }
  return value as unknown as SealedBatch;
}

export function encodeIngestReply(reply: IngestReply): Uint8Array {
  return dagCbor.encode(reply);
}

/** Decodes an owner's reply; throws a `TypeError`. */
export function decodeIngestReply(bytes: Uint8Array): IngestReply {
  let value: Record<string, unknown>;
  try {
    value = dagCbor.decode(bytes);
  } catch {
    throw new TypeError("Ingest reply is not DAG-CBOR");
  }
  if (typeof value === "object" && value !== null && Object.keys(value).length === 1) {
    if (typeof value.ack === "string") return { ack: value.ack.slice(0, 64) };
    if (typeof value.reject === "string") return { reject: value.reject.slice(0, 200) };
  }
  throw new TypeError("Ingest reply has bad fields");
}
