/**
 * `deno task bench transfer [MiB]`: verified chunk transfer between two real
 * nodes on loopback — {@link fetchDataset} with 16 parallel streams, every
 * chunk checked against its CID and written to the block store — against a
 * reference measured in the same run: the same ciphertext bytes sent raw over
 * one libp2p stream from memory, without verification or storage. Each side
 * runs `ROUNDS` times after a warm-up; the best round counts.
 *
 * Prints one JSON line:
 * `{"bench":"transfer","mbPerSec":…,"reference":{"rawStreamMbPerSec":…},"ratio":…,"mib":64,"chunks":64,"concurrency":16}`
 */
import { createLogger } from "../../node/log.ts";
import { prepareDataset } from "../../node/services/blocks/mod.ts";
import { fetchDataset } from "../../node/services/fetches/mod.ts";
import { makeCsv, MiB, round2, sendAll, startBenchNetwork } from "./net.ts";

const totalMiB = Number(Deno.args[0] ?? 64);
const ROUNDS = 3;
const CONCURRENCY = 16;
const RAW_PROTOCOL = "/kosmos/bench/raw/1.0.0";

await using net = await startBenchNetwork(2);
const [a, b] = net.nodes;
const data = makeCsv(totalMiB * MiB);
const { manifest, manifestCid } = await prepareDataset(a.components.blocks, ReadableStream.from([data]), {
  title: "Bench",
  category: "sensors",
  seller: a.address,
  price: 0n,
  licence: "kosmos-research-1",
  filename: "bench.csv",
});
const chunks = await Promise.all(manifest.chunks.map((cid) => a.components.blocks.get(cid)));
const cipherBytes = chunks.reduce((s, c) => s + c.byteLength, 0);
await a.components.p2p.libp2p.handle(RAW_PROTOCOL, (stream) => sendAll(stream, chunks));

const timeRaw = async (): Promise<number> => {
  const start = performance.now();
  const stream = await b.components.p2p.libp2p.dialProtocol(a.components.p2p.peerId, RAW_PROTOCOL);
  let got = 0;
  for await (const piece of stream) got += piece.byteLength;
  await stream.close();
  const ms = performance.now() - start;
  if (got !== cipherBytes) throw new Error(`raw stream delivered ${got} of ${cipherBytes} bytes`);
  return ms;
};
const timeVerified = async (): Promise<number> => {
  for (const cid of manifest.chunks) await b.components.blocks.delete(cid);
  const start = performance.now();
  const { progress } = await fetchDataset(
    {
      ...b.components,
      scores: b.components.fetches.scores,
      log: createLogger({ level: "error" }).forComponent("bench"),
    },
    manifestCid,
    { providers: [a.peerId], concurrency: CONCURRENCY },
  );
  const ms = performance.now() - start;
  if (progress.chunksVerified !== manifest.chunks.length) throw new Error("verified fetch is incomplete");
  return ms;
};

await timeRaw();
await timeVerified();
let bestRaw = Infinity;
let best = Infinity;
for (let round = 0; round < ROUNDS; round++) {
  bestRaw = Math.min(bestRaw, await timeRaw());
  best = Math.min(best, await timeVerified());
}
const mib = cipherBytes / MiB;
const mbPerSec = mib / (best / 1000);
const rawStreamMbPerSec = mib / (bestRaw / 1000);
console.log(JSON.stringify({
  bench: "transfer",
  mbPerSec: round2(mbPerSec),
  reference: { rawStreamMbPerSec: round2(rawStreamMbPerSec) },
  ratio: round2(mbPerSec / rawStreamMbPerSec),
  mib: totalMiB,
  chunks: manifest.chunks.length,
  concurrency: CONCURRENCY,
}));
