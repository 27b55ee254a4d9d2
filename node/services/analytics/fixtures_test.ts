/**
 * A small hand-written event log shared by the analytics tests, with the
 * visits it contains spelled out so expected numbers can be worked out by
 * hand (see `query_test.ts`). "Now" is 2024-03-15T12:00:00Z.
 *
 * | visit | visitor | day   | events (UTC)                                              | source                | device / browser / os   |
 * |-------|---------|-------|-----------------------------------------------------------|-----------------------|-------------------------|
 * | A     | a       | 03-15 | 10:00 pv /, 10:05 pv /pricing, 10:06 Signup /pricing, 10:10 pv /docs | Google, utm newsletter/email/spring/hero/shoes | desktop Chrome Linux |
 * | B     | b       | 03-15 | 11:00 pv /pricing                                         | news.ycombinator.com  | mobile Safari iOS       |
 * | C1    | c       | 03-15 | 09:00:00 pv /, 09:00:30 pv /blog/hello                    | direct                | desktop Firefox Windows |
 * | C2    | c       | 03-15 | 10:00 pv /blog/hello (59.5 min after C1: a new visit)     | Google                | desktop Firefox Windows |
 * | D     | d       | 03-14 | 23:50 pv /, 23:55 "Outbound Link: Click" /                | Google, utm google/cpc/spring | tablet Chrome Android |
 * | E     | a       | 02-20 | 08:00 pv /, 08:20 pv /pricing                             | direct                | desktop Chrome Linux    |
 *
 * Plus one pageview for another site, `other.org`, that no query of
 * `example.com` may count.
 */
import fc from "fast-check";
import type { AnalyticsEvent } from "../../../protocol/analytics.ts";
import type { ResolvedQuery } from "./query_ast.ts";

export const NOW = Date.parse("2024-03-15T12:00:00Z");
export const SITE = "example.com";

const google = { referrer: "https://www.google.com/", referrerSource: "Google" };
const direct = { referrer: null, referrerSource: null };

interface Who {
  visitorId: string;
  device: AnalyticsEvent["device"];
  browser: string;
  os: string;
}
const a: Who = { visitorId: "aa01", device: "desktop", browser: "Chrome", os: "Linux" };
const b: Who = { visitorId: "bb02", device: "mobile", browser: "Safari", os: "iOS" };
const c: Who = { visitorId: "cc03", device: "desktop", browser: "Firefox", os: "Windows" };
const d: Who = { visitorId: "dd04", device: "tablet", browser: "Chrome", os: "Android" };

function event(
  at: string,
  name: string,
  pathname: string,
  who: Who,
  from: { referrer: string | null; referrerSource: string | null },
  utm: AnalyticsEvent["utm"] = {},
): AnalyticsEvent {
  return { ts: Date.parse(at), name, pathname, hostname: SITE, ...from, utm, ...who };
}

/**
 * A pageview on `SITE` (or `extra.hostname`) from a Linux Firefox desktop
 * with no referrer, for tests that build their own event logs.
 */
export function pageview(
  ts: number,
  visitorId: string,
  pathname = "/",
  extra: Partial<AnalyticsEvent> = {},
): AnalyticsEvent {
  return {
    ts,
    name: "pageview",
    pathname,
    hostname: SITE,
    referrer: null,
    referrerSource: null,
    utm: {},
    device: "desktop",
    browser: "Firefox",
    os: "Linux",
    visitorId,
    ...extra,
  };
}

const springMail = {
  source: "newsletter",
  medium: "email",
  campaign: "spring",
  content: "hero",
  term: "shoes",
};
const springAds = { source: "google", medium: "cpc", campaign: "spring" };

/** Delivered first: the start of visit A, then B, C1, D and E, out of time order. */
export const BATCH_1: AnalyticsEvent[] = [
  event("2024-03-15T11:00:00Z", "pageview", "/pricing", b, {
    referrer: "https://news.ycombinator.com/item?id=1",
    referrerSource: "news.ycombinator.com",
  }),
  event("2024-03-15T10:00:00Z", "pageview", "/", a, google, springMail),
  event("2024-03-15T10:05:00Z", "pageview", "/pricing", a, google, springMail),
  event("2024-03-15T09:00:00Z", "pageview", "/", c, direct),
  event("2024-03-15T09:00:30Z", "pageview", "/blog/hello", c, direct),
  event("2024-03-14T23:50:00Z", "pageview", "/", d, google, springAds),
  event("2024-03-14T23:55:00Z", "Outbound Link: Click", "/", d, google, springAds),
  event("2024-02-20T08:00:00Z", "pageview", "/", a, direct),
  event("2024-02-20T08:20:00Z", "pageview", "/pricing", a, direct),
];

