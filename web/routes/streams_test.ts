/**
 * The Streams page rendered in process with `app.request()`: empty and filled states, the island props the
 * browser hydrates (a live island per subscription, a subscribe form only for streams this node does not
 * publish), the gateway's sensors and owners, a gateway part that fails alone, and the islands' pure helpers
 * (price estimate, series alignment, durations). The facade is a plain object with fixed values: these tests are
 * about the web layer; `tests/browser/streams_test.ts` drives the page in Chromium against real nodes.
 */
import assert from "node:assert/strict";
import type { KosmosApi } from "../../protocol/api/mod.ts";
import type { OwnerView, SensorView, StreamView, SubscriptionView } from "../../protocol/api/streams.ts";
import { ownerApp } from "../../tests/helpers.ts";
import { createApp } from "../app.ts";
import { createApiAuth } from "../auth.ts";
import { ensureClientBuild } from "../build.ts";
import { alignSeries, formatLeft } from "../islands/stream_live.tsx";
import { estimateSubscription } from "../streams/load.ts";
import { formatSeconds } from "./streams.tsx";

await ensureClientBuild();

const token = "7a".repeat(32);
const gateway: `0x${string}` = "0x95213C5eFFACb99D4117E084f5C33fb08a2E9735";
const proxy: `0x${string}` = "0x1111111111111111111111111111111111111111";

function facadeOf(methods: Partial<KosmosApi>): KosmosApi {
  const base: Partial<KosmosApi> = {
    listStreams: () => Promise.resolve({ streams: [] }),
    listSubscriptions: () => Promise.resolve({ subscriptions: [] }),
    listSensors: () => Promise.resolve({ sensors: [] }),
    listGatewayOwners: () => Promise.resolve({ owners: [] }),
    getGatewayStats: () =>
      Promise.resolve({
        accepted: 0,
        rejected: {
          "unknown-sensor": 0,
          "bad-signature": 0,
          malformed: 0,
          "out-of-order": 0,
          future: 0,
          "consent-revoked": 0,
          "epoch-sealed": 0,
        },
        bySensor: [],
        byClient: [],
        mqtt: { url: null, connected: false, received: 0 },
      }),
    ...methods,
  };
  return new Proxy(base, {
    get: (target, name) =>
      typeof name === "symbol" || name === "then"
        ? undefined
        : target[name as keyof KosmosApi] ?? (() => Promise.reject(new Error(`unexpected call ${name}()`))),
  }) as KosmosApi;
}

async function render(facade: KosmosApi): Promise<{ status: number; html: string }> {
  const app = ownerApp(
    createApp(facade, { log: { error: () => {}, debug: () => {} }, auth: createApiAuth(token) }),
    token,
  );
  const response = await app.request("/streams");
  return { status: response.status, html: await response.text() };
}

/** The JSON props of every island `name` in `html`. */
function islandProps(html: string, name: string): Record<string, unknown>[] {
  const out = [];
  for (
    const marker of html.matchAll(
      new RegExp(`<kosmos-island data-island="${name}" data-props="([^"]+)">`, "g"),
    )
  ) {
    const json = html.match(new RegExp(`<script type="application/json" id="${marker[1]}">(.*?)</script>`));
    assert.ok(json);
    out.push(JSON.parse(json[1]));
  }
  return out;
}

const stream = (id: string, mine: boolean): StreamView => ({
  id,
  listingId: "7",
  title: mine ? "Our greenhouse" : "Harbour wind",
  description: "",
  owner: proxy,
  gateway,
  publisherPeer: "12D3KooWRuKnY5WuGW2tQDEpuNPELxxg16HRnhqY7R8JfY8bwqGH",
  sensors: [{ sensorId: "wind-1", owner: proxy, label: "Pier" }],
  schema: [{ name: "speed", type: "number" }, { name: "gusty", type: "boolean" }],
  pricePerHour: "2500000000000000000",
  epochSeconds: 3600,
  licence: "CC-BY-4.0",
  createdAt: Date.UTC(2026, 11, 1),
  mine,
  epochs: [],
});
const subscription: SubscriptionView = {
  id: "sub-1",
  streamId: "bafy-wind",
  title: "Harbour wind",
  from: Date.UTC(2026, 11, 6, 7),
  to: Date.UTC(2026, 11, 6, 9),
  status: "active",
  epochs: { first: 100, last: 101 },
  paid: "5000000000000000000",
  saleIds: [],
  received: 42,
  lastReadingAt: null,
  error: null,
};
const sensor: SensorView = {
  sensorId: "gh.temp-1",
  owner: proxy,
  gateway,
  sensorKey: null,
  label: "North",
  attestation: `0x${"ab".repeat(65)}`,
  issuedAt: Date.UTC(2026, 11, 1),
  consentValid: true,
  accepted: 1200,
  rejected: 3,
  lastReadingAt: Date.UTC(2026, 11, 6, 7, 30),
};
const owner: OwnerView = {
  address: proxy,
  label: "Greenhouse owner",
  kind: "proxy",
  takenOverAt: null,
  takenOverBy: null,
};

