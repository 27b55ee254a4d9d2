/**
 * One piece: one node and one anvil, created at module level, fuzz every route read from
 * `app.routes`; a split would start them again per file and could miss a route.
 *
 * Fuzzing every HTTP route that takes a request body, on a real node
 * (embedded anvil with the Kosmos contracts, real SQLite), through
 * `app.request()` as its owner (with the API token). The routes come from
 * `app.routes`, so a new POST/PUT/PATCH/DELETE route is fuzzed without
 * touching this file; {@link EXCLUDED} lists the ones that are not, with why.
 *
 * Bodies: non-JSON and invalid UTF-8, JSON that is not an object, wrong
 * content types, deep nesting, bodies over the size limit, random objects,
 * and (for routes with a known shape in {@link SHAPES}) a valid body with one
 * field of the wrong type or value, a required field missing, an unknown
 * field added, or wrapped in an array. Every answer must be a 4xx with the
 * one error shape `{ error: { code, message } }` (message short, no stack
 * trace, no file path), none may take longer than {@link REQUEST_MS}, the
 * node must log no failure, no table of the node's database may gain or
 * lose a row, and no transaction may be mined. Without the token, every non-public route answers 401 in the
 * same shape, whatever the body.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { createApp } from "../../web/app.ts";
import { createApiAuth, isPublicPath } from "../../web/auth.ts";
import { createNode } from "../../node/node.ts";
import { kosmosTokenAbi } from "../../protocol/contracts_generated.ts";
import { isSiteDomain } from "../../protocol/analytics.ts";
import { manifestCidArb, rawCidArb } from "../../protocol/arbitraries_test.ts";
import { asOwner, testLogger } from "../helpers.ts";
import { API_RUNS_NO_BODY, API_RUNS_PER_ROUTE, fuzzParams, nest } from "./mod.ts";

/** Longest one request may take, ms (chain-backed routes simulate a transaction). */
const REQUEST_MS = 10_000;
const SITE = "shop.example";
const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Routes with a body method that are not fuzzed as the owner, and why. */
const EXCLUDED: Record<string, string> = {
  "POST /api/v1/login-links":
    "takes no body and mints a one-time login link for the owner, so every owner request succeeds " +
    "by design; it is fuzzed without the token (401) like every other route",
  "POST /api/v1/extension/pairings":
    "takes no body and mints a one-time pairing code for the owner, so every owner request succeeds " +
    "by design; it is fuzzed without the token (401) like every other route",
};

/**
 * Routes that read nothing from the body (an action named by the path):
 * fuzzed with fewer inputs, always with bad path parameters.
 */
const NO_BODY = new Set([
  "POST /api/v1/wallet/withdraw",
  "POST /api/v1/stakes/:listingId/withdrawal",
  "POST /api/v1/sites/:domain/check",
  "POST /api/v1/sites/:domain/remove",
  "POST /api/v1/sites/:domain/proxies/:peerId/block",
  "POST /api/v1/sites/:domain/proxies/:peerId/unblock",
  "DELETE /api/v1/listings/:id/delegates/:address",
  "DELETE /api/v1/sources/:id",
  "DELETE /api/v1/sites/:domain/imports",
  "DELETE /api/v1/sites/:domain/paths",
  "DELETE /api/v1/consents/:id",
  "DELETE /api/v1/extension/tokens/:id",
  "POST /api/v1/pools/:id/leave",
  "POST /api/v1/gateway/sensors/:sensorId/consent",
  "DELETE /api/v1/gateway/sensors/:sensorId/consent",
  "DELETE /api/v1/sites/:domain/goals/:id",
  "POST /api/v1/sites/:domain/goals/:id/delete",
  "DELETE /api/v1/sites/:domain/funnels/:id",
  "POST /api/v1/sites/:domain/funnels/:id/delete",
  "DELETE /api/v1/sites/:domain/api-keys/:id",
  "POST /api/v1/sites/:domain/api-keys/:id/revoke",
]);

/** Plausible's Stats API: refusals in Plausible's shape, `{ "error": "…" }`. */
const PLAUSIBLE_SHAPED = new Set(["POST /api/v2/query"]);

/** The site settings page's forms: a refusal is a 303 back to the page with the error. */
const SETTINGS_FORMS = /^POST \/api\/v1\/sites\/:domain\/(goals|funnels|api-keys)(\/:id\/(delete|revoke))?$/;

// ---------------------------------------------------------------- what is invalid where

