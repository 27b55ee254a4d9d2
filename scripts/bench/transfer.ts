/**
 * `deno task bench transfer [MiB]`: verified chunk transfer between two real
 * nodes on loopback — {@link fetchDataset} with 16 parallel streams, every
 * chunk checked against its CID and written to the block store — against a
 * reference measured in the same run: the same ciphertext bytes sent raw over
 * one libp2p stream from memory, without verification or storage. Both sides
 * run in interleaved rounds after a warm-up of each, each measurement after
 * both nodes' replication is idle and the process quiet (`lib/fair.ts`);
 * figures are medians with their min and max, the ratio the median of the
 * per-round ratios, and CPU per MiB is reported for both sides.
 *
 * Prints one JSON line:
 * `{"bench":"transfer","statistic":…,"mbPerSec":…,"reference":{"rawStreamMbPerSec":…},"ratio":…,"spread":{…},"cpuMsPerMiB":{…},"idle":{…},"mib":64,"chunks":64,"concurrency":16,"rounds":5}`
 */
import { createLogger } from "../../node/log.ts";
import { prepareDataset } from "../../node/services/blocks/mod.ts";
import { fetchDataset } from "../../node/services/fetches/mod.ts";
import { makeCsv, MiB, round2, sendAll, startBenchNetwork } from "./net.ts";
import { interleave, measure, newIdleStats, settle, summarize } from "./lib/fair.ts";

const totalMiB = Number(Deno.args[0] ?? 64);
const ROUNDS = 5;
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

const timeRaw = async () => {
  const stream = await b.components.p2p.libp2p.dialProtocol(a.components.p2p.peerId, RAW_PROTOCOL);
  let got = 0;
  for await (const piece of stream) got += piece.byteLength;
  await stream.close();
  if (got !== cipherBytes) throw new Error(`raw stream delivered ${got} of ${cipherBytes} bytes`);
};
const timeVerified = async () => {
  const { progress } = await fetchDataset(
    {
      ...b.components,
      scores: b.components.fetches.scores,
      log: createLogger({ level: "error" }).forComponent("bench"),
    },
    manifestCid,
    { providers: [a.peerId], concurrency: CONCURRENCY },
  );
  if (progress.chunksVerified !== manifest.chunks.length) throw new Error("verified fetch is incomplete");
};

const idle = newIdleStats();
const runs = await interleave(ROUNDS, {
  // The fetcher's copies are deleted before its round (outside the timing), so every round fetches it all.
  verified: async () => {
    for (const cid of manifest.chunks) await b.components.blocks.delete(cid);
    await settle(net.nodes, idle);
    return await measure(timeVerified);
  },
  raw: () => measure(timeRaw),
}, { before: () => settle(net.nodes, idle) });
const mib = cipherBytes / MiB;
const speed = (ms: number) => mib / (ms / 1000);
const verified = summarize(runs.verified.map((r) => speed(r.ms)));
const raw = summarize(runs.raw.map((r) => speed(r.ms)));
const ratios = summarize(runs.verified.map((r, i) => r.ms === 0 ? 0 : runs.raw[i].ms / r.ms));
const cpu = (rs: { cpuMs: number }[]) => summarize(rs.map((r) => r.cpuMs / mib));
console.log(JSON.stringify({
  bench: "transfer",
  statistic: "median of rounds (spread: min and max); ratio: median of the per-round ratios",
  mbPerSec: verified.median,
  reference: { rawStreamMbPerSec: raw.median },
  ratio: ratios.median,
  spread: {
    verified: { min: verified.min, max: verified.max },
    raw: { min: raw.min, max: raw.max },
    ratio: { min: ratios.min, max: ratios.max },
  },
  cpuMsPerMiB: { verified: cpu(runs.verified).median, raw: cpu(runs.raw).median },
  idle,
  mib: round2(totalMiB),
  chunks: manifest.chunks.length,
  concurrency: CONCURRENCY,
  rounds: ROUNDS,
}));