Deno.test("/streams without streams says how they come, and shows no gateway part", async () => {
  const { status, html } = await render(facadeOf({}));
  assert.equal(status, 200);
  assert.match(html, /No streams yet/);
  assert.doesNotMatch(html, /data-testid="gateway-sensors"/);
  assert.deepEqual(islandProps(html, "stream_subscribe"), []);
});

Deno.test("/streams lists subscriptions with their live island, streams with a subscribe form unless mine, and the gateway", async () => {
  const { status, html } = await render(facadeOf({
    listStreams: () => Promise.resolve({ streams: [stream("bafy-ours", true), stream("bafy-wind", false)] }),
    listSubscriptions: () => Promise.resolve({ subscriptions: [subscription] }),
    listSensors: () => Promise.resolve({ sensors: [sensor] }),
    listGatewayOwners: () => Promise.resolve({ owners: [owner] }),
  }));
  assert.equal(status, 200);
  const live = islandProps(html, "stream_live");
  assert.equal(live.length, 1);
  assert.deepEqual(live[0].subscription, subscription);
  assert.deepEqual(live[0].schema, stream("bafy-wind", false).schema);
  assert.deepEqual(live[0].sensors, [{ sensorId: "wind-1", label: "Pier" }]);
  const forms = islandProps(html, "stream_subscribe");
  assert.deepEqual(forms, [{
    streamId: "bafy-wind",
    title: "Harbour wind",
    pricePerHour: "2500000000000000000",
    epochSeconds: 3600,
  }]);
  assert.match(html, /2\.5 KOS per hour/);
  assert.match(html, /published here/);
  assert.match(html, /data-testid="gateway-sensors"/);
  assert.match(html, /data-sensor="gh\.temp-1"/);
  assert.match(html, /held by this gateway \(identity proxy\)/);
  assert.match(html, /ends in|starts in|ended/);
});

Deno.test("/streams has a Renew control for active and ended subscriptions only", async () => {
  const statuses = ["active", "ended", "failed", "paying", "waiting-key", "scheduled"] as const;
  const { status, html } = await render(facadeOf({
    listStreams: () => Promise.resolve({ streams: [stream("bafy-wind", false)] }),
    listSubscriptions: () =>
      Promise.resolve({
        subscriptions: statuses.map((s, i) => ({ ...subscription, id: `sub-${i}`, status: s })),
      }),
  }));
  assert.equal(status, 200);
  assert.equal(islandProps(html, "stream_live").length, statuses.length);
  assert.deepEqual(islandProps(html, "stream_renew"), [
    { subscriptionId: "sub-0", title: "Harbour wind" },
    { subscriptionId: "sub-1", title: "Harbour wind" },
  ]);
});

Deno.test("/streams still renders when the gateway part fails", async () => {
  const { status, html } = await render(facadeOf({
    listStreams: () => Promise.resolve({ streams: [stream("bafy-wind", false)] }),
    listSensors: () => Promise.reject(new Error("gateway down")),
    listGatewayOwners: () => Promise.reject(new Error("gateway down")),
    getGatewayStats: () => Promise.reject(new Error("gateway down")),
  }));
  assert.equal(status, 200);
  assert.match(html, /Harbour wind/);
  assert.doesNotMatch(html, /data-testid="gateway-sensors"/);
});

Deno.test("estimateSubscription() rounds the span out to whole epochs and prices each epoch rounded up", () => {
  const s = { epochSeconds: 5, pricePerHour: "36000000000000000000" }; // 0.05 KOS an epoch
  assert.deepEqual(estimateSubscription(s, 60, 1_000_000), {
    first: 200,
    last: 211,
    from: 1_000_000,
    to: 1_060_000,
    price: 12n * 5n * 10n ** 16n,
  });
  const mid = estimateSubscription(s, 60, 1_002_500);
  assert.equal(mid.last - mid.first + 1, 13);
  assert.equal(estimateSubscription({ epochSeconds: 1, pricePerHour: "1" }, 1, 0).price, 1n); // ceil(1/3600)
});

Deno.test("alignSeries() joins sensors on the union of timestamps, null where a sensor has none", () => {
  const points = new Map([
    ["a", [{ ts: 1000, values: { v: 1 } }, { ts: 3000, values: { v: true } }]],
    ["b", [{ ts: 2000, values: { v: 5 } }, { ts: 3000, values: { v: "x" } }]],
  ]);
  assert.deepEqual(alignSeries(points, ["a", "b"], "v"), [[1, 2, 3], [1, null, 1], [null, 5, null]]);
});

Deno.test("formatLeft() and formatSeconds() read like people write durations", () => {
  assert.equal(formatLeft(65_000), "1 min 5 s");
  assert.equal(formatLeft(2 * 3600_000 + 60_000), "2 h 1 min");
  assert.equal(formatLeft(-5), "0 min 0 s");
  assert.equal(formatSeconds(5), "5 s");
  assert.equal(formatSeconds(3600), "60 min");
  assert.equal(formatSeconds(86_400), "24 h");
  assert.equal(formatSeconds(90_000 * 2), "2 d 2 h");
});
