/**
 * Fetching datasets between real nodes on loopback: verification against
 * CIDs, bad providers, and resuming after a stop.
 */
import assert from "node:assert/strict";
import { CID } from "multiformats/cid";
import { lpStream } from "@libp2p/utils";
import { createNode, type KosmosNode } from "../node/node.ts";
import type { CreateNodeOptions } from "../node/node.ts";
import { type Anvil, startAnvil } from "../node/services/chain/anvil.ts";
import {
  decryptDataset,
  getManifest,
  prepareDataset,
  type PreparedDataset,
} from "../node/services/blocks/mod.ts";
import type { FetchProgress } from "../node/services/fetches/mod.ts";
import type { ServedDetail } from "../node/services/transfer/mod.ts";
import { CHUNKS_PROTOCOL } from "../protocol/topics.ts";
import { testLogger, waitFor } from "./helpers.ts";

const MiB = 1024 * 1024;

interface Cluster extends AsyncDisposable {
  nodes: KosmosNode[];
  start(dataDir?: string, services?: CreateNodeOptions["services"]): Promise<KosmosNode>;
}

/** Real nodes sharing one anvil; each bootstraps to the first. Node options are per node. */
async function startCluster(): Promise<Cluster> {
  const anvil: Anvil = await startAnvil();
  const nodes: KosmosNode[] = [];
  const dirs = new Set<string>();
  const start = async (dataDir?: string, services: CreateNodeOptions["services"] = {}) => {
    dataDir ??= await Deno.makeTempDir({ prefix: "kosmos-fetch-" });
    dirs.add(dataDir);
    const live = nodes.filter((n) => n.url !== "" && n.components.p2p.listenAddresses().length > 0);
    const node = await createNode({
      dataDir,
      port: 0,
      listen: ["/ip4/127.0.0.1/tcp/0"],
      bootstrap: live.map((n) => n.components.p2p.listenAddresses()[0]),
      rpcUrl: anvil.rpcUrl,
    }, { logger: testLogger(), services });
    await node.start();
    nodes.push(node);
    return node;
  };
  return {
    nodes,
    start,
    async [Symbol.asyncDispose]() {
      await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
      await anvil.stop();
      await Promise.all([...dirs].map((d) => Deno.remove(d, { recursive: true }).catch(() => {})));
    },
  };
}

/** A CSV of about `bytes` bytes, different for each seed. */
function makeCsv(bytes: number, seed = 1): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [enc.encode("id,ts,sensor,value\n")];
  let size = parts[0].byteLength;
  for (let i = 0; size < bytes; i++) {
    const line = enc.encode(
      `${i},${1_700_000_000_000 + i * 1000},s${(i * seed) % 97},${((i * 7919 + seed) % 100_000) / 100}\n`,
    );
    parts.push(line);
    size += line.byteLength;
  }
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

