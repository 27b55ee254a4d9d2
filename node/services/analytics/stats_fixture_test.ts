/**
 * The fixed fixture of the Stats API tests (`stats_queries_test.ts`,
 * `tests/stats_api_test.ts`): six visits of site `shop.example`, with the
 * fields Plausible's newer queries read (props, revenue, geo, hostnames,
 * engagement). "Now" is 2026-03-15T12:00:00Z (a Sunday).
 *
 * | visit | visitor | UTC              | events                                                                 | geo              | device / browser / os     | from |
 * |-------|---------|------------------|------------------------------------------------------------------------|------------------|---------------------------|------|
 * | P     | p       | 03-14 10:00–10:03 | pv / · pv /pricing · engagement /pricing (50 %, 30 s) · Signup /pricing {plan: pro} 20.00 EUR | Berlin, DE      | desktop Chrome Linux      | Google |
 * | Q     | q       | 03-14 15:00       | pv /blog/post-1 on blog.shop.example                                   | New York, US     | mobile Safari iOS         | direct |
 * | R     | r       | 03-14 18:00–18:06 | pv /blog/post-2 · engagement /blog/post-2 (90 %, 60 s) · pv /pricing · Signup /pricing {plan: free} 5 EUR | Berlin, DE | desktop Firefox Windows | Hacker News, utm_source=hn |
 * | S     | p       | 03-10 09:00       | pv /                                                                   | Berlin, DE       | desktop Chrome Linux      | direct |
 * | T     | t       | 01-20 12:00–12:10 | pv / · Purchase / 100 USD                                              | Paris, FR        | tablet Chrome Android     | Google |
 * | U     | u       | 03-15 11:58       | pv /                                                                   | Berlin, DE       | desktop Chrome Linux      | direct |
 *
 * Per visit: P 2 pageviews, 3 events, 180 s; Q a bounce (0 s); R 2 pageviews,
 * 3 events, 360 s; S a bounce; T 1 pageview, 2 events, 600 s, a bounce
 * (one pageview); U a bounce. Visitors are (visitor id, day) pairs, so p
 * counts once on 03-14 and once on 03-10.
 */
import type { AnalyticsEvent } from "../../../protocol/analytics.ts";
import type { GoalInput } from "./goals.ts";

export const NOW = Date.UTC(2026, 2, 15, 12, 0, 0);
export const SITE = "shop.example";

const berlin = { country: "DE", region: "DE-BE", city: "2950159", cityName: "Berlin", regionName: "Berlin" };
const newYork = {
  country: "US",
  region: "US-NY",
  city: "5128581",
  cityName: "New York",
  regionName: "New York",
};
const paris = {
  country: "FR",
  region: "FR-IDF",
  city: "2988507",
  cityName: "Paris",
  regionName: "Île-de-France",
};
const google = { referrer: "https://www.google.com/", referrerSource: "Google" };
const hn = { referrer: "https://news.ycombinator.com/item?id=1", referrerSource: "Hacker News" };
const direct = { referrer: null, referrerSource: null };

type Who = Pick<AnalyticsEvent, "visitorId" | "device" | "browser" | "os">;
const p: Who = { visitorId: "p", device: "desktop", browser: "Chrome", os: "Linux" };
const q: Who = { visitorId: "q", device: "mobile", browser: "Safari", os: "iOS" };
const r: Who = { visitorId: "r", device: "desktop", browser: "Firefox", os: "Windows" };
const t: Who = { visitorId: "t", device: "tablet", browser: "Chrome", os: "Android" };
const u: Who = { visitorId: "u", device: "desktop", browser: "Chrome", os: "Linux" };

function ev(
  at: string,
  name: string,
  pathname: string,
  who: Who,
  extra: Partial<AnalyticsEvent> & { referrer: string | null; referrerSource: string | null },
): AnalyticsEvent {
  return { ts: Date.parse(`2026-${at}Z`), name, pathname, hostname: SITE, utm: {}, ...who, ...extra };
}

export const EVENTS: AnalyticsEvent[] = [
  ev("03-14T10:00:00", "pageview", "/", p, { ...berlin, ...google }),
  ev("03-14T10:02:00", "pageview", "/pricing", p, { ...berlin, ...google }),
  ev("03-14T10:02:30", "engagement", "/pricing", p, {
    ...berlin,
    ...google,
    scrollDepth: 50,
    engagedMs: 30_000,
  }),
  ev("03-14T10:03:00", "Signup", "/pricing", p, {
    ...berlin,
    ...google,
    props: { plan: "pro" },
    revenue: { amount: "20.00", currency: "EUR" },
  }),
  ev("03-14T15:00:00", "pageview", "/blog/post-1", q, {
    ...newYork,
    ...direct,
    hostname: "blog.shop.example",
  }),
  ev("03-14T18:00:00", "pageview", "/blog/post-2", r, { ...berlin, ...hn, utm: { source: "hn" } }),
  ev("03-14T18:01:00", "engagement", "/blog/post-2", r, {
    ...berlin,
    ...hn,
    utm: { source: "hn" },
    scrollDepth: 90,
    engagedMs: 60_000,
  }),
  ev("03-14T18:05:00", "pageview", "/pricing", r, { ...berlin, ...hn, utm: { source: "hn" } }),
  ev("03-14T18:06:00", "Signup", "/pricing", r, {
    ...berlin,
    ...hn,
    utm: { source: "hn" },
    props: { plan: "free" },
    revenue: { amount: "5", currency: "EUR" },
  }),
  ev("03-10T09:00:00", "pageview", "/", p, { ...berlin, ...direct }),
  ev("01-20T12:00:00", "pageview", "/", t, { ...paris, ...google }),
  ev("01-20T12:10:00", "Purchase", "/", t, {
    ...paris,
    ...google,
    revenue: { amount: "100", currency: "USD" },
  }),
  ev("03-15T11:58:00", "pageview", "/", u, { ...berlin, ...direct }),
];

/** The site's goals, in the order they are added. */
export const GOALS: GoalInput[] = [
  { kind: "event", match: "Signup", currency: "EUR" },
  { kind: "pageview", match: "/blog/**" },
  { kind: "event", match: "Purchase", currency: "USD" },
];