const notString = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
  fc.integer({ min: 2, max: 100 }).map(nest),
);
const notStringOrNull = fc.oneof(notString, fc.constant(null));
const hugeString = fc.integer({ min: 5_000, max: 60_000 }).map((n) => "x".repeat(n));
const badCid = fc.oneof(
  notStringOrNull,
  fc.string({ maxLength: 80 }),
  hugeString,
  rawCidArb.map((c) => c.toString()),
  manifestCidArb.map((c) => c.toUpperCase()),
  fc.constantFrom("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", "bafy", "", " "),
);
const badAmount = fc.oneof(
  notStringOrNull,
  fc.constantFrom(
    "0",
    "-1",
    "1e3",
    "0x10",
    "1.0000000000000000001",
    "9999999999",
    "21000001",
    "",
    " 1",
    "NaN",
  ),
  fc.string({ maxLength: 30 }).filter((s) => !/^\d{1,9}(\.\d{1,18})?$/.test(s)),
);
const badListingId = fc.oneof(
  fc.constantFrom("0", "-1", "01", "1.5", "abc", "", 1.5, -3, 0, true, null, [], {}),
  fc.string({ maxLength: 90 }).filter((s) => !/^[1-9]\d{0,76}$/.test(s)),
);
const badDomain = fc.oneof(
  notStringOrNull,
  fc.constantFrom("", "-a.com", "a..b", "a b.com", "http://x/", "a/b", "_x.com", "x".repeat(300), "a.-b"),
  fc.string({ maxLength: 40 }).filter((s) => !isSiteDomain(s.trim().toLowerCase().replace(/\.$/, ""))),
);
const notBoolean = fc.oneof(notString.filter((v) => typeof v !== "boolean"), fc.constant(null), fc.string());
const notNumber = fc.oneof(
  fc.string(),
  fc.boolean(),
  fc.array(fc.integer()),
  fc.dictionary(fc.string(), fc.integer()),
);

/** A route's valid body, what makes each field invalid, and which fields it cannot do without. */
interface BodyShape {
  valid: Record<string, unknown>;
  invalid: Record<string, fc.Arbitrary<unknown>>;
  required: string[];
  /**
   * Values of the right type that the route passes on but the node must
   * refuse (they name nothing it has), for fields where no value could
   * succeed on this node; e.g. not `domain`, since any domain may be registered.
   */
  unknown?: Record<string, fc.Arbitrary<unknown>>;
  /** Fields the route does not know are ignored (Plausible's events), so they break nothing. */
  openFields?: boolean;
}