async function publish(node: KosmosNode, data: Uint8Array, chunkSize = MiB): Promise<PreparedDataset> {
  const prepared = await prepareDataset(node.components.blocks, ReadableStream.from([data]), {
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

async function decryptAll(node: KosmosNode, prepared: PreparedDataset): Promise<Uint8Array> {
  const manifest = await getManifest(node.components.blocks, prepared.manifestCid);
  return new Uint8Array(
    await new Response(decryptDataset(node.components.blocks, manifest, { dek: prepared.dek })).arrayBuffer(),
  );
}

/** Collects what `node` served, from now on. */
function recordServed(node: KosmosNode): ServedDetail[] {
  const served: ServedDetail[] = [];
  node.components.transfer.addEventListener(
    "served",
    (e) => served.push((e as CustomEvent<ServedDetail>).detail),
  );
  return served;
}

async function blockFile(node: KosmosNode, cid: CID): Promise<string> {
  const root = node.components.blocks.root;
  for await (const dir of Deno.readDir(root)) {
    const path = `${root}/${dir.name}/${cid}`;
    try {
      await Deno.stat(path);
      return path;
    } catch { /* not in this directory */ }
  }
  throw new Error(`no file for ${cid}`);
}

Deno.test("fetchDataset() bans a provider that serves wrong bytes and takes the chunks from another", async () => {
  await using cluster = await startCluster();
  const a = await cluster.start();
  const b = await cluster.start();
  const data = makeCsv(6 * MiB, 2);
  const prepared = await publish(a, data);
  const total = prepared.manifest.chunks.length;

  // b holds a full, honest copy first …
  b.components.fetches.startFetch(prepared.manifestCid, { providers: [a.peerId] });
  await b.components.fetches.waitForFetch(prepared.manifestCid, { timeout: 20_000 });
  // … then answers every chunk request with one bit flipped.
  let corrupted = 0;
  await b.components.p2p.libp2p.unhandle(CHUNKS_PROTOCOL);
  await b.components.p2p.libp2p.handle(CHUNKS_PROTOCOL, async (stream) => {
    const lp = lpStream(stream, { maxDataLength: 128 });
    try {
      while (true) {
        const req = (await lp.read()).subarray();
        const cid = CID.decode(req.subarray(1));
        const bytes = new Uint8Array(await b.components.blocks.get(cid));
        if (cid.code === 0x55) {
          bytes[bytes.byteLength >> 1] ^= 1;
          corrupted++;
        }
        await lp.writeV([Uint8Array.of(0), bytes]);
      }
    } catch {
      stream.abort(new Error("bad server done"));
    }
  });

  const c = await cluster.start();
  await waitFor("c to connect to a and b", () => c.components.p2p.peers().length === 2);
  const servedByA = recordServed(a);
  const progress: FetchProgress[] = [];
  c.components.fetches.addEventListener(
    "progress",
    (e) => progress.push((e as CustomEvent<FetchProgress>).detail),
  );
  // b comes first in the hints, so it is asked for the first chunks.
  c.components.fetches.startFetch(prepared.manifestCid, { providers: [b.peerId, a.peerId] });
  const done = await c.components.fetches.waitForFetch(prepared.manifestCid, { timeout: 20_000 });

  assert.ok(corrupted >= 1, `the bad server never got a chunk request: ${JSON.stringify(done)}`);
  assert.equal(done.chunksVerified, total);
  assert.ok(done.providers.includes(a.peerId));
  assert.ok(done.penalised.includes(b.peerId));
  assert.ok(c.components.fetches.scores.isBanned(b.peerId));
  assert.ok(c.components.fetches.scores.getScore(b.peerId) < 0);
  assert.ok(!c.components.fetches.scores.isBanned(a.peerId));
  // Every chunk a served to c was good, and the corrupt ones were fetched again from a.
  const fromA = new Set(
    servedByA.filter((s) => s.peerId === c.peerId && s.status === "ok").map((s) => s.cid),
  );
  for (const chunk of prepared.manifest.chunks) {
    assert.ok(fromA.has(chunk.toString()), `chunk ${chunk} not from a`);
  }
  assert.deepEqual(await decryptAll(c, prepared), data);
});

Deno.test("fetchDataset() takes a chunk whose file is corrupt on one provider's disk from another", async () => {
  await using cluster = await startCluster();
  const a = await cluster.start();
  const b = await cluster.start();
  const data = makeCsv(5 * MiB, 3);
  const prepared = await publish(a, data);
  b.components.fetches.startFetch(prepared.manifestCid, { providers: [a.peerId] });
  await b.components.fetches.waitForFetch(prepared.manifestCid, { timeout: 20_000 });

  // Flip one byte in every chunk file on a's disk: a's store notices on read.
  for (const chunk of prepared.manifest.chunks) {
    const path = await blockFile(a, chunk);
    const bytes = await Deno.readFile(path);
    bytes[100] ^= 0xff;
    await Deno.writeFile(path, bytes);
  }
  const c = await cluster.start();
  await waitFor("c to connect to a and b", () => c.components.p2p.peers().length === 2);
  const servedByA = recordServed(a);
  c.components.fetches.startFetch(prepared.manifestCid, { providers: [a.peerId, b.peerId] });
  const done = await c.components.fetches.waitForFetch(prepared.manifestCid, { timeout: 20_000 });

  const toC = servedByA.filter((s) =>
    s.peerId === c.peerId && s.op === "get" && s.cid !== prepared.manifestCid
  );
  assert.ok(toC.length >= 1, "a was never asked for a chunk");
  assert.ok(toC.every((s) => s.status === "notFound"), "a served a corrupt chunk");
  assert.equal(done.chunksVerified, prepared.manifest.chunks.length);
  assert.ok(done.providers.includes(b.peerId));
  assert.ok(done.penalised.includes(a.peerId));
  assert.ok(c.components.fetches.scores.getScore(a.peerId) < 0);
  for (const s of toC) assert.equal(await a.components.blocks.has(CID.parse(s.cid)), false);
  assert.deepEqual(await decryptAll(c, prepared), data);
});

Deno.test("a fetch stopped mid-transfer resumes on restart without downloading verified chunks again", async () => {
  await using cluster = await startCluster();
  const a = await cluster.start();
  const data = makeCsv(24 * MiB, 4);
  const prepared = await publish(a, data, 256 * 1024);
  const total = prepared.manifest.chunks.length;
  assert.ok(total >= 90);

  const dataDir = await Deno.makeTempDir({ prefix: "kosmos-fetch-" });
  const slow = { fetches: { concurrency: 2 } };
  const c = await cluster.start(dataDir, slow);
  const { promise: halfway, resolve } = Promise.withResolvers<void>();
  c.components.fetches.addEventListener("progress", (e) => {
    if ((e as CustomEvent<FetchProgress>).detail.chunksVerified >= 10) resolve();
  });
  c.components.fetches.startFetch(prepared.manifestCid, { providers: [a.peerId] });
  await halfway;
  await c.stop();

  const blocks = (await import("../node/services/blocks/mod.ts")).openBlockStore;
  const store = await blocks(dataDir);
  const kept = new Set<string>();
  for (const chunk of prepared.manifest.chunks) if (await store.has(chunk)) kept.add(chunk.toString());
  assert.ok(kept.size >= 10 && kept.size < total, `kept ${kept.size} of ${total}`);
  await waitFor("a to finish the old streams", () => a.components.transfer.activeStreams === 0);

  const served = recordServed(a);
  const c2 = await cluster.start(dataDir, slow);
  assert.equal(c2.peerId, c.peerId);
  // No startFetch: the node resumes what was unfinished.
  const done = await c2.components.fetches.waitForFetch(prepared.manifestCid, { timeout: 30_000 });
  assert.equal(done.status, "complete");
  assert.equal(done.chunksVerified, total);
  const requested = served.filter((s) => s.peerId === c2.peerId && s.op === "get").map((s) => s.cid);
  assert.equal(requested.length, total - kept.size, "chunks requested after restart");
  for (const cid of requested) assert.ok(!kept.has(cid), `re-downloaded ${cid}`);
  assert.ok(!requested.includes(prepared.manifestCid), "manifest fetched again");
  assert.deepEqual(await decryptAll(c2, prepared), data);
});
