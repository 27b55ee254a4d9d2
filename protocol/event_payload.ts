/**
 * The body of `POST /api/event` as Plausible's trackers and its Events API
 * send it, checked field by field the way Plausible's ingestion does: short
 * and long names (`n`/`name`, `u`/`url`, `d`/`domain`, `r`/`referrer`,
 * `p`/`props`/`m`/`meta`, `h`/`hashMode`, `i`/`interactive`, `$`/`revenue`),
 * engagement events (`n: "engagement"` with `sd` scroll depth and `e` engaged
 * ms), the tracker version `v`, and Kosmos's consent flag `c`/`consent`.
 * Unknown fields are ignored; bad props and bad revenue are dropped, not
 * refused; only what makes the event meaningless throws.
 *
 * ```ts
 * const payload = parseEventPayload({ n: "Purchase", u: "https://shop.example/buy", d: "shop.example",
 *   p: { plan: "pro" }, $: { amount: 15.99, currency: "EUR" } });
 * payload.revenue; // { amount: "15.99", currency: "EUR" }
 * ```
 */
import {
  MAX_EVENT_NAME_LENGTH,
  MAX_PROP_KEY_LENGTH,
  MAX_PROP_VALUE_LENGTH,
  MAX_PROPS,
  MAX_URL_LENGTH,
} from "./analytics.ts";

/** A `POST /api/event` payload after validation. */
export interface EventPayload {
  /** `n`: "pageview", "engagement" or a custom event name. */
  name: string;
  /** `u`: the page URL. */
  url: string;
  /** `d`: the site's registered domain, lowercased (the first one of a comma-separated list). */
  domain: string;
  /** Every domain of `d` when it listed several (Plausible's roll-up sites). */
  domains?: string[];
  /** `r`: the referrer URL, or null. */
  referrer: string | null;
  /** `p` (or `m`): custom properties, values as strings, at most {@link MAX_PROPS}. */
  props?: Record<string, string>;
  /** `h`: hash-based routing; the URL fragment is part of the page path. */
  hash: boolean;
  /** `$`: revenue, the amount as a decimal string with at most 2 decimals. */
  revenue?: { amount: string; currency: string };
  /** `i`: false when the event does not count toward bounces. @default true */
  interactive?: boolean;
  /** Engagement events: `sd`, 0..100. */
  scrollDepth?: number;
  /** Engagement events: `e`, ms engaged since the previous engagement event. */
  engagedMs?: number;
  /** `c`: the visitor agreed (`kosmos.consent(true)`). */
  consented?: boolean;
}

/** The event name Plausible's tracker gives engagement events; it is neither a pageview nor a goal. */
export const ENGAGEMENT_EVENT = "engagement";
/** Engagement times at or above this are an old tracker's bug and are ignored, as Plausible does. */
export const MAX_ENGAGED_MS = 30 * 24 * 3600 * 1000;
/** Most domains one event may name (`d: "a.example,b.example"`). */
export const MAX_EVENT_DOMAINS = 10;
/** Largest revenue amount taken, in currency units. */
export const MAX_REVENUE_AMOUNT = 1_000_000_000_000n;

const DOMAIN = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/;
const BLOCKED_SCHEMES = new Set(["data:", "javascript:", "blob:", "vbscript:"]);
let currencies: Set<string> | undefined;

/** Whether `code` is an ISO 4217 currency code this runtime knows (`EUR`, `USD`, …). */
export function isCurrency(code: unknown): code is string {
  if (typeof code !== "string" || !/^[A-Z]{3}$/.test(code)) return false;
  currencies ??= new Set(Intl.supportedValuesOf("currency"));
  return currencies.has(code);
}

/**
 * Checks a parsed `POST /api/event` body. Throws a `TypeError` naming the
 * first field that makes the event unusable (name, URL, domain, an engagement
 * event without `sd` or `e`, a property over its byte limit).
 */
export function parseEventPayload(value: unknown): EventPayload {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError('Expected a JSON object like { "n": "pageview", "u": "https://…", "d": "…" }');
  }
  const body = value as Record<string, unknown>;
  const pick = (short: string, long: string) => body[short] ?? body[long];
  let name = pick("n", "name");
  if (Number.isSafeInteger(name)) name = String(name);
  if (typeof name !== "string" || name.trim() === "" || name.length > MAX_EVENT_NAME_LENGTH) {
    throw new TypeError(`Field "n" must be an event name of 1 to ${MAX_EVENT_NAME_LENGTH} characters`);
  }
  const url = checkUrl(pick("u", "url"));
  const domains = checkDomains(pick("d", "domain"), url);
  const rawReferrer = pick("r", "referrer");
  const referrer = typeof rawReferrer === "string" && rawReferrer !== ""
    ? rawReferrer.slice(0, MAX_URL_LENGTH)
    : null;
  const hashMode = pick("h", "hashMode");
  const payload: EventPayload = {
    name: name.trim(),
    url,
    domain: domains[0],
    referrer,
    hash: hashMode === 1 || hashMode === true,
  };
  if (domains.length > 1) payload.domains = domains;
  const props = checkProps(body.m ?? body.meta ?? body.p ?? body.props);
  if (props) payload.props = props;
  const revenue = checkRevenue(pick("$", "revenue"));
  if (revenue) payload.revenue = revenue;
  const interactive = pick("i", "interactive");
  if (interactive === false) payload.interactive = false;
  const consent = pick("c", "consent");
  if (consent === true || consent === 1) payload.consented = true;
  if (payload.name === ENGAGEMENT_EVENT) {
    const scrollDepth = toInteger(body.sd);
    const engagedMs = toInteger(body.e);
    const depthOk = scrollDepth !== undefined && scrollDepth >= 0;
    const timeOk = engagedMs !== undefined && engagedMs >= 0 && engagedMs < MAX_ENGAGED_MS;
    if (!depthOk && !timeOk) {
      throw new TypeError(
        "An engagement event requires a valid integer value for at least one of 'sd' or 'e' fields",
      );
    }
    if (depthOk) payload.scrollDepth = Math.min(scrollDepth, 100);
    if (timeOk) payload.engagedMs = engagedMs;
  }
  return payload;
}