const SHAPES: Record<string, BodyShape> = {
  "POST /api/v1/stakes": {
    valid: { manifestCid: "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", amount: "100" },
    invalid: { manifestCid: badCid, amount: badAmount },
    required: ["manifestCid", "amount"],
  },
  "POST /api/v1/challenges": {
    valid: { listingId: "1", amount: "10" },
    invalid: { listingId: badListingId, amount: badAmount },
    required: ["listingId", "amount"],
    unknown: { listingId: fc.bigInt({ min: 2n, max: 2n ** 200n }).map(String) },
  },
  "POST /api/v1/challenges/:listingId/resolve": {
    valid: { valid: true },
    invalid: { valid: notBoolean },
    required: ["valid"],
    unknown: { valid: fc.boolean() },
  },
  "POST /api/v1/fetches": {
    valid: { manifestCid: "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy" },
    invalid: { manifestCid: badCid },
    required: ["manifestCid"],
  },
  "POST /api/v1/purchases": {
    valid: { listingId: "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy" },
    invalid: { listingId: badCid },
    required: ["listingId"],
    unknown: { listingId: manifestCidArb },
  },
  "POST /api/v1/listings/:id/delegates": {
    valid: { peerId: "12D3KooWGRbkTYcMwh17hc5s9pgJdLjPiwARpzjYWrAaCHHZ8rch" },
    invalid: { peerId: fc.oneof(notStringOrNull, fc.constant(""), fc.constant("1".repeat(101)), hugeString) },
    required: ["peerId"],
    unknown: {
      peerId: fc.oneof(
        fc.string({ minLength: 1, maxLength: 100 }),
        fc.stringMatching(/^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/),
        fc.constantFrom(
          "12D3KooWCpjVVpaGwar66Te2nYd3camHuv4pkwRDWipRU5Rc9TEw",
          "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",
        ),
      ),
    },
  },
  "POST /api/v1/purchases/:id/deliveries": {
    valid: { connector: "webhook", url: "https://example.com/hook", format: "csv" },
    invalid: {
      connector: fc.oneof(notStringOrNull, fc.constantFrom("ftp", "", "Webhook", "directory ")),
      url: fc.oneof(
        notStringOrNull,
        fc.constantFrom("ftp://x.example/", "not a url", "javascript:alert(1)", "file:///etc/passwd"),
        fc.integer({ min: 2100, max: 6000 }).map((n) => `https://x.example/${"a".repeat(n)}`),
      ),
      format: fc.oneof(notStringOrNull, fc.constantFrom("xml", "CSV", "")),
    },
    required: ["connector", "url"],
    // The purchase in the path does not exist: no target may start a delivery.
    unknown: {
      url: fc.constantFrom(
        "http://127.0.0.1:1/",
        "http://[::1]/x",
        "http://169.254.169.254/latest/meta-data/",
        "https://example.com/hook",
      ),
    },
  },
  "POST /api/v1/sites": {
    valid: { domain: "fuzz.example" },
    invalid: { domain: badDomain },
    required: ["domain"],
  },
  "POST /api/v1/sites/:domain/releases": {
    valid: {
      from: "2024-03-01",
      to: "2024-03-02",
      epsilon: 1,
      title: "Visits",
      price: "1",
      licence: "CC-BY-4.0",
      k: 5,
      dimension: "page",
      description: "",
    },
    invalid: {
      from: notString,
      to: notString,
      epsilon: fc.oneof(notNumber, fc.constantFrom(Number.NaN)),
      title: notString,
      price: fc.oneof(
        fc.boolean(),
        fc.array(fc.integer()),
        fc.constantFrom(-1, "abc", "1.0000000000000000001", "-2"),
      ),
      licence: notString,
      k: notNumber,
      dimension: notNumber.filter((v) => typeof v !== "string"),
      description: notNumber.filter((v) => typeof v !== "string"),
    },
    required: ["from", "to", "epsilon", "title", "price", "licence"],
    unknown: {
      from: fc.constantFrom("2024-13-45", "yesterday", "", "2024-03-03", "9999-01-01"),
      to: fc.constantFrom("2024-02-30", "2023-01-01", "1e9", "2024-03-01T00:00:00Z"),
      epsilon: fc.constantFrom(0, -1, 1e9, 1e-12),
      k: fc.constantFrom(0, -5, 1.5, 1e12),
      dimension: fc.string({ maxLength: 20 }).filter((d) => d !== "" && d !== "none" && d !== "page"),
    },
  },
  "POST /api/v2/query": {
    valid: { site_id: SITE, date_range: "7d", metrics: ["visitors"] },
    invalid: {
      site_id: notStringOrNull,
      date_range: fc.oneof(fc.integer(), fc.constantFrom("decade", "", "7", ["2024-01-01"]), fc.boolean()),
      metrics: fc.oneof(fc.string(), fc.constantFrom([], ["nope"], [1], [null]), fc.integer()),
    },
    required: ["site_id", "metrics"],
    unknown: {
      site_id: fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom("unknown.example", "SHOP.EXAMPLE")),
      date_range: fc.oneof(fc.string({ maxLength: 30 }), fc.constant(["2024-02-30", "2024-01-01"])),
      metrics: fc.array(fc.string({ maxLength: 12 }), { minLength: 1, maxLength: 4 }).filter((m) =>
        m.some((x) =>
          !["visitors", "pageviews", "visits", "events", "bounce_rate", "visit_duration"].includes(x)
        )
      ),
    },
  },
  "POST /api/v1/earnings/claims": {
    valid: { distributionId: "1" },
    invalid: {
      distributionId: fc.oneof(
        notStringOrNull,
        fc.constantFrom("", "0", "-1", "1.5", "0x1", " 1", "1e3", "٣"),
        hugeString,
      ),
    },
    // Optional: without it the node claims every claimable earning, and this node has none (404).
    required: ["distributionId"],
    unknown: { distributionId: fc.bigInt({ min: 1n, max: 2n ** 200n }).map(String) },
  },
  "POST /api/v1/pools": {
    valid: {
      kind: "spotify",
      purpose: "fuzz research",
      title: "Fuzzed pool",
      price: "1.5",
      licence: "CC-BY-4.0",
      k: 5,
      operatorFeeBps: 1000,
    },
    invalid: {
      kind: fc.oneof(notStringOrNull, fc.constantFrom("", "myspace", "Spotify")),
      purpose: fc.oneof(
        notStringOrNull,
        fc.constantFrom("", "x", " ab ", "a\nb", "p".repeat(201)),
        hugeString,
      ),
      title: fc.oneof(notStringOrNull, fc.constantFrom("", " ", "a\nb", "t".repeat(201)), hugeString),
      price: fc.oneof(notStringOrNull, fc.constantFrom("", "-1", "1.0000000000000000001", "abc"), hugeString),
      licence: fc.oneof(notStringOrNull, fc.constantFrom("", "CC BY", "l".repeat(65))),
      k: fc.oneof(notNumber, fc.constantFrom(0, 1, 1.5, 1001, -5)),
      operatorFeeBps: fc.oneof(notNumber, fc.constantFrom(-1, 5001, 1.5, 1e9)),
    },
    required: ["kind", "purpose", "title", "price", "licence", "operatorFeeBps"],
  },
  "POST /api/v1/pools/:id/join": {
    valid: { consentId: "1" },
    invalid: {
      consentId: fc.oneof(notStringOrNull, fc.constantFrom("", "0", "-1", "1.5", "0x1", " 1"), hugeString),
    },
    required: ["consentId"],
  },
  "POST /api/v1/pools/:id/versions": {
    valid: { stake: "100" },
    invalid: { stake: badAmount },
    // Optional: without it the registry's minimum is staked, and this node has no pool 1 (404).
    required: ["stake"],
  },
  "POST /api/v1/streams": {
    valid: {
      title: "Fuzzed stream",
      sensors: ["fuzz.sensor"],
      schema: [{ name: "temp", type: "number" }],
      pricePerHour: "1",
      epochSeconds: 60,
      licence: "CC-BY-4.0",
    },
    invalid: {
      title: fc.oneof(notStringOrNull, fc.constantFrom("", " ", "a\nb", "t".repeat(201)), hugeString),
      description: fc.oneof(notStringOrNull, fc.constant("d".repeat(4001))),
      sensors: fc.oneof(
        notStringOrNull,
        fc.constantFrom([], [""], ["a b"], ["x", "x"], [1], Array.from({ length: 257 }, (_, i) => `s${i}`)),
      ),
      schema: fc.oneof(
        notStringOrNull,
        fc.constantFrom(
          [],
          [{ name: "ts", type: "number" }],
          [{ name: "1a", type: "number" }],
          [{ name: "a", type: "float" }],
          [{ name: "a", type: "number", unit: "C" }],
          [{ name: "a", type: "number" }, { name: "a", type: "string" }],
          Array.from({ length: 65 }, (_, i) => ({ name: `c${i}`, type: "number" })),
        ),
      ),
      pricePerHour: fc.oneof(notStringOrNull, fc.constantFrom("", "-1", "1.0000000000000000001", "abc")),
      epochSeconds: fc.oneof(notNumber, fc.constantFrom(0, -1, 1.5, 86_401)),
      licence: fc.oneof(notStringOrNull, fc.constantFrom("", "CC BY", "l".repeat(65))),
      stake: badAmount,
    },
    required: ["title", "sensors", "schema", "pricePerHour", "licence"],
    unknown: { sensors: fc.constantFrom(["nobody.here"], ["a", "b"]) },
  },
  "POST /api/v1/subscriptions": {
    valid: { streamId: "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", seconds: 3600 },
    invalid: {
      streamId: badCid,
      seconds: fc.oneof(notNumber, fc.constantFrom(0, -1, 1.5, 31_536_001)),
      targets: fc.oneof(notStringOrNull, fc.constantFrom([1], [null], Array.from({ length: 9 }, () => "x"))),
    },
    required: ["streamId", "seconds"],
    unknown: { streamId: manifestCidArb.map((c) => c.toString()) },
  },
  "POST /api/v1/subscriptions/:id/renew": {
    valid: { seconds: 3600 },
    invalid: { seconds: fc.oneof(notNumber, fc.constantFrom(0, -1, 1.5, 31_536_001)) },
    required: ["seconds"],
  },
  "POST /api/v1/gateway/owners": {
    valid: { label: "Greenhouse owner" },
    invalid: {
      label: fc.oneof(notStringOrNull, fc.constantFrom("a\nb", "\u0000", "l".repeat(121)), hugeString),
    },
    required: ["label"],
  },
  "POST /api/v1/gateway/owners/:address/takeover": {
    valid: { owner: "0x000000000000000000000000000000000000bEEF" },
    invalid: {
      owner: fc.oneof(notStringOrNull, fc.constantFrom("", "0x12", "0x" + "g".repeat(40)), hugeString),
    },
    required: ["owner"],
    // The path's address is no proxy of this node: 409 whatever the owner.
    unknown: { owner: fc.constantFrom("0x000000000000000000000000000000000000bEEF") },
  },
  "POST /api/v1/gateway/sensors": {
    valid: { sensorId: "fuzz.sensor", owner: "0x000000000000000000000000000000000000bEEF", label: "t" },
    invalid: {
      sensorId: fc.oneof(
        notStringOrNull,
        fc.constantFrom("", "-a", "a b", "../x", "s".repeat(129)),
        hugeString,
      ),
      owner: fc.oneof(notStringOrNull, fc.constantFrom("", "0x12", "bob")),
      sensorKey: fc.oneof(notStringOrNull, fc.constantFrom("", "0x12", "0x" + "z".repeat(64))),
      label: fc.oneof(notStringOrNull, fc.constantFrom("a\nb", "l".repeat(121))),
    },
    required: ["sensorId", "owner"],
  },
  "POST /api/v1/gateway/clients": {
    valid: { label: "hub" },
    invalid: { label: fc.oneof(notStringOrNull, fc.constantFrom("a\nb", "l".repeat(121)), hugeString) },
    required: ["label"],
  },
  "POST /api/v1/extension/pair": {
    valid: { code: "ABCD-EFGH" },
    invalid: { code: fc.oneof(notStringOrNull, fc.constantFrom("", "ABCD-EFG", "0OIL-1234"), hugeString) },
    required: ["code"],
    unknown: { code: fc.constantFrom("ABCD-EFGH", "2345-6789", "zzzz zzzz") },
  },
  "POST /api/v1/consents": {
    valid: { kind: "netflix", purpose: "fuzz research", expiresAt: Date.now() + 30 * 86_400_000 },
    invalid: {
      kind: fc.oneof(notStringOrNull, fc.constantFrom("", "myspace", "Netflix", " netflix")),
      purpose: fc.oneof(
        notStringOrNull,
        fc.constantFrom("", "x", " ab ", "a\nb", "a\u200bb", "p".repeat(201)),
        hugeString,
      ),
      expiresAt: fc.oneof(
        notNumber,
        fc.constantFrom(0, -1, 1.5, 1e300, Date.now(), Date.now() + 6 * 366 * 86_400_000),
      ),
      // Well formed but not a signature of the grant: refused before any transaction.
      signed: fc.oneof(
        notStringOrNull,
        fc.constantFrom(
          {},
          { contributor: "0x12", deadline: 1, signature: "0x" },
          { contributor: "0x000000000000000000000000000000000000dEaD", deadline: 1, signature: "0x1234" },
          {
            contributor: "0x000000000000000000000000000000000000dEaD",
            deadline: 4_000_000_000,
            signature: `0x${"ab".repeat(65)}`,
          },
        ),
      ),
    },
    required: ["kind", "purpose", "expiresAt"],
  },
  "POST /api/v1/publications": {
    valid: { kinds: ["netflix"], purpose: "fuzz research", title: "Fuzz", price: "1", licence: "CC0" },
    invalid: {
      kinds: fc.oneof(
        notStringOrNull.filter((v) => !Array.isArray(v)),
        fc.constantFrom([], ["myspace"], ["netflix", "netflix"], "netflix", [1], [null], ["Netflix"]),
      ),
      purpose: fc.oneof(
        notStringOrNull,
        fc.constantFrom("", "x", "  ab  ", "a\nb", "p".repeat(201)),
        hugeString,
      ),
      title: fc.oneof(notStringOrNull, fc.constantFrom("", "   ", "two\nlines", "t".repeat(201))),
      price: fc.oneof(notStringOrNull, fc.constantFrom("-1", "abc", "1.0000000000000000001", "", "1e3")),
      licence: fc.oneof(notStringOrNull, fc.constantFrom("", "a b", "l".repeat(200))),
      k: fc.oneof(notNumber, fc.constantFrom(0, 1, 1.5, 1001, -5, 1e12)),
      epsilon: fc.oneof(notNumber, fc.constantFrom(0, -1, -0.5)),
      description: notNumber.filter((v) => typeof v !== "string"),
    },
    required: ["kinds", "purpose", "title", "price", "licence"],
    // No consent is granted on the fuzzed node: every kind and purpose is left out (409).
    unknown: {
      kinds: fc.subarray(
        ["spotify", "netflix", "chrome", "apple-health", "uber", "amazon", "airbnb", "bank"],
        {
          minLength: 1,
        },
      ),
      purpose: fc.string({ minLength: 3, maxLength: 200 }).filter((p) =>
        p.trim().length >= 3 && ![...p].some((c) => c < " " || c === "\x7f")
      ),
    },
  },
  // Plausible's rules (protocol/event_payload.ts): a number names an event (404 tracking), any URL
  // but data:/javascript: is a page, a missing domain is the URL's, a bad referrer is ignored.
  "POST /api/event": {
    valid: { n: "pageview", u: `https://${SITE}/a`, d: SITE, r: null },
    invalid: {
      n: fc.oneof(
        notStringOrNull.filter((v) => !Number.isSafeInteger(v)),
        fc.constantFrom("", "   ", "x".repeat(121)),
      ),
      u: fc.oneof(
        notStringOrNull,
        fc.constantFrom("not a url", "javascript:alert(1)", "data:text/html,x", "x".repeat(2001)),
      ),
      d: badDomain.filter((d) =>
        d !== null &&
        !(typeof d === "string" && d.split(",").some((part) => part.trim() !== "") &&
          d.split(",").every((part) => part.trim() === "" || isSiteDomain(part.trim().toLowerCase())))
      ),
    },
    required: ["n", "u"],
    openFields: true,
  },
};

