/**
 * Stream epochs across real nodes on loopback (real libp2p, SQLite, block store, DHT, replication and
 * anvil): live batches from a gateway reach a subscribed node, decrypted, within a second, only from the
 * gateway and only for the epochs whose keys it holds; sealed epochs spread to every node, are replicated,
 * and a late node finds and fetches one from a replica with the gateway stopped; sealing catches up after a
 * restart.
 */
import assert from "node:assert/strict";
import { CID } from "multiformats/cid";
import type { Hex } from "viem";
import { hexToBytes } from "viem";
import {
  contentCidOf,
  encodeEpochFile,
  encodeLiveBatch,
  encryptLiveBatch,
  epochDekCommit,
  epochEnd,
  epochOf,
  type StreamReading,
  STREAMS_TOPIC,
  streamTopic,
} from "../protocol/streams.ts";
import type { KosmosNode } from "../node/node.ts";
import { decryptDataset, getManifest } from "../node/services/blocks/mod.ts";
import { EpochWriter } from "../node/services/streams/epochs.ts";
import { History } from "../node/services/streams/history.ts";
import { LiveChannel, type LiveReadings } from "../node/services/streams/live.ts";
import { StreamsProtocol } from "../node/services/streams/protocol_handler.ts";
import { makeReadings, makeStream } from "../node/services/streams/epochs_fixtures_test.ts";
import { testLogger, waitFor } from "./helpers.ts";
import { startNetwork } from "./nodes.ts";

/**
 * The epochs parts of a running node's streams service, with a `History` over its catalog (asking peers
 * over the service's own protocol handler).
 */
function epochsOf(node: KosmosNode) {
  const c = node.components;
  const { catalog, epochs: writer, gateway } = c.streams;
  const log = testLogger().forComponent("kosmos:streams-test");
  const protocol = new StreamsProtocol({ p2p: c.p2p, catalog, log });
  const history = new History({ catalog, protocol, fetches: c.fetches, blocks: c.blocks, log });
  return {
    catalog,
    writer,
    history,
    /** Commits readings the way the gateway does, then hands them on. */
    commit(streamId: string, epochSeconds: number, list: StreamReading[]) {
      gateway.readings.commit(
        list.map((r) => ({
          streamId,
          epoch: epochOf(r.ts, epochSeconds),
          sensorId: r.sensorId,
          ts: r.ts,
          valuesJson: JSON.stringify(r.values),
        })),
      );
      writer.onAccepted(streamId, list);
    },
  };
}

/** Short epochs' settings of the streams service. */
const STREAMS = { epochs: { sealGraceMs: 300, tickInterval: 100 } };

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

