/**
 * The gateway's raw readings of an epoch are deleted once the epoch is sealed (record in SQLite, dataset in
 * the local block store), on a real node (real SQLite, block store, libp2p): the rows are gone from
 * `gateway_readings`, the readings of the open epoch stay, and the sealed epoch still reads back from its
 * dataset. A restart between the seal and the delete still seals once and deletes on the next start.
 */
import assert from "node:assert/strict";
import { epochEnd, epochOf, type StreamReading } from "../protocol/streams.ts";
import type { KosmosNode } from "../node/node.ts";
import { EpochWriter } from "../node/services/streams/epochs.ts";
import { makeReadings, makeStream } from "../node/services/streams/epochs_fixtures_test.ts";
import { testLogger, waitFor } from "./helpers.ts";
import { startNetwork } from "./nodes.ts";

const STREAMS = { epochs: { sealGraceMs: 300, tickInterval: 100 } };

function commit(node: KosmosNode, streamId: string, epoch: number, list: StreamReading[]): void {
  node.components.streams.gateway.readings.commit(
    list.map((x) => ({
      streamId,
      epoch,
      sensorId: x.sensorId,
      ts: x.ts,
      valuesJson: JSON.stringify(x.values),
    })),
  );
}

function rowsOf(node: KosmosNode, streamId: string, epoch: number): number {
  return (node.components.db.prepare(
    "SELECT COUNT(*) AS n FROM gateway_readings WHERE stream_id = ? AND epoch = ?",
  ).get(streamId, epoch) as { n: number }).n;
}

async function ownStream(node: KosmosNode) {
  const c = node.components;
  const stream = await makeStream({
    gateway: c.identity.account,
    publisherPeer: c.p2p.peerId.toString(),
    chainId: c.chain.chainId,
    epochSeconds: 1,
    createdAt: Date.now(),
  });
  c.streams.catalog.registerOwnStream(stream.bytes);
  return stream;
}

Deno.test("a sealed epoch's raw readings are deleted from gateway_readings; the open epoch's stay; the epoch reads back from its dataset", async () => {
  await using net = await startNetwork(1, { listen: ["/ip4/127.0.0.1/tcp/0"] }, {
    services: { streams: STREAMS },
  });
  const [gw] = net.nodes;
  const { catalog, epochs } = gw.components.streams;
  const { streamId } = await ownStream(gw);
  const epoch = epochOf(Date.now(), 1) + 1;
  const sealedList = makeReadings("s1", epoch * 1000 + 1, 5, 150);
  const openList = makeReadings("s2", (epoch + 3) * 1000 + 1, 3, 100);
  commit(gw, streamId, epoch, sealedList);
  commit(gw, streamId, epoch + 3, openList);
  assert.equal(rowsOf(gw, streamId, epoch), sealedList.length);

  const row = await waitFor("the epoch sealed", () => catalog.getEpoch(streamId, epoch), { timeout: 8000 });
  assert.equal(row.rows, sealedList.length);
  assert.equal(rowsOf(gw, streamId, epoch), 0, "the sealed epoch's readings are still in gateway_readings");
  assert.equal(rowsOf(gw, streamId, epoch + 3), openList.length, "readings of an open epoch were deleted");
  assert.deepEqual(await epochs.sealedReadings(streamId, epoch), sealedList);
  await assert.rejects(epochs.sealedReadings(streamId, epoch + 1000), RangeError);
});

Deno.test("a restart between an epoch's seal and the delete of its readings seals it once and deletes them on start", async () => {
  await using net = await startNetwork(1, { listen: ["/ip4/127.0.0.1/tcp/0"] }, {
    services: { streams: STREAMS },
  });
  const [gw] = net.nodes;
  const c = gw.components;
  const { catalog, gateway } = c.streams;
  await c.streams.epochs.stop();
  const { streamId } = await ownStream(gw);
  const epoch = epochOf(Date.now(), 1) + 1;
  const list = makeReadings("s1", epoch * 1000 + 1, 4, 200);
  commit(gw, streamId, epoch, list);
  const components = {
    catalog,
    blocks: c.blocks,
    replication: c.replication,
    p2p: c.p2p,
    identity: c.identity,
    log: testLogger().forComponent("kosmos:streams-test"),
    readEpoch: (id: string, e: number) => gateway.readings.listEpoch(id, e),
  };

  // A writer that dies after the seal is stored, before it deletes anything (it has no delete).
  await new Promise((res) => setTimeout(res, epochEnd(epoch, 1) + 400 - Date.now()));
  const crashed = new EpochWriter(components, STREAMS.epochs);
  const sealed = await crashed.sealEpoch(streamId, epoch);
  assert.equal(sealed.rows, list.length);
  assert.equal(rowsOf(gw, streamId, epoch), list.length);

  // The next start deletes them, and the sealed record is the one stored before.
  const writer = new EpochWriter({
    ...components,
    pruneReadings: (id, e) => gateway.readings.deleteThrough(id, e),
  }, STREAMS.epochs);
  await writer.start();
  try {
    await waitFor("the readings deleted", () => rowsOf(gw, streamId, epoch) === 0, { timeout: 5000 });
    assert.deepEqual(catalog.getEpoch(streamId, epoch), sealed);
    assert.deepEqual(await writer.sealedReadings(streamId, epoch), list);
  } finally {
    await writer.stop();
  }
});
