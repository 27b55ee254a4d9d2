/**
 * Renewing a subscription on real nodes (a gateway and a buyer, one anvil): the route's `?preview=1` answers
 * the epochs after the last one bought with their price and the fee and buys nothing (404 for an unknown
 * subscription, 422 for a bad span; 409 for a failed one is in `attacks/stream_key_mismatch_test.ts`), the
 * renewal then buys exactly that span and its keys arrive, and `kosmos subscribe --renew` asks first (it
 * refuses without a terminal unless `--yes`). Also: a stream whose registry listing fails (a stake above
 * the wallet's balance) leaves nothing behind: it is not recorded, has no secret, is never sealed nor
 * announced, and its sensor takes no readings.
 */
import assert from "node:assert/strict";
import type { RenewalPreview, StreamView, SubscriptionView } from "../protocol/api/streams.ts";
import { epochOf } from "../protocol/streams.ts";
import { kosmos, kosmosJson } from "./cli.ts";
import { ownerFetch, waitFor } from "./helpers.ts";
import { api, publishTestStream, startStreamCluster } from "./streams.ts";

const EPOCH_SECONDS = 4;
const EPOCH_MS = EPOCH_SECONDS * 1000;
/** 3.6 tokens an hour (the test stream's price): 4 s epochs cost 0.004 tokens each. */
const EPOCH_PRICE = 4n * 10n ** 15n;
const UNKNOWN_SUB = "00000000-0000-4000-8000-000000000000";

