/**
 * Replication across five real nodes on loopback: a published dataset reaches
 * its target number of providers, survives its publisher going offline, is
 * repaired back to target, and a late node fetches and decrypts it from the
 * replicas alone.
 */
import assert from "node:assert/strict";
import { decryptDataset, getManifest, prepareDataset } from "../node/services/blocks/mod.ts";
import type { ServedDetail } from "../node/services/transfer/mod.ts";
import { datasetKey, sortByDistance } from "../node/services/replication/mod.ts";
import { CID } from "multiformats/cid";
import { waitFor } from "./helpers.ts";
import { startNetwork } from "./nodes.ts";

const MiB = 1024 * 1024;

function makeCsv(bytes: number): Uint8Array {
  const enc = new TextEncoder();
  const lines: string[] = ["id,ts,station,temperature,humidity"];
  let size = lines[0].length + 1;
  for (let i = 0; size < bytes; i++) {
    const line = `${i},${1_700_000_000_000 + i * 60_000},st${i % 113},${(i * 37 % 400) / 10},${i * 53 % 100}`;
    lines.push(line);
    size += line.length + 1;
  }
  return enc.encode(lines.join("\n") + "\n");
}

Deno.test("a dataset published by one of five nodes reaches 3 providers, is repaired when its publisher leaves, and is fetched from the replicas", async () => {
  await using net = await startNetwork(5, { listen: ["/ip4/127.0.0.1/tcp/0"] }, {
    bootstrap: "all",
    services: { replication: { repairInterval: 250, probeTimeout: 1000, findTimeout: 2000 } },
    prefix: "kosmos-repl-",
  });
  await net.waitForMesh({ timeout: 15_000 });
  const { nodes } = net;
  const [a] = nodes;

  const csv = makeCsv(20 * MiB);
  const prepared = await prepareDataset(a.components.blocks, ReadableStream.from([csv]), {
    title: "Weather stations",
    category: "sensors",
    seller: a.address,
    price: 10n ** 18n,
    licence: "kosmos-research-1",
    filename: "weather.csv",
  });
  const { manifestCid, manifest } = prepared;
  assert.equal(manifest.chunks.length, Math.ceil(csv.byteLength / MiB));
  await a.components.replication.provideDataset(manifestCid);
  for (const node of nodes) node.components.replication.watch(manifestCid);

  const holders = () => nodes.filter((n) => n.components.replication.getReplication(manifestCid)?.local);
  await waitFor("3 providers", () => holders().length >= 3, { timeout: 20_000 });
  await waitFor(
    "a to count 3 live providers",
    () => a.components.replication.getReplication(manifestCid)!.providers.length >= 3,
    { timeout: 10_000 },
  );
  assert.equal(holders().length, 3, "more replicas than the target");
  // The replicas are the two nodes closest to the dataset among b…e.
  const closest = (await sortByDistance(
    await datasetKey(CID.parse(manifestCid)),
    nodes.slice(1).map((n) => n.peerId),
  ))
    .slice(0, 2);
  assert.deepEqual(holders().slice(1).map((n) => n.peerId).sort(), closest.sort());

  // The publisher goes offline; the repair loop brings the dataset back to 3 providers.
  await a.stop();
  const rest = nodes.slice(1);
  await waitFor(
    "repair to 3 live providers without a",
    () =>
      rest.filter((n) => n.components.replication.getReplication(manifestCid)?.local).length === 3 &&
      rest.some((n) => {
        const state = n.components.replication.getReplication(manifestCid)!;
        return state.providers.length >= 3 && !state.providers.includes(a.peerId) &&
          state.status === "replicated";
      }),
    { timeout: 20_000 },
  );

  // e is the node left without the dataset: it fetches every chunk from the others.
  const e = rest.find((n) => !n.components.replication.getReplication(manifestCid)!.local)!;
  assert.ok(e);
  for (const chunk of manifest.chunks) assert.equal(await e.components.blocks.has(chunk), false);
  const served: ServedDetail[] = [];
  for (const n of rest) {
    n.components.transfer.addEventListener(
      "served",
      (ev) => served.push((ev as CustomEvent<ServedDetail>).detail),
    );
  }
  e.components.fetches.startFetch(manifestCid);
  const done = await e.components.fetches.waitForFetch(manifestCid, { timeout: 20_000 });
  assert.equal(done.chunksVerified, manifest.chunks.length);
  assert.ok(!done.providers.includes(a.peerId));
  assert.ok(done.providers.length >= 2, `fetched from ${done.providers.length} providers`);
  const got = new Set(
    served.filter((s) => s.peerId === e.peerId && s.status === "ok" && s.op === "get").map((s) => s.cid),
  );
  for (const chunk of manifest.chunks) {
    assert.ok(got.has(chunk.toString()), `chunk ${chunk} was not served to e`);
  }

  const plain = decryptDataset(e.components.blocks, await getManifest(e.components.blocks, manifestCid), {
    dek: prepared.dek,
  });
  const bytes = new Uint8Array(await new Response(plain).arrayBuffer());
  assert.equal(bytes.byteLength, csv.byteLength);
  assert.deepEqual(bytes, csv);
  await waitFor("e to provide it too", () => e.components.replication.getReplication(manifestCid)?.local);
});
