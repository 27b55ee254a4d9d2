/**
 * `deno task bench fetch [--mib 256]`: a verified dataset fetch from three
 * providers by a node with a fresh data dir, through `fetches.startFetch` /
 * `waitForFetch` (every chunk checked against its CID and written to the block
 * store), against references measured in the same run between the same nodes:
 *
 * - raw: the same ciphertext bytes sent from memory over one libp2p stream,
 *   unverified and not stored (best of `RAW_ROUNDS` after a warm-up);
 * - bitswap: the same chunk blocks moved by `@helia/bitswap` 4 from the first
 *   provider's libp2p to the fetcher's, all wanted at once, into in-memory
 *   blockstores (bitswap hashes each block against its CID on receipt); `null`
 *   with a `bitswapNote` if it fails.
 *
 * The dataset is prepared once on the first provider; its blocks are copied
 * into the other two providers' stores (`put` re-checks every CID).
 *
 * Prints one JSON line:
 * `{"bench":"fetch","mib":256,"mbPerSec":…,"reference":{"rawStreamMbPerSec":…,"bitswapMbPerSec":…|null},"ratioRaw":…,"ratioBitswap":…,"targets":{"vsRaw":0.7,"vsBitswap":2}}`
 */
import type { Libp2p, Startable, Stream } from "@libp2p/interface";
import { withBitswap } from "@helia/bitswap";
import { MemoryBlockstore } from "blockstore-core";
import { defaultLogger } from "@libp2p/logger";
import { sha256 } from "multiformats/hashes/sha2";
import type { CID } from "multiformats/cid";
import { prepareDataset } from "../../node/services/blocks/mod.ts";
import { MiB, numberFlag, progress, round2, startBenchNetwork } from "./net.ts";

const TOTAL_MIB = numberFlag("mib", 256);
const PROVIDERS = 3;
const RAW_ROUNDS = 2;
const RAW_PROTOCOL = "/kosmos/bench/raw/1.0.0";

function makeCsv(bytes: number): Uint8Array {
  const enc = new TextEncoder();
  const out = new Uint8Array(bytes);
  let off = 0;
  off += enc.encodeInto("id,ts,sensor,value\n", out).written;
  for (let i = 0; off < bytes; i++) {
    const line = `${i},${1_700_000_000_000 + i * 1000},s${i % 97},${(i * 7919 % 100_000) / 100}\n`;
    const { written } = enc.encodeInto(line, out.subarray(off));
    if (written < line.length) break;
    off += written;
  }
  return out.subarray(0, off);
}

async function sendAll(stream: Stream, chunks: Uint8Array[]): Promise<void> {
  for (const chunk of chunks) if (!stream.send(chunk)) await stream.onDrain();
  await stream.close();
}

/** A started bitswap (the block broker `withBitswap` adds to a Helia node) over `libp2p`. */
async function startBitswap(libp2p: Libp2p, blockstore: MemoryBlockstore) {
  let mixin: { start(h: unknown): Promise<void> } | undefined;
  let broker: (Startable & { bitswap: { want(cid: CID, o?: object): Promise<Uint8Array> } }) | undefined;
  // withBitswap() only needs these pieces of a Helia node; no routing: providers are given.
  const helia = {
    status: "starting",
    libp2p,
    blockstore,
    logger: defaultLogger(),
    routing: { async *findProviders() {} },
    getHasher: () => Promise.resolve(sha256),
    hasBlockBroker: () => false,
    addBlockBroker: (b: typeof broker) => broker = b,
    addMixin: (m: typeof mixin) => mixin = m,
  };
  // deno-lint-ignore no-explicit-any
  withBitswap(helia as any);
  await mixin?.start(helia);
  if (!broker) throw new Error("withBitswap() added no block broker");
  return broker;
}

/**
 * ms for `receiver` to get every block of `cids` (bytes `blocks`) from `sender`
 * over bitswap, all wanted at once, each into an in-memory blockstore.
 */
async function timeBitswap(
  sender: Libp2p,
  receiver: Libp2p,
  cids: CID[],
  blocks: Uint8Array[],
): Promise<number> {
  const source = new MemoryBlockstore();
  for (const [i, c] of cids.entries()) await source.put(c, blocks[i]);
  const sink = new MemoryBlockstore();
  const a = await startBitswap(sender, source);
  const b = await startBitswap(receiver, sink);
  try {
    const signal = AbortSignal.timeout(120_000);
    const t = performance.now();
    const got = await Promise.all(
      cids.map(async (c) => {
        const block = await b.bitswap.want(c, { providers: [sender.peerId], signal });
        await sink.put(c, block);
        return block.byteLength;
      }),
    );
    const ms = performance.now() - t;
    const bytes = got.reduce((s, n) => s + n, 0);
    const expected = blocks.reduce((s, x) => s + x.byteLength, 0);
    if (bytes !== expected) throw new Error(`bitswap delivered ${bytes} of ${expected} bytes`);
    return ms;
  } finally {
    await b.stop();
    await a.stop();
  }
}