/** One pageview for another site, with the same visitor id as visit B. */
export const OTHER_SITE = "other.org";
export const OTHER_EVENTS: AnalyticsEvent[] = [
  { ...event("2024-03-15T11:00:00Z", "pageview", "/", b, direct), hostname: OTHER_SITE },
];

/** Delivered second: the rest of visit A (joined across batches) and C2. */
export const BATCH_2: AnalyticsEvent[] = [
  { ...event("2024-03-15T10:06:00Z", "Signup", "/pricing", a, google, springMail), props: { plan: "pro" } },
  event("2024-03-15T10:10:00Z", "pageview", "/docs", a, google, springMail),
  event("2024-03-15T10:00:00Z", "pageview", "/blog/hello", c, google),
];

/**
 * Random event logs for property tests, delivered in 1–4 batches out of time
 * order: six visitors over three days, events clustered around a few times a
 * day so that visits have several events, split after 30 minutes, continue
 * across batches and get late events before their start, with per-event
 * sources, UTM tags, devices and names (a visit keeps its first event's).
 * With `awayFromMidnight`, no event is within an hour of UTC midnight, so no
 * visit spans two days.
 */
export function arbitraryEventBatches(
  options: { awayFromMidnight?: boolean } = {},
): fc.Arbitrary<AnalyticsEvent[][]> {
  const base = Date.parse("2024-03-13T00:00:00Z");
  const visitors = ["v1", "v2", "v3", "v4", "v5", "v6"].map((visitorId, i) => ({
    visitorId,
    device: (["desktop", "mobile", "tablet", "other"] as const)[i % 4],
    browser: ["Chrome", "Firefox", "Safari"][i % 3],
    os: ["Linux", "Windows", "iOS", "Android"][i % 4],
  }));
  const from: [string | null, string | null][] = [
    [null, null],
    ["https://www.google.com/", "Google"],
    ["https://news.ycombinator.com/item?id=1", "news.ycombinator.com"],
  ];
  const utms: AnalyticsEvent["utm"][] = [{}, {}, {
    source: "newsletter",
    medium: "email",
    campaign: "spring",
  }, {
    source: "google",
    medium: "cpc",
  }];
  const anchors = options.awayFromMidnight ? [90, 300, 600, 610, 900, 1290] : [0, 300, 600, 610, 1410, 1435];
  const event = fc.record({
    visitor: fc.nat(visitors.length - 1),
    day: fc.nat(2),
    anchor: fc.nat(anchors.length - 1),
    offset: fc.integer({ min: -25 * 60, max: 45 * 60 }),
    name: fc.constantFrom("pageview", "pageview", "pageview", "Signup", "Outbound Link: Click"),
    path: fc.constantFrom("/", "/a", "/b", "/blog/x"),
    from: fc.nat(from.length - 1),
    utm: fc.nat(utms.length - 1),
  }).map((r): AnalyticsEvent => {
    // Away from midnight: anchors 01:30–21:30, ±25/45 minutes, stay within 01:05–22:15.
    return {
      ts: base + r.day * 86_400_000 + anchors[r.anchor] * 60_000 + r.offset * 1000,
      name: r.name,
      pathname: r.path,
      hostname: SITE,
      referrer: from[r.from][0],
      referrerSource: from[r.from][1],
      utm: utms[r.utm],
      ...visitors[r.visitor],
      device: r.from === 2 ? "mobile" : visitors[r.visitor].device,
    };
  });
  return fc.tuple(fc.array(event, { minLength: 1, maxLength: 80 }), fc.array(fc.nat(80), { maxLength: 3 }))
    .map(([events, cuts]) => {
      const at = [...new Set(cuts.map((c) => c % events.length))].sort((a, b) => a - b);
      return [0, ...at].map((start, i) => events.slice(start, at[i] ?? events.length)).filter((b) =>
        b.length > 0
      );
    });
}

/** A resolved query of {@link SITE} over `[from, to)` in UTC: visitors, no dimensions or filters, unless overridden. */
export function resolvedQuery(
  from: number,
  to: number,
  overrides: Partial<ResolvedQuery> = {},
): ResolvedQuery {
  return {
    site: SITE,
    from,
    to,
    timezone: "UTC",
    metrics: ["visitors"],
    dimensions: [],
    filters: ["and", []],
    orderBy: [["visitors", "desc"]],
    include: { imports: false, timeLabels: false, totalRows: false },
    pagination: { limit: 100, offset: 0 },
    ...overrides,
  };
}
