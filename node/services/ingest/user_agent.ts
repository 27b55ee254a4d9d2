/**
 * A small user-agent parser for analytics: device class, browser and OS
 * families, and a bot check (crawler names, HTTP libraries, headless and
 * automation signals). It knows the common families only; everything else is
 * "Other", which is all a dashboard needs.
 *
 * ```ts
 * parseUserAgent("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) … Safari/604.1");
 * // { device: "mobile", browser: "Safari", os: "iOS" }
 * isBot("Mozilla/5.0 … HeadlessChrome/120.0 …"); // true
 * ```
 */

export interface UserAgentInfo {
  device: "desktop" | "mobile" | "tablet" | "other";
  browser: string;
  os: string;
}

const BOT =
  /bot\b|bot\/|crawl|spider|slurp|scrape|headless|phantomjs|electron\/|puppeteer|playwright|selenium|webdriver|lighthouse|pagespeed|gtmetrix|pingdom|uptime|monitor|preview|facebookexternalhit|embedly|curl\/|wget\/|python-|python\/|aiohttp|go-http-client|java\/|okhttp|node-fetch|undici|axios|httpclient|libwww|http_request|ruby|php\/|postman|insomnia|deno\/|bun\/|^mozilla\/5\.0$/i;

/** Whether the user agent is a crawler, a script or a headless/automated browser (empty counts as a bot). */
export function isBot(userAgent: string): boolean {
  return userAgent.trim().length < 8 || BOT.test(userAgent);
}

const BROWSERS: [RegExp, string][] = [
  [/Edg(e|A|iOS)?\//, "Edge"],
  [/OPR\/|Opera/, "Opera"],
  [/SamsungBrowser\//, "Samsung Internet"],
  [/YaBrowser\//, "Yandex Browser"],
  [/Vivaldi\//, "Vivaldi"],
  [/Firefox\/|FxiOS\//, "Firefox"],
  [/Chrome\/|CriOS\/|Chromium\//, "Chrome"],
  [/Version\/[\d.]+.*Safari\/|Mobile\/\w+ .*Safari|AppleWebKit.*Mobile\//, "Safari"],
  [/MSIE |Trident\//, "Internet Explorer"],
];

const SYSTEMS: [RegExp, string][] = [
  [/iPhone|iPad|iPod/, "iOS"],
  [/Android/, "Android"],
  [/Windows/, "Windows"],
  [/CrOS/, "Chrome OS"],
  [/Mac OS X|Macintosh/, "macOS"],
  [/Linux|X11/, "GNU/Linux"],
];

export function parseUserAgent(userAgent: string): UserAgentInfo {
  const browser = BROWSERS.find(([re]) => re.test(userAgent))?.[1] ?? "Other";
  const os = SYSTEMS.find(([re]) => re.test(userAgent))?.[1] ?? "Other";
  let device: UserAgentInfo["device"];
  if (
    /iPad|Tablet|PlayBook|Silk\//.test(userAgent) || (/Android/.test(userAgent) && !/Mobile/.test(userAgent))
  ) {
    device = "tablet";
  } else if (/Mobi|iPhone|iPod|Android|Windows Phone/.test(userAgent)) device = "mobile";
  else if (/Windows|Macintosh|X11|Linux|CrOS/.test(userAgent)) device = "desktop";
  else device = "other";
  return { device, browser, os };
}
