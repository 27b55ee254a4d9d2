import assert from "node:assert/strict";
import { isCurrency, parseEventPayload, toDecimal } from "./event_payload.ts";
import { checkAnalyticsEvent, MAX_PROPS } from "./analytics.ts";

const base = { n: "pageview", u: "https://shop.example/a", d: "shop.example" };

Deno.test("parseEventPayload() takes what the stock Plausible tracker 0.4.6 sends", () => {
  assert.deepEqual(
    parseEventPayload({ ...base, n: "pageview", v: 36, r: null, p: {}, h: 1 }),
    { name: "pageview", url: base.u, domain: "shop.example", referrer: null, hash: true },
  );
  assert.deepEqual(
    parseEventPayload({
      ...base,
      n: "Purchase",
      v: 36,
      r: "https://news.example/",
      p: { plan: "pro" },
      $: { amount: 15.99, currency: "EUR" },
      i: false,
    }),
    {
      name: "Purchase",
      url: base.u,
      domain: "shop.example",
      referrer: "https://news.example/",
      hash: false,
      props: { plan: "pro" },
      revenue: { amount: "15.99", currency: "EUR" },
      interactive: false,
    },
  );
  const engagement = parseEventPayload({
    n: "engagement",
    sd: 87,
    d: "shop.example",
    u: base.u,
    e: 4312,
    v: 36,
  });
  assert.equal(engagement.scrollDepth, 87);
  assert.equal(engagement.engagedMs, 4312);
});

Deno.test("parseEventPayload() takes the Events API's long names and ignores unknown fields", () => {
  const payload = parseEventPayload({
    name: "Signup",
    url: "https://shop.example/join",
    domain: "Shop.Example",
    referrer: "https://ref.example/",
    props: JSON.stringify({ tier: "startup" }),
    revenue: JSON.stringify({ amount: "20", currency: "usd" }),
    interactive: true,
    hashMode: 0,
    screen_width: 1440,
    whatever: { deep: [1] },
  });
  assert.deepEqual(payload, {
    name: "Signup",
    url: "https://shop.example/join",
    domain: "shop.example",
    referrer: "https://ref.example/",
    hash: false,
    props: { tier: "startup" },
    revenue: { amount: "20", currency: "USD" },
  });
  assert.equal(
    parseEventPayload({ n: 404, u: base.u, d: base.d }).name,
    "404",
    "404 tracking sends a number",
  );
  assert.equal(parseEventPayload({ n: "x", u: "https://www.shop.example/" }).domain, "shop.example");
  assert.deepEqual(parseEventPayload({ ...base, d: "a.example, b.example" }).domains, [
    "a.example",
    "b.example",
  ]);
  assert.equal(parseEventPayload({ ...base, u: "app://localhost/login" }).url, "app://localhost/login");
  assert.equal(parseEventPayload({ ...base, c: true }).consented, true);
  assert.equal(parseEventPayload({ ...base, c: "yes" }).consented, undefined);
});

Deno.test("parseEventPayload() filters props as Plausible does and keeps at most 30", () => {
  const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i]));
  const kept = parseEventPayload({ ...base, p: many }).props!;
  assert.equal(Object.keys(kept).length, MAX_PROPS);
  assert.equal(kept.k0, "0");
  assert.deepEqual(
    parseEventPayload({
      ...base,
      p: { ok: true, n: 1.5, empty: "", blank: "  ", nil: null, list: [1], map: { a: 1 }, " ": "x" },
    }).props,
    { ok: "true", n: "1.5" },
  );
  const polluted = parseEventPayload({ ...base, p: JSON.parse('{"__proto__": "x", "a": "b"}') });
  assert.deepEqual(polluted.props, { a: "b" });
  assert.equal(Object.getPrototypeOf(polluted.props), Object.prototype);
  assert.equal(parseEventPayload({ ...base, p: "not json" }).props, undefined);
  assert.throws(() => parseEventPayload({ ...base, p: { k: "é".repeat(1001) } }), /at most 300 bytes/);
  assert.throws(() => parseEventPayload({ ...base, p: { ["k".repeat(301)]: "v" } }), /at most 300 bytes/);
});