Deno.test("renewal: previewed with span, price and fee (nothing bought), then bought; kosmos subscribe --renew asks first; a failed listing leaves no stream", async (t) => {
  await using cluster = await startStreamCluster();
  const gateway = await cluster.start();
  const buyer = await cluster.start();

  await t.step("a stream whose listing fails is not recorded, sealed nor announced", async () => {
    const owner = await api<{ address: string }>(gateway, "/api/v1/gateway/owners", {
      json: { label: "Failing owner" },
      expect: 201,
    });
    await api(gateway, "/api/v1/gateway/sensors", {
      json: { sensorId: "fail.s1", owner: owner.address, label: "fail.s1" },
      expect: 201,
    });
    const res = await ownerFetch(gateway, "/api/v1/streams", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        title: "Never listed",
        sensors: ["fail.s1"],
        schema: [{ name: "temp", type: "number" }, { name: "n", type: "integer" }],
        pricePerHour: "1",
        epochSeconds: 1,
        licence: "CC-BY-4.0",
        stake: "20000000",
      }),
    });
    const failed = await res.json();
    assert.equal(res.status, 409, JSON.stringify(failed));
    const streams = gateway.components.streams;
    assert.deepEqual(streams.listStreams(), []);
    assert.equal(streams.catalog.streamOfSensor("fail.s1"), undefined);
    const { key } = await api<{ key: string }>(gateway, "/api/v1/gateway/clients", {
      json: { label: "line" },
      expect: 201,
    });
    // Two epochs of 1 s pass: with no stream recorded there is nothing to seal, and readings are refused.
    await new Promise((r) => setTimeout(r, 2500));
    const ingest = await fetch(`${gateway.url}/api/v1/ingest/readings`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({
        readings: [{ sensorId: "fail.s1", ts: Date.now(), values: { temp: 1, n: 1 } }],
      }),
    });
    const result = await ingest.json();
    assert.equal(ingest.status, 202, JSON.stringify(result));
    assert.equal(result.accepted, 0);
    assert.equal(result.rejected[0].reason, "unknown-sensor");
    assert.deepEqual(streams.listStreams(), []);
    assert.deepEqual((await api<{ streams: StreamView[] }>(buyer, "/api/v1/streams")).streams, []);
  });

  const { streamId } = await publishTestStream(gateway, { epochSeconds: EPOCH_SECONDS, viewers: [buyer] });
  const sub = await api<SubscriptionView>(buyer, "/api/v1/subscriptions", {
    json: { streamId, seconds: 2 * EPOCH_SECONDS },
    expect: 201,
  });
  const held = await waitFor("the subscription to hold its keys", async () => {
    const s = await api<SubscriptionView>(buyer, `/api/v1/subscriptions/${sub.id}`);
    return s.epochs.last >= s.epochs.first ? s : undefined;
  }, { timeout: 30_000, interval: 100 });
  const subs = buyer.components.streams.subscriptions;

  let preview: RenewalPreview;
  await t.step("?preview=1 answers the next span, its price and fee, and buys nothing", async () => {
    const before = subs.listSales(sub.id).length;
    const startsBefore = Math.max(held.epochs.last + 1, epochOf(Date.now(), EPOCH_SECONDS));
    preview = await api<RenewalPreview>(buyer, `/api/v1/subscriptions/${sub.id}/renew?preview=1`, {
      json: { seconds: 3 * EPOCH_SECONDS },
      expect: 200,
    });
    assert.equal(preview.preview, true);
    assert.equal(preview.subscriptionId, sub.id);
    assert.equal(preview.streamId, streamId);
    // The span starts after the last epoch bought (or now, when that is already past).
    const startsAfter = Math.max(held.epochs.last + 1, epochOf(Date.now(), EPOCH_SECONDS));
    assert.ok(
      preview.epochs.first >= startsBefore && preview.epochs.first <= startsAfter,
      `first ${preview.epochs.first}, expected ${startsBefore}..${startsAfter}`,
    );
    assert.ok(preview.epochs.last - preview.epochs.first + 1 >= 3, JSON.stringify(preview.epochs));
    assert.equal(preview.from, preview.epochs.first * EPOCH_MS);
    assert.equal(preview.to, (preview.epochs.last + 1) * EPOCH_MS);
    assert.equal(
      BigInt(preview.price),
      BigInt(preview.epochs.last - preview.epochs.first + 1) * EPOCH_PRICE,
    );
    assert.ok(BigInt(preview.fee.fee) > 0n);
    assert.equal(subs.listSales(sub.id).length, before, "the preview bought nothing");
    const after = await api<SubscriptionView>(buyer, `/api/v1/subscriptions/${sub.id}`);
    assert.equal(after.to, held.to);
    assert.deepEqual(after.saleIds, held.saleIds);
  });

  await t.step(
    "404 for an unknown subscription, 422 for a bad span, 400 for a bad preview flag",
    async () => {
      await api(buyer, `/api/v1/subscriptions/${UNKNOWN_SUB}/renew?preview=1`, {
        json: { seconds: 60 },
        expect: 404,
      });
      await api(buyer, `/api/v1/subscriptions/nope/renew?preview=1`, { json: { seconds: 60 }, expect: 404 });
      for (const body of [{ seconds: 0 }, { seconds: 1.5 }, { seconds: "60" }, { seconds: 31_536_001 }, {}]) {
        await api(buyer, `/api/v1/subscriptions/${sub.id}/renew?preview=1`, { json: body, expect: 422 });
      }
      await api(buyer, `/api/v1/subscriptions/${sub.id}/renew?preview=1`, {
        json: { seconds: 60, extra: 1 },
        expect: 422,
      });
      await api(buyer, `/api/v1/subscriptions/${sub.id}/renew?preview=maybe`, {
        json: { seconds: 60 },
        expect: 400,
      });
      assert.equal(subs.listSales(sub.id).length, 1);
    },
  );

  await t.step(
    "kosmos subscribe --renew asks first, then renews; the keys of the new span arrive",
    async () => {
      const args = ["subscribe", "--renew", sub.id, "--seconds", String(3 * EPOCH_SECONDS)];
      const refused = await kosmos(buyer, args);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, /Renew subscription .*epochs \d+–\d+/);
      assert.match(refused.stderr, /Network fee: at most/);
      assert.equal(subs.listSales(sub.id).length, 1, "nothing bought without --yes");
      const usage = await kosmos(buyer, ["subscribe", streamId, "--renew", sub.id, "--seconds", "5"]);
      assert.equal(usage.code, 2, usage.stderr);

      const renewed = await kosmosJson<SubscriptionView>(buyer, [...args, "--yes"]);
      assert.equal(renewed.id, sub.id);
      assert.equal(renewed.saleIds.length, 2);
      assert.ok(renewed.to >= preview.to, `renewed to ${renewed.to}, previewed ${preview.to}`);
      const sales = subs.listSales(sub.id);
      assert.ok(sales[1].first > held.epochs.last, "the renewal buys no epoch twice");
      const last = sales[1].last;
      const keys = await waitFor("the renewal's keys", async () => {
        const s = await api<SubscriptionView>(buyer, `/api/v1/subscriptions/${sub.id}`);
        return s.epochs.last === last ? s : undefined;
      }, { timeout: 30_000, interval: 100 });
      assert.equal(keys.to, (last + 1) * EPOCH_MS);
      assert.equal(BigInt(keys.paid), BigInt(held.paid) + sales[1].quote.price);
      // The failed publication never surfaced anywhere: one stream, on both nodes.
      assert.deepEqual(gateway.components.streams.listStreams().map((s) => s.row.streamId), [streamId]);
      const known = (await api<{ streams: StreamView[] }>(buyer, "/api/v1/streams")).streams;
      assert.deepEqual(known.map((s) => s.id), [streamId]);
    },
  );
});