/** A body that breaks `shape` in exactly one way the route must refuse. */
function brokenBody(shape: BodyShape): fc.Arbitrary<unknown> {
  const fields = Object.keys(shape.invalid);
  const unknown = shape.unknown ?? {};
  const unknownFields = Object.keys(unknown);
  return fc.oneof(
    {
      weight: unknownFields.length ? 3 : 0,
      arbitrary: unknownFields.length
        ? fc.constantFrom(...unknownFields).chain((f) => unknown[f].map((v) => ({ ...shape.valid, [f]: v })))
        : fc.constant(null),
    },
    {
      weight: 5,
      arbitrary: fc.constantFrom(...fields).chain((f) =>
        shape.invalid[f].map((v) => ({ ...shape.valid, [f]: v }))
      ),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(...shape.required).map((f) => {
        const copy = { ...shape.valid };
        delete copy[f];
        return copy;
      }),
    },
    {
      weight: shape.openFields ? 0 : 2,
      arbitrary: fc.tuple(fc.string({ minLength: 1, maxLength: 30 }), fc.jsonValue({ maxDepth: 2 }))
        .filter(([k]) => !(k in shape.valid) && !(k in shape.invalid) && !["m", "p", "h", "i"].includes(k))
        .map(([k, v]) => ({ ...shape.valid, [k]: v })),
    },
    {
      weight: shape.openFields ? 0 : 1,
      arbitrary: fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty").map((k) =>
        JSON.parse(`{${JSON.stringify(k)}:{"polluted":true},${JSON.stringify(shape.valid).slice(1)}`)
      ),
    },
    { weight: 1, arbitrary: fc.constant([shape.valid]) },
  );
}