Deno.test("parseEventPayload() ignores bad revenue and keeps amounts with at most 2 decimals", () => {
  for (
    const $ of [
      { amount: 1, currency: "XXXX" },
      { amount: "1,5", currency: "EUR" },
      { amount: 1 },
      "{",
      5,
      [],
    ]
  ) {
    assert.equal(parseEventPayload({ ...base, $ }).revenue, undefined, JSON.stringify($));
  }
  assert.equal(parseEventPayload({ ...base, $: { amount: Infinity, currency: "EUR" } }).revenue, undefined);
  assert.deepEqual(toDecimal("15.999"), "16.00");
  assert.equal(toDecimal("0.004"), "0.00");
  assert.equal(toDecimal("-0.004"), "0.00");
  assert.equal(toDecimal("-2.345"), "-2.35");
  assert.equal(toDecimal(1e-7), "0");
  assert.equal(toDecimal(0.1 + 0.2), "0.30");
  assert.equal(toDecimal("007.5"), "7.5");
  assert.equal(toDecimal("1000000000001"), undefined);
  assert.equal(toDecimal("1e3"), undefined);
  assert.ok(isCurrency("JPY") && !isCurrency("jpy") && !isCurrency("ABC"));
});

Deno.test("parseEventPayload() refuses what makes an event meaningless, naming the field", () => {
  assert.throws(() => parseEventPayload(null), /JSON object/);
  assert.throws(() => parseEventPayload({ ...base, n: "" }), /"n"/);
  assert.throws(() => parseEventPayload({ ...base, n: "x".repeat(121) }), /"n"/);
  assert.throws(() => parseEventPayload({ ...base, u: undefined }), /"u"/);
  assert.throws(() => parseEventPayload({ ...base, u: "javascript:alert(1)" }), /"u"/);
  assert.throws(() => parseEventPayload({ ...base, u: "data:text/html,x" }), /"u"/);
  assert.throws(() => parseEventPayload({ ...base, u: `https://shop.example/${"é".repeat(1000)}` }), /"u"/);
  assert.throws(() => parseEventPayload({ ...base, d: "bad domain" }), /"d"/);
  assert.throws(() => parseEventPayload({ ...base, d: Array(11).fill("a.example").join(",") }), /"d"/);
  assert.throws(() => parseEventPayload({ ...base, n: "engagement" }), /'sd' or 'e'/);
  assert.throws(() => parseEventPayload({ ...base, n: "engagement", sd: "deep", e: -1 }), /'sd' or 'e'/);
  const capped = parseEventPayload({ ...base, n: "engagement", sd: 250, e: 30 * 24 * 3600 * 1000 });
  assert.equal(capped.scrollDepth, 100);
  assert.equal(capped.engagedMs, undefined, "an engaged time of 30 days is an old tracker's bug");
});

Deno.test("checkAnalyticsEvent() takes well-formed new fields and refuses malformed ones", () => {
  const event = {
    ts: 1_700_000_000_000,
    name: "Purchase",
    pathname: "/buy",
    hostname: "shop.example",
    referrer: null,
    referrerSource: null,
    utm: {},
    device: "desktop",
    browser: "Firefox",
    os: "Linux",
    visitorId: "0123456789abcdef0123456789abcdef",
    revenue: { amount: "15.99", currency: "EUR" },
    country: "DE",
    region: "DE-BE",
    city: "2950159",
    cityName: "Berlin",
    regionName: "Land Berlin",
    scrollDepth: 40,
    engagedMs: 1200,
    interactive: false,
    consented: true,
  };
  assert.deepEqual(checkAnalyticsEvent(structuredClone(event)), event);
  const bad: Record<string, unknown>[] = [
    { revenue: { amount: "1e9", currency: "EUR" } },
    { revenue: { amount: "1.999", currency: "EUR" } },
    { revenue: { amount: "1", currency: "eur" } },
    { revenue: { amount: "1", currency: "EUR", extra: 1 } },
    { country: "Germany" },
    { region: "BE" },
    { city: "Berlin" },
    { cityName: "x".repeat(201) },
    { scrollDepth: 101 },
    { scrollDepth: 1.5 },
    { engagedMs: -1 },
    { interactive: "no" },
    { consented: 1 },
  ];
  for (const change of bad) {
    assert.throws(() => checkAnalyticsEvent({ ...event, ...change }), TypeError, JSON.stringify(change));
  }
});