Deno.test("live batches reach a subscribed node decrypted in under a second, only from the gateway and only for epochs whose key it holds", async () => {
  await using net = await startNetwork(3, { listen: ["/ip4/127.0.0.1/tcp/0"] }, {
    bootstrap: "all",
    services: { streams: STREAMS },
  });
  await net.waitForMesh({ timeout: 15_000 });
  const [gw, buyer, mallory] = net.nodes;
  const g = epochsOf(gw);
  const b = epochsOf(buyer);
  {
    const stream = await makeStream({
      gateway: gw.components.identity.account,
      publisherPeer: gw.peerId,
      chainId: gw.components.chain.chainId,
      epochSeconds: 2,
    });
    const { streamId, manifest } = stream;
    g.catalog.registerOwnStream(stream.bytes);
    await waitFor(
      "the buyer on the streams topic",
      () => gw.components.p2p.topicPeers(STREAMS_TOPIC).includes(buyer.peerId),
    );
    await g.catalog.publishAnnouncement(stream.announcement);
    await waitFor("the buyer to know the stream", () => b.catalog.knownStream(streamId));

    const held = new Map<number, Hex>();
    const received: LiveReadings[] = [];
    const opened = new Map<number, Hex>();
    const channel = new LiveChannel({ p2p: buyer.components.p2p, log: testLogger().forComponent("t") }, {
      streamId,
      manifest,
      keyFor: (epoch) => held.get(epoch),
      onReadings: (batch) => void received.push(batch),
      onEpochOpened: (o) => void opened.set(o.epoch, o.dekCommit),
    });
    channel.open();
    await waitFor(
      "the gateway to see the buyer on the stream topic",
      () => gw.components.p2p.topicPeers(streamTopic(streamId)).includes(buyer.peerId),
    );
    // The buyer holds the keys of the current epoch and the next one: a span of two epochs.
    const first = epochOf(Date.now(), 2);
    for (const e of [first, first + 1]) held.set(e, await g.catalog.epochKey(streamId, e));

    // Mallory, subscribed too, publishes a batch under the real key: not the publisher, so never delivered.
    const forged = await encryptLiveBatch({
      streamId,
      epoch: first,
      seq: 0,
      readings: [{ sensorId: "s1", ts: Date.now(), values: { temperature: 999, ok: true } }],
    }, held.get(first)!);
    mallory.components.p2p.subscribe(streamTopic(streamId), () => {});
    await waitFor(
      "mallory to see the buyer on the stream topic",
      () => mallory.components.p2p.topicPeers(streamTopic(streamId)).includes(buyer.peerId),
    );
    await mallory.components.p2p.publish(streamTopic(streamId), encodeLiveBatch(forged));

    // Two sensors at 10 Hz until two epochs after the span.
    const sent: StreamReading[] = [];
    const stopAt = epochEnd(first + 2, 2) + 500;
    let i = 0;
    while (Date.now() < stopAt) {
      const ts = Date.now();
      const batch = ["s1", "s2"].map((sensorId) => ({
        sensorId,
        ts,
        values: { temperature: 20 + (i % 10) / 10, ok: i % 2 === 0 },
      }));
      g.commit(streamId, 2, batch);
      sent.push(...batch);
      i++;
      await new Promise((r) => setTimeout(r, 100));
    }
    await g.writer.live.flush();
    const inSpan = sent.filter((r) => held.has(epochOf(r.ts, 2)));
    await waitFor(
      "every reading of the span",
      () => received.flatMap((b) => b.readings).length >= inSpan.length,
      {
        timeout: 5000,
      },
    );
    await waitFor("a batch of an epoch without a key", () => channel.stats.withoutKey > 0, { timeout: 5000 });
    channel.close();

    const got = received.flatMap((batch) => batch.readings.map((r) => ({ r, at: batch.receivedAt })));
    assert.deepEqual(
      got.map(({ r }) => r).sort((a, b) => a.ts - b.ts || a.sensorId.localeCompare(b.sensorId)),
      inSpan,
      "exactly the span's readings, decrypted",
    );
    assert.ok(got.every(({ r }) => r.values.temperature !== 999), "the forged batch was delivered");
    assert.ok(received.every((batch) => held.has(batch.epoch)));
    assert.equal(
      opened.get(first + 1),
      epochDekCommit(held.get(first + 1)!),
      "the second epoch's EpochOpened",
    );
    assert.equal(opened.get(first + 2), epochDekCommit(await g.catalog.epochKey(streamId, first + 2)));
    assert.ok(inSpan.length >= 30, `only ${inSpan.length} readings in the span`);
    const latencies = got.map(({ r, at }) => at - r.ts);
    const p50 = percentile(latencies, 50);
    const p95 = percentile(latencies, 95);
    console.log(JSON.stringify({ test: "live", readings: latencies.length, p50, p95 }));
    assert.ok(p95 < 1000, `live p95 ${p95} ms`);
  }
});

Deno.test("a sealed epoch reaches every node, is replicated, and a late node fetches it from a replica with the gateway stopped", async () => {
  await using net = await startNetwork(2, { listen: ["/ip4/127.0.0.1/tcp/0"] }, {
    bootstrap: "all",
    services: {
      replication: { repairInterval: 250, probeTimeout: 1000, findTimeout: 2000 },
      streams: STREAMS,
    },
  });
  await net.waitForMesh({ timeout: 15_000 });
  const [gw, replica] = net.nodes;
  const g = epochsOf(gw);
  const r = epochsOf(replica);
  {
    const stream = await makeStream({
      gateway: gw.components.identity.account,
      publisherPeer: gw.peerId,
      chainId: gw.components.chain.chainId,
      epochSeconds: 1,
    });
    const { streamId } = stream;
    g.catalog.registerOwnStream(stream.bytes);
    await waitFor(
      "the replica on the streams topic",
      () => gw.components.p2p.topicPeers(STREAMS_TOPIC).length > 0,
    );
    await g.catalog.publishAnnouncement(stream.announcement);
    await waitFor("the replica to know the stream", () => r.catalog.knownStream(streamId));

    // Readings of the next epoch, committed at the gateway (shuffled: the file sorts them).
    const epoch = epochOf(Date.now(), 1) + 1;
    const list = [
      ...makeReadings("s2", epoch * 1000 + 5, 5, 150),
      ...makeReadings("s1", epoch * 1000, 5, 150),
    ];
    await new Promise((res) => setTimeout(res, epoch * 1000 - Date.now() + 10));
    g.commit(streamId, 1, list);
    const sealed = await waitFor(
      "the replica to store the sealed epoch",
      () => r.catalog.getEpoch(streamId, epoch),
      {
        timeout: 10_000,
      },
    );
    const file = encodeEpochFile(list);
    assert.equal(sealed.rows, list.length);
    assert.equal(sealed.contentCid, contentCidOf(file));
    const key = await g.catalog.epochKey(streamId, epoch);
    assert.equal(sealed.dekCommit, epochDekCommit(key));
    assert.notEqual(sealed.manifestCid, null);
    // The epoch before held nothing: sealed empty, with no dataset.
    const empty = await waitFor("the empty epoch", () => r.catalog.getEpoch(streamId, epoch - 1));
    assert.equal(empty.rows, 0);
    assert.equal(empty.manifestCid, null);
    // Readings of a sealed epoch are refused from now on.
    assert.ok(g.writer.sealedBefore(streamId)! >= epochEnd(epoch, 1));

    await waitFor(
      "the replica to hold the epoch's dataset",
      () => replica.components.replication.getReplication(sealed.manifestCid!)?.local,
      { timeout: 20_000 },
    );
    const wrongKey = await g.catalog.epochKey(streamId, epoch + 5);
    const emptyKey = await g.catalog.epochKey(streamId, epoch - 1);
    await gw.stop();

    const newcomer = await net.addNode({
      storage: { quotaGB: 0 },
      bootstrap: [replica.components.p2p.listenAddresses()[0]],
    });
    const late = epochsOf(newcomer);
    await waitFor(
      "the newcomer to reach the replica",
      () => newcomer.components.p2p.peers().includes(replica.peerId),
    );
    // It learns the stream (the announcement, as a sync would bring it), not its epochs: it asks for them.
    await late.catalog.publishAnnouncement(stream.announcement);
    assert.equal(late.catalog.getEpoch(streamId, epoch), undefined);

    await assert.rejects(late.history.fetchEpoch(streamId, epoch, wrongKey), { name: "EpochIntegrityError" });
    const fetched = await late.history.fetchEpoch(streamId, epoch, key, { timeout: 30_000 });
    assert.deepEqual(fetched.bytes, file, "the epoch file exactly as sealed");
    assert.deepEqual(
      fetched.readings,
      [...list].sort((a, b) => a.ts - b.ts || a.sensorId.localeCompare(b.sensorId)),
    );
    const none = await late.history.fetchEpoch(streamId, epoch - 1, emptyKey);
    assert.equal(none.bytes.byteLength, 0);
    await assert.rejects(late.history.fetchEpoch(streamId, epoch + 1000, key), {
      name: "EpochUnavailableError",
    });
  }
});

