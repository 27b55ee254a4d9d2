/**
 * Announcing per dataset, between real nodes on loopback: a node that holds
 * or has fetched a dataset puts one provider record into the DHT, for the
 * manifest CID, never one per chunk; and a node that knows no provider finds
 * the dataset's providers by that record alone and fetches every chunk from
 * them.
 */
import assert from "node:assert/strict";
import { base32 } from "multiformats/bases/base32";
import type { CID } from "multiformats/cid";
import { decryptDataset, getManifest, prepareDataset } from "../node/services/blocks/mod.ts";
import type { KosmosNode } from "../node/node.ts";
import type { ServedDetail } from "../node/services/transfer/mod.ts";
import { waitFor } from "./helpers.ts";
import { startNetwork } from "./nodes.ts";

const KiB = 1024;

/** The provider store of a node's kad-dht (records it keeps for others and for itself). */
interface ProviderStore {
  providers: {
    datastore: { query(q: { prefix: string }): AsyncIterable<{ key: { toString(): string } }> };
  };
}

/** Every provider record `node` keeps: which peer provides which multihash (base32, as the DHT keys it). */
async function providerRecords(node: KosmosNode): Promise<{ key: string; peerId: string }[]> {
  const dht = node.components.p2p.libp2p.services.dht as unknown as ProviderStore;
  const out: { key: string; peerId: string }[] = [];
  for await (const entry of dht.providers.datastore.query({ prefix: "/dht/provider/" })) {
    const parts = entry.key.toString().split("/");
    out.push({ peerId: parts.at(-1)!, key: parts.at(-2)! });
  }
  return out;
}

/** The DHT key of `cid`: its multihash in base32, without a prefix. */
const dhtKey = (cid: CID) => base32.baseEncode(cid.multihash.bytes);

/** Multihash keys of the provider records naming `peerId`, across every node's store. */
async function keysProvidedBy(nodes: KosmosNode[], peerId: string): Promise<Map<string, number>> {
  const keys = new Map<string, number>();
  for (const node of nodes) {
    for (const record of await providerRecords(node)) {
      if (record.peerId === peerId) keys.set(record.key, (keys.get(record.key) ?? 0) + 1);
    }
  }
  return keys;
}

function makeCsv(bytes: number): Uint8Array {
  const lines = ["id,ts,station,temperature"];
  let size = lines[0].length + 1;
  for (let i = 0; size < bytes; i++) {
    const line = `${i},${1_700_000_000_000 + i * 60_000},st${i % 41},${(i * 37 % 400) / 10}`;
    lines.push(line);
    size += line.length + 1;
  }
  return new TextEncoder().encode(lines.join("\n") + "\n");
}