// ---------------------------------------------------------------- request generation

interface FuzzRequest {
  path: string;
  body?: string | Uint8Array<ArrayBuffer>;
  contentType?: string;
  /** What the body is, for failure messages. */
  kind: string;
  /** A `Content-Length` to claim instead of the real one. */
  length?: string;
}

/** Bodies every route gets, whatever its shape. */
function genericBodies(broken: fc.Arbitrary<unknown>): fc.Arbitrary<Omit<FuzzRequest, "path">> {
  const json = "application/json";
  return fc.oneof(
    fc.string({ maxLength: 200 }).map((s) => ({ kind: "not JSON", body: `{${s}`, contentType: json })),
    fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => ({
      kind: "bytes",
      body: Uint8Array.of(0xff, 0xfe, ...b),
      contentType: json,
    })),
    fc.constantFrom("", " ", "null", "[]", "0", '"x"', "true", "1e999", "{}").map((body) => ({
      kind: "JSON that is no body",
      body,
      contentType: json,
    })),
    fc.tuple(
      broken,
      fc.constantFrom(
        "text/plain",
        "application/x-www-form-urlencoded",
        "text/xml",
        "multipart/form-data",
        undefined,
      ),
    ).map(([value, contentType]) => ({
      kind: "wrong content type",
      body: JSON.stringify(value),
      contentType,
    })),
    fc.integer({ min: 1_000, max: 40_000 }).map((depth) => ({
      kind: "deep nesting",
      body: "[".repeat(depth) + "]".repeat(depth),
      contentType: json,
    })),
    fc.integer({ min: 500, max: 5_000 }).map((depth) => ({
      kind: "deep objects",
      body: '{"a":'.repeat(depth) + "1" + "}".repeat(depth),
      contentType: json,
    })),
    fc.integer({ min: 70_000, max: 300_000 }).map((n) => ({
      kind: "over the size limit",
      body: JSON.stringify({ x: "y".repeat(n) }),
      contentType: json,
    })),
    fc.object({ maxDepth: 2 }).map((value) => ({
      kind: "random object",
      body: JSON.stringify(value),
      contentType: json,
    })),
    fc.tuple(
      broken,
      fc.constantFrom("application/json; charset=latin1", "APPLICATION/JSON", "application/x+json"),
    )
      .map(([value, contentType]) => ({ kind: "odd JSON type", body: JSON.stringify(value), contentType })),
    fc.tuple(broken, fc.constantFrom("0", "-1", "abc", "1e3", "99999999999999999999", "2", " 5")).map((
      [value, length],
    ) => ({ kind: `Content-Length ${length}`, body: JSON.stringify(value), contentType: json, length })),
    broken.map((value) => ({ kind: "broken body", body: JSON.stringify(value), contentType: json })),
    broken.map((value) => ({ kind: "broken body", body: JSON.stringify(value), contentType: json })),
  );
}

