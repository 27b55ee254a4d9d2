/**
 * Sensor streams end to end, on real nodes (gateway, buyer, replica) sharing one anvil with our contracts,
 * a real Mosquitto broker for the gateway's operator, another for the buyer, and a real PostgreSQL server
 * (the Debian packages, on loopback ports): two sensors publish at 10 Hz over MQTT; the gateway ingests
 * them, publishes the stream (an identity proxy lists it, the gateway sells as its delegate) and sends live
 * batches; the buyer subscribes for a short span through the API and receives the readings decrypted over
 * server-sent events (p95 latency from publish to decryption under 1 s); after the span it holds no key
 * that opens a later epoch; its MQTT and PostgreSQL targets hold exactly the span's readings; the span's
 * last epoch is fetched from the replica with the gateway stopped, byte for byte what the gateway sealed;
 * and that file's anchored proof verifies on the chain while a tampered copy does not.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { keccak256 } from "viem";
import { CID } from "multiformats/cid";
import {
  contentCidOf,
  decodeEpochFile,
  decryptLiveBatch,
  encodeEpochFile,
  encryptLiveBatch,
  epochOf,
} from "../protocol/streams.ts";
import { startMosquitto, startPostgres } from "./servers.ts";
import { waitFor } from "./helpers.ts";
import {
  api,
  collectMqtt,
  percentile,
  publishTestStream,
  readSse,
  startSensors,
  startStreamCluster,
} from "./streams.ts";
import { anchorCheck } from "./streams_anchor.ts";

const EPOCH_SECONDS = 4;
const EPOCH_MS = EPOCH_SECONDS * 1000;

interface SubscriptionView {
  id: string;
  status: string;
  from: number;
  to: number;
  epochs: { first: number; last: number };
  saleIds: string[];
  paid: string;
}

Deno.test("a buyer subscribes to a 2-sensor MQTT stream: live readings decrypted under 1 s, keys end with the span, connectors hold exactly the span, history from a replica, anchored proof", async () => {
  const gatewayBroker = await startMosquitto();
  const buyerBroker = await startMosquitto();
  const pg = await startPostgres();
  try {
    await using cluster = await startStreamCluster();
    const gateway = await cluster.start({ config: { mqttUrl: gatewayBroker.url } });
    const replica = await cluster.start();
    const buyer = await cluster.start({
      config: { deliveryWebhookAllow: ["127.0.0.1"], storage: { quotaGB: 0 } },
    });
    const stream = await publishTestStream(gateway, {
      epochSeconds: EPOCH_SECONDS,
      viewers: [buyer, replica],
    });
    const { streamId } = stream;

    await using sensors = await startSensors(gatewayBroker.url, stream.sensors, { hz: 10 });
    await using received = await collectMqtt(buyerBroker.url, "plant/readings");
    const preview = await api<{ preview: true; price: string; epochs: { first: number; last: number } }>(
      buyer,
      "/api/v1/subscriptions?preview=1",
      { json: { streamId, seconds: 2 * EPOCH_SECONDS } },
    );
    assert.equal(preview.preview, true);
    // 3.6 tokens an hour: 4 s epochs cost 0.004 tokens each.
    assert.equal(
      BigInt(preview.price),
      BigInt(preview.epochs.last - preview.epochs.first + 1) * 4n * 10n ** 15n,
    );
    const table = "plant_readings";
    const sub = await api<SubscriptionView>(buyer, "/api/v1/subscriptions", {
      json: {
        streamId,
        seconds: 2 * EPOCH_SECONDS,
        targets: [`${buyerBroker.url}/plant/readings`, `${pg.url}?table=${table}`],
      },
      expect: 201,
    });
    await using sse = await readSse(buyer, sub.id);
    const first = epochOf(sub.from, EPOCH_SECONDS);
    const last = epochOf(sub.to - 1, EPOCH_SECONDS);
    assert.ok(last - first + 1 >= 2 && last - first + 1 <= 3, `the span is ${first}..${last}`);

    // Keys arrive (open → reveal → keys stored); live readings flow from then on.
    const active = await waitFor("the subscription to hold its keys", async () => {
      const s = await api<SubscriptionView>(buyer, `/api/v1/subscriptions/${sub.id}`);
      return s.epochs.last >= s.epochs.first ? s : undefined;
    }, { timeout: 30_000, interval: 50 });
    const keysAt = Date.now();
    assert.deepEqual(active.epochs, { first, last });

    // Past the span by one whole epoch, sealed at the gateway (and known to the buyer by gossip).
    const after = last + 1;
    await waitFor(
      "the epoch after the span to be sealed and known to the buyer",
      () => buyer.components.streams.catalog.getEpoch(streamId, after),
      { timeout: (last - first + 4) * EPOCH_MS + 10_000 },
    );
    await sensors.stop();

    // Live: every reading published after the keys came arrived decrypted, p95 under 1 s.
    const live = sse.events.flatMap((e) =>
      e.readings.map((r) => ({ ...r, receivedAt: e.receivedAt, epoch: e.epoch }))
    )
      .filter((r) => r.ts >= keysAt);
    assert.ok(live.length > 40, `only ${live.length} live readings`);
    const latencies = live.map((r) => r.receivedAt - r.ts);
    const p50 = percentile(latencies, 50);
    const p95 = percentile(latencies, 95);
    console.log(`live latency publish→decrypted: p50 ${p50} ms, p95 ${p95} ms over ${live.length} readings`);
    assert.ok(p95 < 1000, `p95 ${p95} ms`);
    assert.ok(sse.events.every((e) => e.epoch >= first && e.epoch <= last), "an event outside the span");

    // After the span: no key the buyer holds opens a later epoch.
    const streams = buyer.components.streams;
    const held = Array.from({ length: last - first + 1 }, (_, i) => streams.keyFor(streamId, first + i));
    assert.ok(held.every((k) => k !== undefined));
    assert.equal(streams.keyFor(streamId, after), undefined);
    const sealedAfter = streams.catalog.getEpoch(streamId, after)!;
    for (const key of held) assert.notEqual(keccak256(key!), sealedAfter.dekCommit);
    const gatewayKey = await gateway.components.streams.catalog.epochKey(streamId, after);
    const batch = await encryptLiveBatch({
      streamId,
      epoch: after,
      seq: 0,
      readings: [{ sensorId: stream.sensors[0], ts: after * EPOCH_MS, values: { temp: 1, n: 1 } }],
    }, gatewayKey);
    for (const key of held) await assert.rejects(decryptLiveBatch(batch, key!));
    await api(buyer, `/api/v1/subscriptions/${sub.id}/epochs/${after}`, { expect: 409 });

    // Every key checked against the gateway's signed commitments: the buyer confirmed, the gateway was paid.
    const [sale] = streams.subscriptions.listSales(sub.id);
    await waitFor(
      "the buyer to confirm the sale",
      () =>
        streams.subscriptions.listSales(sub.id)[0].status === "complete" &&
        gateway.components.market.getSale(sale.saleId)?.status === "complete",
      { timeout: 20_000 },
    );
    assert.equal(sale.quote.price, BigInt(last - first + 1) * 4n * 10n ** 15n);

    // The connectors hold exactly the span's readings (live plus what the sealed epochs filled in).
    const expected = new Set<string>();
    for (let e = first; e <= last; e++) {
      for (const r of await gateway.components.streams.epochs.sealedReadings(streamId, e)) {
        expected.add(`${r.sensorId}:${r.ts}`);
      }
    }
    assert.ok(expected.size > 2 * 10 * EPOCH_SECONDS, `the span holds ${expected.size} readings`);
    await waitFor(
      "the buyer to store every reading of the span",
      () => buyer.components.streams.listReadings(sub.id).length === expected.size,
      { timeout: 20_000 },
    );
    await waitFor("the connectors to deliver every reading", async () => {
      await buyer.components.connectors.waitForReadings(sub.id);
      return received.messages.length >= expected.size;
    }, { timeout: 20_000 });
    const mqttKeys = received.messages.map((m) => `${m.sensorId}:${m.ts}`);
    assert.equal(mqttKeys.length, expected.size, "MQTT holds duplicates or extra readings");
    assert.deepEqual(new Set(mqttKeys), expected);
    const sql = postgres(pg.url, { max: 1 });
    try {
      const rows = await sql.unsafe(`SELECT sensor_id, ts, epoch FROM ${table}`);
      const pgKeys = rows.map((r) => `${r.sensor_id}:${new Date(r.ts).getTime()}`);
      assert.equal(pgKeys.length, expected.size);
      assert.deepEqual(new Set(pgKeys), expected);
      assert.ok(rows.every((r) => Number(r.epoch) >= first && Number(r.epoch) <= last));
    } finally {
      await sql.end();
    }

    // The last epoch of the span: anchored, and its proof checks against the chain (a tampered file not).
    const sealedLast = streams.catalog.getEpoch(streamId, last)!;
    const gatewayFile = encodeEpochFile(
      await gateway.components.streams.epochs.sealedReadings(streamId, last),
    );
    assert.equal(contentCidOf(gatewayFile), sealedLast.contentCid);
    await anchorCheck(gateway, sealedLast.contentCid, gatewayFile);

    // History with the gateway offline: the replica serves the last epoch; the bytes are what was sealed.
    await waitFor(
      "the replica to hold the last epoch",
      () => replica.components.fetches.getFetch(sealedLast.manifestCid!)?.status === "complete",
      { timeout: 20_000 },
    );
    const lastCid = CID.parse(sealedLast.manifestCid!);
    assert.equal(await buyer.components.blocks.has(lastCid), false, "the buyer fetched the epoch already");
    await gateway.stop();
    const res = await fetch(`${buyer.url}/api/v1/subscriptions/${sub.id}/epochs/${last}`, {
      headers: { Authorization: `Bearer ${buyer.apiToken}` },
    });
    assert.equal(res.status, 200, await res.clone().text());
    const bytes = new Uint8Array(await res.arrayBuffer());
    assert.deepEqual(bytes, gatewayFile);
    assert.equal(decodeEpochFile(bytes).length, sealedLast.rows);
    // With its gateway gone nobody quotes the stream: 503, nothing bought.
    await api(buyer, "/api/v1/subscriptions", { json: { streamId, seconds: EPOCH_SECONDS }, expect: 503 });
    assert.equal(
      (await api<{ subscriptions: unknown[] }>(buyer, "/api/v1/subscriptions")).subscriptions.length,
      1,
    );
  } finally {
    await pg.stop();
    await buyerBroker.stop();
    await gatewayBroker.stop();
  }
});