const net = await startBenchNetwork(PROVIDERS, { logLevel: "error" });
let exitCode = 0;
try {
  const providers = net.nodes.slice(0, PROVIDERS);
  const [first] = providers;
  progress(`preparing ${TOTAL_MIB} MiB on the first provider`);
  const { manifest, manifestCid, cid } = await prepareDataset(
    first.components.blocks,
    ReadableStream.from([makeCsv(TOTAL_MIB * MiB)]),
    {
      title: "Bench",
      category: "sensors",
      seller: first.address,
      price: 0n,
      licence: "kosmos-research-1",
      filename: "bench.csv",
    },
  );
  const blockCids: CID[] = [cid, ...manifest.chunks];
  const chunks = await Promise.all(manifest.chunks.map((cid) => first.components.blocks.get(cid)));
  const cipherBytes = chunks.reduce((s, c) => s + c.byteLength, 0);
  progress(`copying ${blockCids.length} blocks to ${PROVIDERS - 1} more providers`);
  for (const provider of providers.slice(1)) {
    for (const block of blockCids) {
      await provider.components.blocks.put(await first.components.blocks.get(block), { cid: block });
    }
  }

  const fetcher = await net.addNode();
  // The fetcher learns of all three from the start; no DHT lookup on the clock.
  const providerIds = providers.map((p) => p.peerId);
  progress(`fetching ${manifest.chunks.length} chunks (${round2(cipherBytes / MiB)} MiB) verified`);
  const start = performance.now();
  fetcher.components.fetches.startFetch(manifestCid, { providers: providerIds });
  const done = await fetcher.components.fetches.waitForFetch(manifestCid, { timeout: 150_000 });
  const fetchMs = performance.now() - start;
  if (done.chunksVerified !== manifest.chunks.length) throw new Error("verified fetch is incomplete");
  for (const chunk of manifest.chunks) {
    if (!(await fetcher.components.blocks.has(chunk))) throw new Error(`fetcher lacks chunk ${chunk}`);
  }

  // Raw reference: first provider → fetcher, one stream, bytes from memory.
  await first.components.p2p.libp2p.handle(RAW_PROTOCOL, (stream) => sendAll(stream, chunks));
  const timeRaw = async (): Promise<number> => {
    const t = performance.now();
    const stream = await fetcher.components.p2p.libp2p.dialProtocol(
      first.components.p2p.peerId,
      RAW_PROTOCOL,
    );
    let got = 0;
    for await (const piece of stream) got += piece.byteLength;
    await stream.close();
    const ms = performance.now() - t;
    if (got !== cipherBytes) throw new Error(`raw stream delivered ${got} of ${cipherBytes} bytes`);
    return ms;
  };
  progress("timing the raw stream");
  await timeRaw();
  let rawMs = Infinity;
  for (let i = 0; i < RAW_ROUNDS; i++) rawMs = Math.min(rawMs, await timeRaw());

  let bitswapMbPerSec: number | null = null;
  let bitswapNote: string | undefined;
  try {
    progress("timing bitswap");
    const ms = await timeBitswap(
      first.components.p2p.libp2p,
      fetcher.components.p2p.libp2p,
      manifest.chunks,
      chunks,
    );
    bitswapMbPerSec = cipherBytes / MiB / (ms / 1000);
  } catch (err) {
    bitswapNote = `bitswap reference failed: ${(err as Error).message}`;
    progress(bitswapNote);
  }

  const mib = cipherBytes / MiB;
  const mbPerSec = mib / (fetchMs / 1000);
  const rawStreamMbPerSec = mib / (rawMs / 1000);
  console.log(JSON.stringify({
    bench: "fetch",
    mib: TOTAL_MIB,
    chunks: manifest.chunks.length,
    providers: PROVIDERS,
    mbPerSec: round2(mbPerSec),
    reference: {
      rawStreamMbPerSec: round2(rawStreamMbPerSec),
      bitswapMbPerSec: bitswapMbPerSec === null ? null : round2(bitswapMbPerSec),
    },
    ratioRaw: round2(mbPerSec / rawStreamMbPerSec),
    ratioBitswap: bitswapMbPerSec === null ? null : round2(mbPerSec / bitswapMbPerSec),
    targets: { vsRaw: 0.7, vsBitswap: 2 },
    ...(bitswapNote ? { bitswapNote } : {}),
  }));
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  await net.stop();
}
Deno.exit(exitCode);
