/**
 * Where a visit came from: the referrer's source name (search engines and
 * social networks by name, other sites by host name, the site itself and
 * direct visits as `null`) and the page URL's UTM parameters. A
 * `utm_source` (or `ref`/`source`) parameter names the source when present.
 *
 * ```ts
 * getReferrerSource("https://www.google.com/search?q=x", { siteHost: "example.com" }); // "Google"
 * getUtm(new URL("https://example.com/?utm_source=news&utm_medium=email")); // { source: "news", medium: "email" }
 * ```
 */
import type { AnalyticsEvent } from "../../../protocol/analytics.ts";

const KNOWN: [RegExp, string][] = [
  [/(^|\.)google\.[a-z.]+$/, "Google"],
  [/(^|\.)bing\.com$/, "Bing"],
  [/(^|\.)duckduckgo\.com$/, "DuckDuckGo"],
  [/(^|\.)yahoo\.[a-z.]+$/, "Yahoo!"],
  [/(^|\.)yandex\.[a-z.]+$/, "Yandex"],
  [/(^|\.)baidu\.com$/, "Baidu"],
  [/(^|\.)ecosia\.org$/, "Ecosia"],
  [/(^|\.)(twitter\.com|x\.com|t\.co)$/, "Twitter"],
  [/(^|\.)(facebook\.com|fb\.com|fb\.me)$/, "Facebook"],
  [/(^|\.)(linkedin\.com|lnkd\.in)$/, "LinkedIn"],
  [/(^|\.)reddit\.com$/, "Reddit"],
  [/(^|\.)(youtube\.com|youtu\.be)$/, "YouTube"],
  [/(^|\.)github\.com$/, "GitHub"],
  [/(^|\.)instagram\.com$/, "Instagram"],
];

const MAX = 200;

/** The source of a visit, or `null` for a direct or internal one. */
export function getReferrerSource(
  referrer: string | null,
  options: { siteHost: string; url?: URL },
): string | null {
  const param = options.url?.searchParams;
  const tagged = param?.get("utm_source") ?? param?.get("ref") ?? param?.get("source");
  if (tagged) return tagged.slice(0, MAX);
  if (!referrer) return null;
  let host: string;
  try {
    host = new URL(referrer).hostname.toLowerCase();
  } catch {
    return null;
  }
  host = host.replace(/^www\./, "");
  if (host === "" || host === options.siteHost.replace(/^www\./, "")) return null;
  return KNOWN.find(([re]) => re.test(host))?.[1] ?? host.slice(0, MAX);
}

/** The page URL's `utm_*` parameters, each cut to 200 characters. */
export function getUtm(url: URL): AnalyticsEvent["utm"] {
  const utm: AnalyticsEvent["utm"] = {};
  for (const key of ["source", "medium", "campaign", "content", "term"] as const) {
    const value = url.searchParams.get(`utm_${key}`);
    if (value) utm[key] = value.slice(0, MAX);
  }
  return utm;
}

/** A referrer without its query and fragment (they may carry personal data). */
export function cleanReferrer(referrer: string | null, siteHost: string): string | null {
  if (!referrer) return null;
  try {
    const url = new URL(referrer);
    if (url.hostname.replace(/^www\./, "") === siteHost.replace(/^www\./, "")) return null;
    return `${url.origin}${url.pathname}`;
  } catch {
    return null;
  }
}
