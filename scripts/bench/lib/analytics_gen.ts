/**
 * Deterministic website-analytics events for `deno task bench query`: visits
 * of 1–6 pageviews spread evenly over 30 days, 200 pages (a few much more
 * viewed), a handful of sources, devices and browsers, 40 cities in 12
 * countries, custom `Signup` events (10 % of later events) with a `plan`
 * prop and, for paid plans, revenue in EUR, and an engagement event (scroll
 * depth, engaged time) after 20 % of pageviews, which do not count in `total`.
 *
 * ```ts
 * for (const batch of generateEvents(1_000_000, { site: "bench.example", start, batch: 10_000 })) {
 *   analytics.recordEvents("bench.example", batch);
 * }
 * ```
 */
import type { AnalyticsEvent } from "../../../protocol/analytics.ts";

const DAY = 86_400_000;

export const PAGES = Array.from({ length: 200 }, (_, i) => (i === 0 ? "/" : `/docs/page-${i}`));
const SOURCES: [string | null, string | null][] = [
  [null, null],
  ["https://www.google.com/", "Google"],
  ["https://news.ycombinator.com/", "news.ycombinator.com"],
  ["https://duckduckgo.com/", "DuckDuckGo"],
  ["https://github.com/", "GitHub"],
];
const DEVICES: AnalyticsEvent["device"][] = ["desktop", "desktop", "mobile", "tablet"];
const BROWSERS = ["Chrome", "Firefox", "Safari", "Edge"];
const OSES = ["Windows", "macOS", "Linux", "iOS", "Android"];
const COUNTRIES: [string, string, string][] = [
  ["DE", "DE-BE", "Berlin"],
  ["US", "US-NY", "New York"],
  ["FR", "FR-IDF", "Île-de-France"],
  ["GB", "GB-ENG", "England"],
  ["NL", "NL-NH", "North Holland"],
  ["ES", "ES-MD", "Madrid"],
  ["IT", "IT-25", "Lombardy"],
  ["JP", "JP-13", "Tokyo"],
  ["BR", "BR-SP", "São Paulo"],
  ["IN", "IN-MH", "Maharashtra"],
  ["CA", "CA-ON", "Ontario"],
  ["AU", "AU-NSW", "New South Wales"],
];
/** 40 cities: GeoNames-like ids and names, each in one of {@link COUNTRIES}. */
export const CITIES = Array.from({ length: 40 }, (_, i) => {
  const [country, region, regionName] = COUNTRIES[i % COUNTRIES.length];
  return { country, region, regionName, city: String(2_000_000 + i * 7919), cityName: `City ${i}` };
});
const PLANS = ["free", "free", "free", "pro", "enterprise"];

/** A small deterministic PRNG (mulberry32), so runs are comparable. */
export function random(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GenerateOptions {
  site: string;
  /** ms of the first visit; visits span 30 days from it. */
  start: number;
  /** Events per yielded batch. */
  batch: number;
}

/** Yields batches of events in time order: `total` pageviews and custom events, plus engagement events. */
export function* generateEvents(total: number, options: GenerateOptions): Generator<AnalyticsEvent[]> {
  const rand = random(42);
  const pick = <T>(list: readonly T[]) => list[Math.floor(rand() * list.length)];
  const meanVisit = 3.5;
  const step = (30 * DAY - 3_600_000) / (total / meanVisit);
  let batch: AnalyticsEvent[] = [];
  let made = 0;
  let t = options.start;
  let visitor = 0;
  while (made < total) {
    const [referrer, referrerSource] = pick(SOURCES);
    const place = CITIES[Math.floor(CITIES.length * rand() ** 2)];
    const who = {
      visitorId: `v${visitor++ % 2_000_000}`,
      device: pick(DEVICES),
      browser: pick(BROWSERS),
      os: pick(OSES),
      ...place,
    };
    const utm = rand() < 0.1 ? { source: "newsletter", medium: "email", campaign: "launch" } : {};
    const views = 1 + Math.floor(rand() * 6);
    for (let i = 0; i < views && made < total; i++, made++) {
      const custom = i > 0 && rand() < 0.1;
      const ts = Math.floor(t + i * 20_000);
      const pathname = PAGES[Math.floor(PAGES.length * rand() ** 3)];
      const base = { ts, pathname, hostname: options.site, referrer, referrerSource, utm, ...who };
      if (custom) {
        const plan = pick(PLANS);
        batch.push({
          ...base,
          name: "Signup",
          props: { plan },
          ...(plan === "free"
            ? {}
            : { revenue: { amount: plan === "pro" ? "19.00" : "99.00", currency: "EUR" } }),
        });
      } else {
        batch.push({ ...base, name: "pageview" });
        if (rand() < 0.2) {
          batch.push({
            ...base,
            ts: ts + 10_000,
            name: "engagement",
            scrollDepth: Math.floor(rand() * 101),
            engagedMs: Math.floor(rand() * 60_000),
          });
        }
      }
      if (batch.length >= options.batch) {
        yield batch;
        batch = [];
      }
    }
    t += step;
  }
  if (batch.length > 0) yield batch;
}
