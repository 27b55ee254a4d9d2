import assert from "node:assert/strict";
import { isBot, parseUserAgent } from "./user_agent.ts";
import { cleanReferrer, getReferrerSource, getUtm } from "./referrer.ts";

const UA = {
  chromeLinux:
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
  firefoxWindows: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0",
  safariMac:
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
  safariIphone:
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
  chromeAndroidPhone:
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
  androidTablet:
    "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
  ipad:
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
  edgeWindows:
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
};

Deno.test("parseUserAgent() names device, browser and OS of common browsers", () => {
  assert.deepEqual(parseUserAgent(UA.chromeLinux), { device: "desktop", browser: "Chrome", os: "GNU/Linux" });
  assert.deepEqual(parseUserAgent(UA.firefoxWindows), {
    device: "desktop",
    browser: "Firefox",
    os: "Windows",
  });
  assert.deepEqual(parseUserAgent(UA.safariMac), { device: "desktop", browser: "Safari", os: "macOS" });
  assert.deepEqual(parseUserAgent(UA.safariIphone), { device: "mobile", browser: "Safari", os: "iOS" });
  assert.deepEqual(parseUserAgent(UA.chromeAndroidPhone), {
    device: "mobile",
    browser: "Chrome",
    os: "Android",
  });
  assert.deepEqual(parseUserAgent(UA.androidTablet), { device: "tablet", browser: "Chrome", os: "Android" });
  assert.deepEqual(parseUserAgent(UA.ipad), { device: "tablet", browser: "Safari", os: "iOS" });
  assert.deepEqual(parseUserAgent(UA.edgeWindows), { device: "desktop", browser: "Edge", os: "Windows" });
  assert.deepEqual(parseUserAgent("SomethingElse/1.0"), { device: "other", browser: "Other", os: "Other" });
});

Deno.test("isBot() flags crawlers, HTTP libraries, headless browsers and empty user agents, not browsers", () => {
  for (const ua of Object.values(UA)) assert.equal(isBot(ua), false, ua);
  const bots = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/130.0.0.0 Safari/537.36",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "Go-http-client/1.1",
    "facebookexternalhit/1.1",
    "",
    "Mozilla/5.0",
  ];
  for (const ua of bots) assert.equal(isBot(ua), true, ua);
});

Deno.test("getReferrerSource() names search engines, keeps other hosts, and drops internal and direct visits", () => {
  const site = { siteHost: "example.com" };
  assert.equal(getReferrerSource("https://www.google.com/search?q=kosmos", site), "Google");
  assert.equal(getReferrerSource("https://duckduckgo.com/", site), "DuckDuckGo");
  assert.equal(getReferrerSource("https://t.co/abc", site), "Twitter");
  assert.equal(getReferrerSource("https://news.ycombinator.com/item?id=1", site), "news.ycombinator.com");
  assert.equal(getReferrerSource("https://www.example.com/other", site), null);
  assert.equal(getReferrerSource(null, site), null);
  assert.equal(getReferrerSource("not a url", site), null);
  const tagged = new URL("https://example.com/?utm_source=newsletter");
  assert.equal(getReferrerSource("https://www.google.com/", { ...site, url: tagged }), "newsletter");
});

Deno.test("getUtm() reads the five utm parameters; cleanReferrer() drops query, fragment and self-referrals", () => {
  const url = new URL(
    "https://example.com/p?utm_source=hn&utm_medium=social&utm_campaign=launch&utm_content=a&utm_term=b&x=1",
  );
  assert.deepEqual(getUtm(url), {
    source: "hn",
    medium: "social",
    campaign: "launch",
    content: "a",
    term: "b",
  });
  assert.deepEqual(getUtm(new URL("https://example.com/")), {});
  assert.equal(
    cleanReferrer("https://blog.test/post?token=secret#x", "example.com"),
    "https://blog.test/post",
  );
  assert.equal(cleanReferrer("https://example.com/a", "example.com"), null);
});