/** Multipart uploads for `POST /api/v1/datasets` with one field wrong (the route takes no JSON). */
const brokenUpload: fc.Arbitrary<Omit<FuzzRequest, "path">> = fc.tuple(
  fc.constantFrom<Record<string, string>>(
    { title: "" },
    { category: "nope" },
    { price: "-1" },
    { price: "1.0000000000000000001" },
    { license: "has spaces" },
    { gateway: "0x12" },
    { title: "x".repeat(201) },
    { title: "two\nlines" },
    { unknown: "x" },
  ),
  fc.boolean(),
).map(([change, fileFirst]) => {
  const fields: Record<string, string> = {
    title: "Fuzz",
    category: "other",
    price: "1",
    license: "CC0",
    ...change,
  };
  const boundary = "fuzzboundary";
  const part = (name: string, value: string, filename?: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${
      filename ? `; filename="${filename}"\r\nContent-Type: text/csv` : ""
    }\r\n\r\n${value}\r\n`;
  const fieldParts = Object.entries(fields).map(([k, v]) => part(k, v)).join("");
  const file = part("file", "a,b\n1,2\n", "x.csv");
  // Fields before or after the file: the wrong one is refused either way.
  const body = (fileFirst ? file + fieldParts : fieldParts + file) + `--${boundary}--\r\n`;
  return {
    kind: `upload with ${Object.keys(change)[0]} wrong`,
    body,
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
});

/**
 * Multipart uploads for the sources routes that must be refused: an export that is not one (the
 * path's kind is netflix), a mapping where none belongs, unknown or doubled parts, text for the file.
 */
function brokenSourceUpload(layout: boolean): fc.Arbitrary<Omit<FuzzRequest, "path">> {
  const boundary = "fuzzsources";
  const part = (name: string, value: string, filename?: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${
      filename ? `; filename="${filename}"` : ""
    }\r\n\r\n${value}\r\n`;
  const header = "Profile Name,Start Time,Duration,Title";
  const bodies: [string, string][] = [
    ["text for the file", part("file", "a,b\n1,2\n")],
    ["an unknown part", part("colour", "red") + part("file", `${header}\n`, "v.csv")],
    ["no file part", part("mapping", "{}")],
    ["two files", part("file", "x", "a.csv") + part("file", "y", "b.csv")],
    ...(layout ? [] : [
      ["not an export", part("file", "just, some\ntext\n", "v.csv")],
      ["a bad date", part("file", `${header}\nAna,yesterday,00:10:00,Show\n`, "v.csv")],
      ["a bad duration", part("file", `${header}\nAna,2024-03-01 10:00:00,ten,Show\n`, "v.csv")],
      ["a mapping for netflix", part("mapping", "{}") + part("file", `${header}\n`, "v.csv")],
    ] as [string, string][]),
  ];
  return fc.constantFrom(...bodies).map(([kind, body]) => ({
    kind: `upload with ${kind}`,
    body: body + `--${boundary}--\r\n`,
    contentType: `multipart/form-data; boundary=${boundary}`,
  }));
}

/** Fills a route pattern's parameters with values that name nothing on the node but pass the route's checks. */
function fillPath(pattern: string, bad: boolean, seed: number): string {
  const good: Record<string, string> = {
    listingId: "1",
    id: pattern.startsWith("/api/v1/purchases") || pattern.startsWith("/api/v1/subscriptions")
      ? "00000000-0000-4000-8000-000000000000"
      : pattern.startsWith("/api/v1/consents") || pattern.startsWith("/api/v1/pools")
      ? "1"
      : "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
    domain: SITE,
    cid: "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
    address: "0x000000000000000000000000000000000000dEaD",
    kind: "netflix",
  };
  const wrong = ["0", "..", "%00", "x".repeat(300), "%E0%A4%A", "-1", "BAD DOMAIN", "%2F%2F"];
  return pattern.replace(
    /:(\w+)/g,
    (_, name: string) => bad ? wrong[seed % wrong.length] : good[name] ?? "x",
  );
}

// ---------------------------------------------------------------- checks

/** Fails unless `response` is a 4xx in the one error shape, or (only where noted) a documented redirect. */
async function assertRejected(response: Response, request: FuzzRequest, route: string): Promise<void> {
  const what = `${route} with ${request.kind} (${request.contentType ?? "no type"})`;
  const text = await response.text();
  if (
    route === "POST /api/v1/sites" && request.contentType === "application/x-www-form-urlencoded" &&
    response.status === 303
  ) {
    // The Sites page's form: a refusal is a redirect back to the page with the error.
    assert.match(
      response.headers.get("location") ?? "",
      /[?&]error=/,
      `${what}: a form refusal names the error`,
    );
    return;
  }
  if (
    SETTINGS_FORMS.test(route) && request.contentType === "application/x-www-form-urlencoded" &&
    response.status === 303
  ) {
    assert.match(
      response.headers.get("location") ?? "",
      /[?&]error=/,
      `${what}: a form refusal names the error`,
    );
    return;
  }
  assert.ok(
    response.status >= 400 && response.status < 500,
    `${what} answered ${response.status}: ${text.slice(0, 300)}`,
  );
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/, `${what}: error is JSON`);
  const body = JSON.parse(text);
  assert.deepEqual(Object.keys(body), ["error"], `${what}: one error shape`);
  if (PLAUSIBLE_SHAPED.has(route)) {
    assert.ok(typeof body.error === "string" && body.error.trim().length > 0, `${what}: empty error`);
    assert.ok(body.error.length <= 600, `${what}: ${body.error.length}-character error`);
    assert.ok(!/\n\s+at |file:\/\/|\/work\/|\.ts:\d+/.test(body.error), `${what}: error leaks internals`);
    return;
  }
  assert.deepEqual(
    Object.keys(body.error).sort(),
    ["code", "message"],
    `${what}: error has code and message`,
  );
  const { code, message } = body.error;
  assert.ok(typeof code === "string" && /^[a-z_]+$/.test(code), `${what}: bad code ${code}`);
  assert.ok(typeof message === "string" && message.trim().length > 0, `${what}: empty message`);
  assert.ok(message.length <= 600, `${what}: ${message.length}-character message`);
  assert.ok(
    !/\n\s+at |file:\/\/|\/work\/|\.ts:\d+/.test(message),
    `${what}: message leaks internals: ${message}`,
  );
}

// ---------------------------------------------------------------- the node

// Domain proofs are looked for here (and found nowhere), never on the real domain.
const proofServer = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen: () => {} },
  () => new Response("no proof here", { status: 404 }),
);
const dataDir = await Deno.makeTempDir({ prefix: "kosmos-fuzz-api-" });
const node = await createNode({
  dataDir,
  port: 0,
  listen: ["/ip4/127.0.0.1/tcp/0"],
  siteProofOrigins: [`*=http://127.0.0.1:${proofServer.addr.port}`],
}, { logger: testLogger() });
await node.start();
await node.facade.registerSite(SITE).catch(() => {});
const failures: string[] = [];
const app = createApp(node.facade, {
  auth: createApiAuth(node.apiToken),
  log: {
    error: (message, meta) => failures.push(`${message} ${String((meta?.error as Error)?.stack ?? "")}`),
    debug: () => {},
  },
});

