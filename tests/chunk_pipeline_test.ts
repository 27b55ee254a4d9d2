/**
 * Pipelined chunk requests between real nodes on loopback: several requests
 * in flight on one stream are answered in order, a missing block among them
 * does not disturb the others, and a fetch from one provider uses one stream.
 */
import assert from "node:assert/strict";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { getManifest, prepareDataset, type PreparedDataset } from "../node/services/blocks/mod.ts";
import type { KosmosNode } from "../node/node.ts";
import { makeCsv } from "./helpers.ts";
import { startNetwork } from "./nodes.ts";

const KiB = 1024;

async function publish(node: KosmosNode, bytes: number, chunkSize: number): Promise<PreparedDataset> {
  const prepared = await prepareDataset(node.components.blocks, ReadableStream.from([makeCsv(bytes)]), {
    title: "Sensor readings",
    category: "sensors",
    seller: node.address,
    price: 10n ** 18n,
    licence: "kosmos-research-1",
    filename: "readings.csv",
    chunkSize,
  });
  await node.components.replication.provideDataset(prepared.manifestCid);
  return prepared;
}

Deno.test("a chunk session answers pipelined requests in order, a missing block among them included, and stays open", async () => {
  await using net = await startNetwork(2);
  const [a, b] = net.nodes;
  const prepared = await publish(a, 600 * KiB, 64 * KiB);
  const manifest = await getManifest(a.components.blocks, prepared.manifestCid);
  assert.ok(manifest.chunks.length >= 8, `only ${manifest.chunks.length} chunks`);
  const missing = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode("stored nowhere")));

  const session = await b.components.transfer.openSession(a.peerId);
  try {
    // All at once, on one stream: the missing block sits in the middle.
    const cids = [...manifest.chunks.slice(0, 4), missing, ...manifest.chunks.slice(4)];
    const answers = await Promise.allSettled(cids.map((cid) => session.get(cid)));
    for (const [i, cid] of cids.entries()) {
      const answer = answers[i];
      if (cid === missing) {
        assert.equal(answer.status, "rejected");
        assert.equal((answer as PromiseRejectedResult).reason.name, "BlockNotFoundError");
        continue;
      }
      assert.equal(answer.status, "fulfilled", `chunk ${i} failed`);
      assert.deepEqual(
        (answer as PromiseFulfilledResult<Uint8Array>).value,
        await a.components.blocks.get(cid),
        `chunk ${i} got another block's bytes`,
      );
    }
    assert.equal(session.closed, false);
    assert.equal(session.inFlight, 0);
    // A has and a get together after that, still on the same stream.
    const [has, bytes] = await Promise.all([
      session.has(manifest.chunks[0]),
      session.get(manifest.chunks[1]),
    ]);
    assert.equal(has, true);
    assert.deepEqual(bytes, await a.components.blocks.get(manifest.chunks[1]));
  } finally {
    await session.close();
  }
});

Deno.test("a fetch from one provider pipelines its concurrent requests on one chunk stream", async () => {
  await using net = await startNetwork(2);
  const [a, b] = net.nodes;
  const prepared = await publish(a, 900 * KiB, 64 * KiB);
  const manifest = await getManifest(a.components.blocks, prepared.manifestCid);
  let peakStreams = 0;
  let served = 0;
  a.components.transfer.addEventListener("served", () => {
    served++;
    peakStreams = Math.max(peakStreams, a.components.transfer.activeStreams);
  });
  b.components.fetches.startFetch(prepared.manifestCid, { providers: [a.peerId] });
  const done = await b.components.fetches.waitForFetch(prepared.manifestCid, { timeout: 20_000 });
  assert.equal(done.status, "complete");
  assert.equal(served, manifest.chunks.length + 1, "the manifest and every chunk, each once");
  // The chunks (16 workers, a stream each before pipelining) share one
  // stream; the manifest's own stream may not have ended on this side yet.
  assert.ok(peakStreams <= 2, `${peakStreams} chunk streams served at once`);
});