function checkUrl(value: unknown): string {
  if (typeof value !== "string" || value === "") throw new TypeError('Field "u" must be the page URL');
  if (new TextEncoder().encode(value).byteLength > MAX_URL_LENGTH) {
    throw new TypeError(`Field "u" must be a URL of at most ${MAX_URL_LENGTH} bytes`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError('Field "u" is not a valid URL');
  }
  if (BLOCKED_SCHEMES.has(url.protocol)) throw new TypeError(`Field "u" must not be a ${url.protocol} URL`);
  return value;
}

function checkDomains(value: unknown, url: string): string[] {
  let list: string[];
  if (value === undefined || value === null) {
    const host = new URL(url).hostname.toLowerCase().replace(/^www\./, "");
    list = [host];
  } else if (typeof value === "string" && value.length <= MAX_EVENT_DOMAINS * 254) {
    list = value.split(",").map((d) => d.trim().toLowerCase()).filter((d) => d !== "");
  } else {
    list = [];
  }
  if (list.length === 0 || list.length > MAX_EVENT_DOMAINS || !list.every((d) => DOMAIN.test(d))) {
    throw new TypeError('Field "d" must be a domain name such as "example.com"');
  }
  return [...new Set(list)];
}

const utf8 = new TextEncoder();

/** Plausible's rules: a JSON string is decoded; lists, maps, null and blank values are dropped; 30 kept. */
function checkProps(value: unknown): Record<string, string> | undefined {
  if (typeof value === "string") {
    if (value.length > MAX_PROPS * (MAX_PROP_KEY_LENGTH + MAX_PROP_VALUE_LENGTH)) return undefined;
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const props: Record<string, string> = {};
  let count = 0;
  for (const [key, raw] of Object.entries(value as Record<string, unknown>)) {
    if (count >= MAX_PROPS) break;
    if (typeof raw !== "string" && typeof raw !== "number" && typeof raw !== "boolean") continue;
    const text = String(raw);
    if (key.trim() === "" || text.trim() === "") continue;
    if (
      utf8.encode(key).byteLength > MAX_PROP_KEY_LENGTH ||
      utf8.encode(text).byteLength > MAX_PROP_VALUE_LENGTH
    ) {
      throw new TypeError(
        `Property keys must be at most ${MAX_PROP_KEY_LENGTH} bytes and values ${MAX_PROP_VALUE_LENGTH} bytes`,
      );
    }
    if (key === "__proto__") continue;
    props[key] = text;
    count++;
  }
  return count > 0 ? props : undefined;
}

/** `{ amount, currency }` (or its JSON): a known currency and a decimal amount; anything else is ignored. */
function checkRevenue(value: unknown): { amount: string; currency: string } | undefined {
  if (typeof value === "string" && value.length <= 200) {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const { amount, currency } = value as Record<string, unknown>;
  const upper = typeof currency === "string" ? currency.toUpperCase() : currency;
  if (!isCurrency(upper)) return undefined;
  const decimal = toDecimal(amount);
  return decimal === undefined ? undefined : { amount: decimal, currency: upper };
}

/**
 * A decimal string of `amount` with at most 2 decimals, as given when it has
 * at most 2, else rounded half away from zero; undefined when it is not a
 * finite number within ±{@link MAX_REVENUE_AMOUNT}.
 */
export function toDecimal(amount: unknown): string | undefined {
  let text: string;
  if (typeof amount === "number") {
    if (!Number.isFinite(amount)) return undefined;
    text = Math.abs(amount) < 1e-6 ? "0" : String(amount);
    if (/e/i.test(text)) text = amount.toFixed(6);
  } else if (typeof amount === "string") {
    text = amount.trim();
  } else {
    return undefined;
  }
  const match = /^(-?)(\d{1,20})(?:\.(\d{1,20}))?$/.exec(text);
  if (!match) return undefined;
  const [, sign, whole, fraction = ""] = match;
  if (fraction.length <= 2) {
    if (BigInt(whole) > MAX_REVENUE_AMOUNT) return undefined;
    return `${sign}${BigInt(whole)}${fraction ? `.${fraction}` : ""}`;
  }
  let cents = BigInt(whole) * 100n + BigInt(fraction.slice(0, 2));
  if (Number(fraction[2]) >= 5) cents += 1n;
  if (cents > MAX_REVENUE_AMOUNT * 100n) return undefined;
  const units = cents / 100n;
  const rest = (cents % 100n).toString().padStart(2, "0");
  return `${cents === 0n ? "" : sign}${units}.${rest}`;
}

function toInteger(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value === "string" && /^-?\d{1,15}$/.test(value)) return Number(value);
  return undefined;
}