Deno.test("a node that fetched a dataset puts one provider record per dataset into the DHT, and a node told of no provider fetches every chunk from those records", async () => {
  await using net = await startNetwork(4, { listen: ["/ip4/127.0.0.1/tcp/0"] }, {
    bootstrap: "all",
    prefix: "kosmos-announce-",
  });
  await net.waitForMesh({ timeout: 15_000 });
  const [origin, fetcher, late, peer] = net.nodes;
  const csv = makeCsv(2 * 1024 * KiB);
  const prepared = await prepareDataset(origin.components.blocks, ReadableStream.from([csv]), {
    title: "Weather stations",
    category: "sensors",
    seller: origin.address,
    price: 10n ** 18n,
    licence: "kosmos-research-1",
    filename: "weather.csv",
    chunkSize: 256 * KiB,
  });
  const { manifestCid, manifest, cid } = prepared;
  assert.ok(manifest.chunks.length >= 8, `only ${manifest.chunks.length} chunks`);
  await origin.components.replication.provideDataset(manifestCid);

  // The fetch announces on completion; wait for that work to end before counting.
  fetcher.components.fetches.startFetch(manifestCid, { providers: [origin.peerId] });
  await fetcher.components.fetches.waitForFetch(manifestCid, { timeout: 30_000 });
  await waitFor("the fetcher to provide the dataset", () => {
    return fetcher.components.replication.getReplication(manifestCid)?.local === true;
  }, { timeout: 15_000 });
  await Promise.all(net.nodes.map((n) => n.components.replication.whenIdle()));

  const want = dhtKey(cid);
  const chunkKeys = new Set(manifest.chunks.map(dhtKey));
  for (const holder of [origin, fetcher]) {
    const keys = await keysProvidedBy(net.nodes, holder.peerId);
    assert.deepEqual(
      [...keys.keys()],
      [want],
      `${holder === origin ? "origin" : "fetcher"} records: per dataset`,
    );
    // Its record reached the other nodes' stores (not only its own).
    assert.ok(keys.get(want)! >= 2, `the manifest record is in ${keys.get(want)} store(s)`);
  }
  for (const node of net.nodes) {
    const chunkRecords = (await providerRecords(node)).filter((r) => chunkKeys.has(r.key));
    assert.deepEqual(chunkRecords, [], "no node keeps a provider record for a chunk");
  }

  // A node told of no provider: it finds the holders by the manifest record and takes every chunk from them.
  const served = new Map<string, number>();
  for (const holder of [origin, fetcher, peer]) {
    holder.components.transfer.addEventListener("served", (e) => {
      const d = (e as CustomEvent<ServedDetail>).detail;
      if (d.op === "get" && d.status === "ok" && d.peerId === late.peerId) {
        served.set(holder.peerId, (served.get(holder.peerId) ?? 0) + 1);
      }
    });
  }
  const found = new Set<string>();
  for await (const p of late.components.p2p.libp2p.contentRouting.findProviders(cid)) {
    found.add(p.id.toString());
  }
  assert.deepEqual([...found].sort(), [origin.peerId, fetcher.peerId].sort(), "the DHT names both holders");
  late.components.fetches.startFetch(manifestCid);
  const done = await late.components.fetches.waitForFetch(manifestCid, { timeout: 30_000 });
  assert.equal(done.chunksVerified, manifest.chunks.length);
  assert.ok(done.providers.length > 0);
  for (const p of done.providers) assert.ok(found.has(p), `served by ${p}, which the DHT did not name`);
  const blocksServed = [...served.values()].reduce((s, n) => s + n, 0);
  assert.equal(blocksServed, manifest.chunks.length + 1, "every chunk and the manifest, once each");
  assert.equal(served.get(peer.peerId), undefined, "a node that holds nothing served nothing");
  const plain = new Uint8Array(
    await new Response(
      decryptDataset(late.components.blocks, await getManifest(late.components.blocks, manifestCid), {
        dek: prepared.dek,
      }),
    ).arrayBuffer(),
  );
  assert.deepEqual(plain, csv);
});

Deno.test("a holder that lost a chunk of a dataset stops providing it, fetches only that chunk, and provides it again", async () => {
  await using net = await startNetwork(2, { listen: ["/ip4/127.0.0.1/tcp/0"] }, {
    prefix: "kosmos-announce-",
  });
  await net.waitForMesh({ timeout: 15_000 });
  const [origin, holder] = net.nodes;
  const prepared = await prepareDataset(
    origin.components.blocks,
    ReadableStream.from([makeCsv(1024 * KiB)]),
    {
      title: "Weather stations",
      category: "sensors",
      seller: origin.address,
      price: 10n ** 18n,
      licence: "kosmos-research-1",
      filename: "weather.csv",
      chunkSize: 128 * KiB,
    },
  );
  const { manifestCid, manifest } = prepared;
  await origin.components.replication.provideDataset(manifestCid);
  holder.components.fetches.startFetch(manifestCid, { providers: [origin.peerId] });
  await holder.components.fetches.waitForFetch(manifestCid, { timeout: 30_000 });
  await waitFor("the holder to provide the dataset", () => {
    return holder.components.replication.getReplication(manifestCid)?.local === true;
  }, { timeout: 15_000 });
  await holder.components.replication.whenIdle();

  const lost = manifest.chunks[3];
  assert.equal(await holder.components.blocks.delete(lost), true);
  const served: string[] = [];
  origin.components.transfer.addEventListener("served", (e) => {
    const d = (e as CustomEvent<ServedDetail>).detail;
    if (d.op === "get" && d.peerId === holder.peerId) served.push(d.cid);
  });
  const events: string[] = [];
  for (const type of ["provide", "unprovide"]) {
    holder.components.replication.addEventListener(type, () => events.push(type));
  }
  await holder.components.replication.repairNow();
  await waitFor("the holder to provide the dataset again", () => events.includes("provide"), {
    timeout: 30_000,
  });
  assert.equal(holder.components.replication.getReplication(manifestCid)?.local, true);
  assert.equal(await holder.components.blocks.has(lost), true);
  assert.deepEqual(events, ["unprovide", "provide"]);
  assert.deepEqual(served, [lost.toString()], "only the lost chunk was fetched again");
  assert.equal(holder.components.fetches.getFetch(manifestCid)?.status, "complete");
});
