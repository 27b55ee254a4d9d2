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
import type { AnalyticsEvent } from "../../../protocol/analytics.ts";

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