/** Row counts of every table in the node's database. */
/**
 * Row counts of every table but the chain indexer's bookkeeping (`chain_blocks`, `chain_cursor`) and the
 * consent service's scan cursor (`consent_scans`, moved by any read of this wallet's consents): both follow
 * blocks mined before the test; that nothing was mined is checked on the chain.
 */
function countRows(): Record<string, number> {
  const db = node.components.db;
  const tables = db.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' " +
      "AND name NOT IN ('chain_blocks', 'chain_cursor', 'consent_scans')",
  )
    .all() as { name: string }[];
  return Object.fromEntries(
    tables.map(({ name }) => [
      name,
      (db.prepare(`SELECT count(*) AS n FROM "${name.replaceAll('"', '""')}"`).get() as { n: number }).n,
    ]),
  );
}

async function send(request: FuzzRequest, method: string, owner: boolean): Promise<Response> {
  const headers: Record<string, string> = {};
  if (request.contentType) headers["content-type"] = request.contentType;
  if (request.length !== undefined) headers["content-length"] = request.length;
  const init: RequestInit = { method, headers, body: request.body };
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      Promise.resolve(app.request(request.path, owner ? asOwner(node.apiToken, init) : init)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${method} ${request.path} hung for ${REQUEST_MS} ms`)),
          REQUEST_MS,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const routes = [
  ...new Set(app.routes.filter((r) => BODY_METHODS.has(r.method)).map((r) => `${r.method} ${r.path}`)),
];

Deno.test({
  name: "every route with a body is fuzzed, or excluded with a reason",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => {
    for (const route of Object.keys(EXCLUDED)) assert.ok(routes.includes(route), `${route} no longer exists`);
    for (const route of Object.keys(SHAPES)) assert.ok(routes.includes(route), `${route} no longer exists`);
    assert.ok(routes.length >= 15, `only ${routes.length} routes found`);
  },
});

for (const route of routes) {
  if (EXCLUDED[route]) continue;
  const [method, pattern] = route.split(" ");
  const shape = SHAPES[route];
  const noBody = NO_BODY.has(route);
  const broken: fc.Arbitrary<unknown> = shape
    ? brokenBody(shape)
    : fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant({}));
  const bodies = pattern === "/api/v1/datasets"
    ? fc.oneof(genericBodies(broken), brokenUpload, brokenUpload)
    : pattern.startsWith("/api/v1/sources/:kind/") || pattern === "/api/v1/sources/bank/layout"
    ? fc.oneof(genericBodies(broken), brokenSourceUpload(pattern.endsWith("layout")))
    : genericBodies(broken);
  Deno.test({
    name: `${route} refuses every hostile body with a 4xx in the one error shape and changes nothing`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const before = countRows();
      const block = await node.components.chain.client.publicClient.getBlockNumber();
      const statuses = new Map<number, number>();
      // Path parameters that pass the route's checks, and now and then (always, for body-less routes) bad ones.
      const requests = fc.tuple(bodies, fc.nat({ max: 9 }), fc.nat()).map((
        [body, dice, seed],
      ): FuzzRequest => ({
        ...body,
        path: fillPath(pattern, pattern.includes(":") && (noBody || dice === 0), seed),
      }));
      await fc.assert(
        fc.asyncProperty(requests, async (request) => {
          const response = await send(request, method, true);
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          await assertRejected(response, request, route);
          assert.deepEqual(failures, [], `${route}: the node logged a failure`);
        }),
        fuzzParams(noBody ? API_RUNS_NO_BODY : API_RUNS_PER_ROUTE),
      );
      assert.deepEqual(countRows(), before, `${route}: a refused request changed the database`);
      assert.equal(
        await node.components.chain.client.publicClient.getBlockNumber(),
        block,
        `${route}: a refused request sent a transaction`,
      );
      const runs = [...statuses.values()].reduce((n, c) => n + c, 0);
      assert.equal(runs, noBody ? API_RUNS_NO_BODY : API_RUNS_PER_ROUTE);
      if (shape) {
        // The bodies got past the content type and size checks to the route's own validation.
        assert.ok(
          (statuses.get(400) ?? 0) + (statuses.get(422) ?? 0) > runs / 4,
          JSON.stringify([...statuses]),
        );
      }
    },
  });
}

Deno.test({
  name: "a refused challenge (no such listing) leaves no token approval and no transaction behind",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // Before: the node approved the registry for the amount, mined that, and only then had the
    // challenge revert, so a request answered 404 had still spent gas and changed the allowance.
    const { client } = node.components.chain;
    const allowance = () =>
      client.publicClient.readContract({
        address: client.contracts.token,
        abi: kosmosTokenAbi,
        functionName: "allowance",
        args: [node.address, client.contracts.registry],
      });
    const block = await client.publicClient.getBlockNumber();
    const before = await allowance();
    const refused = [
      await send(
        {
          kind: "challenge of no listing",
          path: "/api/v1/challenges",
          contentType: "application/json",
          body: '{"listingId":"987654321","amount":"10"}',
        },
        "POST",
        true,
      ),
    ];
    for (const response of refused) {
      assert.ok(response.status >= 400 && response.status < 500, `answered ${response.status}`);
      await response.body?.cancel();
    }
    assert.equal(await allowance(), before, "no approval was sent");
    assert.equal(await client.publicClient.getBlockNumber(), block, "no transaction was mined");
  },
});

Deno.test({
  name: "without the owner's token every non-public route answers 401 in the one error shape",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const before = countRows();
    const owned = routes.filter((r) => !isPublicPath(r.split(" ")[1]));
    assert.ok(owned.length > 0);
    const requests = fc.tuple(
      fc.constantFrom(...owned),
      genericBodies(fc.jsonValue({ maxDepth: 2 })),
      fc.constantFrom(undefined, "Bearer ", "Bearer wrong", `Bearer ${"a".repeat(64)}`, "Basic x", "bearer"),
    );
    await fc.assert(
      fc.asyncProperty(requests, async ([route, body, authorization]) => {
        const [method, pattern] = route.split(" ");
        const request = { ...body, path: fillPath(pattern, false, 0) };
        const headers: Record<string, string> = {};
        if (request.contentType) headers["content-type"] = request.contentType;
        if (authorization) headers.authorization = authorization;
        const response = await app.request(request.path, { method, headers, body: request.body });
        assert.equal(response.status, 401, `${route} without the token answered ${response.status}`);
        await assertRejected(response, request, route);
      }),
      fuzzParams(API_RUNS_PER_ROUTE * 3),
    );
    assert.deepEqual(countRows(), before, "a request without the token changed the database");
  },
});

Deno.test({
  name: "stop the fuzzed node",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await node.stop();
    await proofServer.shutdown();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  },
});