Deno.test("a restarted gateway seals every epoch it missed, in order, and each file decrypts to the readings it held", async () => {
  await using net = await startNetwork(1, { listen: ["/ip4/127.0.0.1/tcp/0"] }, {
    services: { streams: STREAMS },
  });
  const [gw] = net.nodes;
  const c = gw.components;
  const { catalog, gateway } = c.streams;
  const createdAt = Date.now();
  const stream = await makeStream({
    gateway: c.identity.account,
    publisherPeer: gw.peerId,
    chainId: c.chain.chainId,
    epochSeconds: 1,
    createdAt,
  });
  const { streamId } = stream;
  catalog.registerOwnStream(stream.bytes);
  const firstEpoch = epochOf(createdAt, 1);
  await waitFor("the first epoch sealed", () => catalog.getEpoch(streamId, firstEpoch), { timeout: 5000 });
  await c.streams.epochs.stop();

  // Stopped: readings of the next epoch are committed (the gateway's table is durable), then epochs pass.
  const epoch = epochOf(Date.now(), 1) + 1;
  const list = makeReadings("s1", epoch * 1000 + 1, 4, 200);
  gateway.readings.commit(
    list.map((x) => ({
      streamId,
      epoch,
      sensorId: x.sensorId,
      ts: x.ts,
      valuesJson: JSON.stringify(x.values),
    })),
  );
  await new Promise((res) => setTimeout(res, epochEnd(epoch + 2, 1) - Date.now()));
  assert.equal(catalog.getEpoch(streamId, epoch), undefined);

  // A new writer over the same tables, as after a restart.
  const writer = new EpochWriter({
    catalog,
    blocks: c.blocks,
    replication: c.replication,
    p2p: c.p2p,
    identity: c.identity,
    log: testLogger().forComponent("kosmos:streams-test"),
    readEpoch: (id, e) => gateway.readings.listEpoch(id, e),
  }, STREAMS.epochs);
  await writer.start();
  try {
    await waitFor("the missed epochs sealed", () => catalog.getEpoch(streamId, epoch + 1), { timeout: 5000 });
    const sealed = catalog.listEpochs(streamId, firstEpoch, epoch + 1);
    assert.deepEqual(
      sealed.map((s) => s.epoch),
      Array.from({ length: epoch + 2 - firstEpoch }, (_, i) => firstEpoch + i),
    );
    for (const s of sealed) assert.equal(s.rows, s.epoch === epoch ? list.length : 0);
    const row = sealed.find((s) => s.epoch === epoch)!;
    const key = await catalog.epochKey(streamId, epoch);
    const dataset = await getManifest(c.blocks, CID.parse(row.manifestCid!));
    const plain = new Uint8Array(
      await new Response(decryptDataset(c.blocks, dataset, { dek: hexToBytes(key) })).arrayBuffer(),
    );
    assert.deepEqual(plain, encodeEpochFile(list));
    assert.equal(contentCidOf(plain), row.contentCid);
    assert.equal(dataset.price, "0");
    assert.deepEqual(dataset.preview, [], "the public manifest shows readings");
    assert.equal(dataset.timeRange, undefined);
    assert.equal(await c.blocks.has(CID.parse(row.manifestCid!)), true);
    assert.equal(dataset.seller, stream.manifest.owner);
    assert.equal(dataset.gateway, gw.address);
  } finally {
    await writer.stop();
  }
});
