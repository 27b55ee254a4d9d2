/**
 * `deno task bench fetch [--size 64] [--rounds 5]`: a verified dataset fetch
 * of `--size` MiB from three providers by a node with a fresh data dir,
 * through `fetches.startFetch` / `waitForFetch` (every chunk checked against
 * its CID and written durably to the block store), against two references
 * measured in the same run between the same nodes:
 *
 * - raw: the same ciphertext bytes sent from memory over one libp2p stream
 *   from the first provider, unverified and not stored;
 * - bitswap (the reference of the target): the same chunk blocks moved by
 *   `@helia/bitswap` 4 from the same three providers, as a Helia session does
 *   once it knows them (every block wanted at once, each asked of one
 *   provider, round-robin, by `WANT-BLOCK`), between the same Kosmos block
 *   stores the fetch uses, as Helia blockstores: the providers read (and
 *   re-check) every block from disk and the receiver writes it durably to a
 *   fresh store, after bitswap has hashed it against its CID. Only the
 *   protocol differs from the fetch.
 *
 * Same conditions for every side:
 *
 * - Nothing else runs in the process while one is timed. Before every
 *   measurement (subject and references alike) the bench waits until no
 *   node's replication work runs (`replication.whenIdle()`: the fetched
 *   dataset's announcement and the provider count that follows it) and then
 *   until the whole process has been quiet (under 10 % of a core of process
 *   CPU over 250 ms; `settle` in lib/fair.ts), e.g. after a new node's DHT
 *   walks. `idle` in the JSON says how long that took and how often the
 *   process never got quiet within 15 s.
 * - Interleaved rounds: fetch, raw, bitswap, fetch, raw, bitswap, … Each
 *   fetch round uses a new fetcher node with a fresh data dir; the references
 *   of the round run between the same providers and that fetcher (the bitswap
 *   sink is a fresh store, removed after its round, as the fetcher's data dir
 *   is).
 * - A first round, not counted, warms every side up (first connections,
 *   first reads of the providers' stores, first use of the disk pages).
 * - Figures are medians over the rounds with their spread (min and max);
 *   each ratio is the median of the per-round ratios (the fetch against the
 *   reference measured in the same round), with its own min and max.
 * - Process CPU (user + system, every thread: the block workers hash and
 *   write there) per MiB is measured for every round of every side. The
 *   references do the same work in every round, so their CPU per MiB should
 *   not move: `cpuSpread` is (max − min) / median over the rounds, and
 *   `unstable` is true when a reference's moves by more than
 *   {@link CPU_SPREAD_LIMIT} (other work on the machine, memory the VM has
 *   not touched lately, ...): such a run's ratios are not to be trusted.
 *
 * All nodes share this process (one event loop, two cores on the usual
 * machine), so CPU spent anywhere slows every side alike. `load` is the
 * 1-minute load average before and after: other work on the machine makes
 * every figure noisier.
 *
 * The dataset is prepared once on the first provider; its blocks are copied
 * into the other two providers' stores (`put` re-checks every CID). No
 * provider announces it: the fetcher is told of the three (as a buyer is of
 * its seller), so no DHT lookup is on the clock.
 *
 * Prints one JSON line:
 * `{"bench":"fetch","mib":64,"rounds":5,"statistic":…,"mbPerSec":…,"spread":{"fetch":{"min":…,"max":…},"raw":…,"bitswap":…,"ratioRaw":…,"ratioBitswap":…},"reference":{"rawStreamMbPerSec":…,"bitswapMbPerSec":…},"ratioRaw":…,"ratioBitswap":…,"targets":{"vsRaw":0.7,"vsBitswap":2},"met":{…},"cpuMsPerMiB":{"fetch":…,"raw":…,"bitswap":…},"cpuMsPerMiBRounds":{…},"cpuSpread":{…},"unstable":false,"roundsMbPerSec":{…},"idle":{…},"load":[…,…]}`
 * (null for a bitswap figure when every round of it failed; `bitswapRetries`,
 * when present: bitswap tries that failed and were run again;
 * `bitswapFailedRounds`: rounds whose bitswap failed {@link BITSWAP_ATTEMPTS}
 * times, left out of its figures; `bitswapNote`: the last such failure).
 */
import type { Libp2p, PeerId, Startable } from "@libp2p/interface";
import { withBitswap } from "@helia/bitswap";
import { defaultLogger } from "@libp2p/logger";
import { sha256 } from "multiformats/hashes/sha2";
import type { CID } from "multiformats/cid";
import { cpuUsage } from "node:process";
import { type BlockStore, openBlockStore, prepareDataset } from "../../node/services/blocks/mod.ts";
import type { KosmosNode } from "../../node/node.ts";
import { cpuMsSince, newIdleStats, settle as settleNodes } from "./lib/fair.ts";
import { makeCsv, median, MiB, numberFlag, progress, round2, sendAll, startBenchNetwork } from "./net.ts";

const SIZE_MIB = numberFlag("size", numberFlag("mib", 64));
const ROUNDS = numberFlag("rounds", 5);
if (!Number.isInteger(ROUNDS)) throw new RangeError(`--rounds must be a whole number, got ${ROUNDS}`);
const PROVIDERS = 3;
const RAW_PROTOCOL = "/kosmos/bench/raw/1.0.0";
/** Tries of one bitswap measurement before its round is left out. */
const BITSWAP_ATTEMPTS = 3;
/** Largest (max − min) / median of a reference's CPU per MiB over the rounds of a stable run. */
const CPU_SPREAD_LIMIT = 0.15;

/** What bitswap (and this bench) use of a Helia blockstore. */
interface BenchBlockstore {
  has(cid: CID): Promise<boolean>;
  get(cid: CID): AsyncGenerator<Uint8Array>;
  /** Stores a block bitswap has already checked against its CID. */
  put(cid: CID, bytes: Uint8Array): Promise<unknown>;
}

/** A Kosmos block store as a Helia blockstore: durable atomic writes, every read re-checked. */
function kosmosBlockstore(store: BlockStore): BenchBlockstore {
  return {
    has: (cid) => store.has(cid),
    async *get(cid) {
      yield await store.get(cid);
    },
    put: (cid, bytes) => store.put(bytes, { cid, verified: true }),
  };
}

type Broker = Startable & {
  bitswap: {
    wantList: {
      wantSessionBlock(cid: CID, peer: PeerId, o?: object): Promise<{ has: boolean; block?: Uint8Array }>;
    };
  };
};

/** A started bitswap (the block broker `withBitswap` adds to a Helia node) over `libp2p`. */
async function startBitswap(libp2p: Libp2p, blockstore: BenchBlockstore): Promise<Broker> {
  let mixin: { start(h: unknown): Promise<void> } | undefined;
  let broker: Broker | undefined;
  // withBitswap() only needs these pieces of a Helia node; no routing: providers are given.
  const helia = {
    status: "starting",
    libp2p,
    blockstore,
    logger: defaultLogger(),
    routing: { async *findProviders() {} },
    getHasher: () => Promise.resolve(sha256),
    hasBlockBroker: () => false,
    addBlockBroker: (b: Broker) => broker = b,
    addMixin: (m: typeof mixin) => mixin = m,
  };
  // deno-lint-ignore no-explicit-any
  withBitswap(helia as any);
  await mixin?.start(helia);
  if (!broker) throw new Error("withBitswap() added no block broker");
  return broker;
}

/** One timed measurement: wall ms and process CPU ms. */
interface Sample {
  ms: number;
  cpuMs: number;
}

/** Times `work`, wall clock and process CPU. */
async function sample(work: () => Promise<void>): Promise<Sample> {
  const cpu = cpuUsage();
  const t = performance.now();
  await work();
  return { ms: performance.now() - t, cpuMs: cpuMsSince(cpu) };
}

/**
 * Every block of `cids` (`bytes` in all) from `senders` (each serving
 * `sources[i]`) to `receiver` over bitswap, all wanted at once into `sink`,
 * each asked of one sender, round-robin, as a Helia session does.
 */
async function timeBitswap(
  senders: Libp2p[],
  sources: BenchBlockstore[],
  receiver: Libp2p,
  sink: BenchBlockstore,
  cids: CID[],
  bytes: number,
): Promise<Sample> {
  const started: Broker[] = [];
  try {
    for (const [i, sender] of senders.entries()) started.push(await startBitswap(sender, sources[i]));
    const b = await startBitswap(receiver, sink);
    started.push(b);
    // Connected before the clock starts, as after a Helia session's provider lookup.
    for (const sender of senders) await receiver.dial(sender.getMultiaddrs());
    const signal = AbortSignal.timeout(120_000);
    let got = 0;
    const result = await sample(async () => {
      await Promise.all(cids.map(async (c, i) => {
        const r = await b.bitswap.wantList.wantSessionBlock(c, senders[i % senders.length].peerId, {
          signal,
        });
        if (!r.has || !r.block) throw new Error(`bitswap provider lacks block ${c}`);
        await sink.put(c, r.block);
        got += r.block.byteLength;
      }));
    });
    if (got !== bytes) throw new Error(`bitswap delivered ${got} of ${bytes} bytes`);
    return result;
  } finally {
    for (const broker of started.reverse()) await broker.stop();
  }
}

/** How the waits for an idle process went. */
const idle = newIdleStats();

/** Waits until no node's replication work runs and the process is quiet (`lib/fair.ts`). */
function settle(nodes: KosmosNode[]): Promise<void> {
  return settleNodes(nodes, idle);
}

const net = await startBenchNetwork(PROVIDERS, { logLevel: "error" });
let exitCode = 0;
try {
  const providers = net.nodes.slice(0, PROVIDERS);
  const [first] = providers;
  progress(`preparing ${SIZE_MIB} MiB on the first provider`);
  const { manifest, manifestCid, cid } = await prepareDataset(
    first.components.blocks,
    ReadableStream.from([makeCsv(SIZE_MIB * MiB)]),
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

  await first.components.p2p.libp2p.handle(RAW_PROTOCOL, (stream) => sendAll(stream, chunks));
  const timeRaw = (receiver: Libp2p): Promise<Sample> =>
    sample(async () => {
      const stream = await receiver.dialProtocol(first.components.p2p.peerId, RAW_PROTOCOL);
      let got = 0;
      for await (const piece of stream) got += piece.byteLength;
      await stream.close();
      if (got !== cipherBytes) throw new Error(`raw stream delivered ${got} of ${cipherBytes} bytes`);
    });
  const providerIds = providers.map((p) => p.peerId);
  const providerLibp2ps = providers.map((p) => p.components.p2p.libp2p);
  const sources = providers.map((p) => kosmosBlockstore(p.components.blocks));
  const load = [round2(Deno.loadavg()[0])];
  type Side = "fetch" | "raw" | "bitswap";
  // Every counted round of each side; a bitswap round whose every try failed is null.
  const samples: Record<Side, (Sample | null)[]> = { fetch: [], raw: [], bitswap: [] };
  let bitswapRetries = 0;
  let bitswapFailedRounds = 0;
  let bitswapNote: string | undefined;
  // Round 0 warms every side up and counts for none.
  for (let round = 0; round <= ROUNDS; round++) {
    const timed = round > 0;
    const label = timed ? `round ${round}/${ROUNDS}` : "warm-up";
    // A fetcher with a fresh data dir; it learns of all three providers from the start.
    const fetcher = await net.addNode();
    const quiet = () => settle(net.nodes);
    progress(
      `${label}: fetching ${manifest.chunks.length} chunks (${round2(cipherBytes / MiB)} MiB) verified`,
    );
    await quiet();
    const fetched = await sample(async () => {
      fetcher.components.fetches.startFetch(manifestCid, { providers: providerIds });
      const done = await fetcher.components.fetches.waitForFetch(manifestCid, { timeout: 150_000 });
      if (done.chunksVerified !== manifest.chunks.length) throw new Error("verified fetch is incomplete");
    });
    for (const chunk of manifest.chunks) {
      if (!(await fetcher.components.blocks.has(chunk))) throw new Error(`fetcher lacks chunk ${chunk}`);
    }
    if (timed) samples.fetch.push(fetched);
    const receiver = fetcher.components.p2p.libp2p;

    progress(`${label}: timing the raw stream`);
    await quiet();
    const raw = await timeRaw(receiver);
    if (timed) samples.raw.push(raw);

    // A bitswap stream is now and then reset under load, or its connection
    // closed; such a try is run again (with a fresh sink and new connections).
    let bitswap: Sample | null = null;
    for (let attempt = 1; attempt <= BITSWAP_ATTEMPTS && bitswap === null; attempt++) {
      const sinkDir = await Deno.makeTempDir({ prefix: "kosmos-bench-bitswap-" });
      let sinkStore: BlockStore | undefined;
      try {
        progress(`${label}: timing bitswap from the three providers' block stores`);
        // A failed try may leave a connection whose muxer is closed: start afresh.
        if (attempt > 1) {
          await Promise.all(providerLibp2ps.map((s) => receiver.hangUp(s.peerId).catch(() => {})));
        }
        sinkStore = await openBlockStore(sinkDir);
        const sink = kosmosBlockstore(sinkStore);
        await quiet();
        bitswap = await timeBitswap(providerLibp2ps, sources, receiver, sink, manifest.chunks, cipherBytes);
      } catch (err) {
        bitswapNote = `bitswap failed: ${(err as Error).message}`;
        progress(bitswapNote);
        if (timed && attempt < BITSWAP_ATTEMPTS) bitswapRetries++;
        if (timed && attempt === BITSWAP_ATTEMPTS) bitswapFailedRounds++;
      } finally {
        sinkStore?.close();
        await Deno.remove(sinkDir, { recursive: true }).catch(() => {});
      }
    }
    if (timed) samples.bitswap.push(bitswap);
    await fetcher.stop().catch(() => {});
    net.nodes.splice(net.nodes.indexOf(fetcher), 1);
    // The next round writes into the page cache this round's copy leaves, as
    // a node in a steady state does and as the bitswap sink does. Kept, every
    // round would take memory the machine has not touched before, which on a
    // virtual machine costs the guest a host page fault per page.
    await Deno.remove(fetcher.config.dataDir, { recursive: true }).catch(() => {});
  }
  load.push(round2(Deno.loadavg()[0]));

  const mib = cipherBytes / MiB;
  const present = (xs: (Sample | null)[]) => xs.filter((x): x is Sample => x !== null);
  const rates = (side: Side) => samples[side].map((s) => s === null ? null : mib / (s.ms / 1000));
  const cpuPerMiB = (side: Side) => present(samples[side]).map((s) => s.cpuMs / mib);
  /** Median, min and max of the numbers in `xs`, or null when there are none. */
  const stats = (xs: (number | null)[]) => {
    const got = xs.filter((x): x is number => x !== null);
    if (got.length === 0) return null;
    return { median: round2(median(got)), min: round2(Math.min(...got)), max: round2(Math.max(...got)) };
  };
  const fetchRates = rates("fetch");
  /** The fetch's rate over `reference`'s, round by round. */
  const ratios = (reference: (number | null)[]) =>
    reference.map((r, i) => r === null || fetchRates[i] === null ? null : fetchRates[i]! / r);
  const cpuSpread = (side: Side) => {
    const xs = cpuPerMiB(side);
    return xs.length > 0 ? round2((Math.max(...xs) - Math.min(...xs)) / median(xs)) : null;
  };
  const spreads = { fetch: cpuSpread("fetch"), raw: cpuSpread("raw"), bitswap: cpuSpread("bitswap") };
  const unstable = [spreads.raw, spreads.bitswap].some((s) => s !== null && s > CPU_SPREAD_LIMIT);
  const speed = { fetch: stats(fetchRates)!, raw: stats(rates("raw"))!, bitswap: stats(rates("bitswap")) };
  const ratioRaw = stats(ratios(rates("raw")))!;
  const ratioBitswap = stats(ratios(rates("bitswap")));
  const targets = { vsRaw: 0.7, vsBitswap: 2 };
  const minMax = (s: { min: number; max: number } | null) => s && { min: s.min, max: s.max };
  const cpuMedian = (side: Side) => cpuPerMiB(side).length > 0 ? round2(median(cpuPerMiB(side))) : null;
  console.log(JSON.stringify({
    bench: "fetch",
    mib: SIZE_MIB,
    chunks: manifest.chunks.length,
    providers: PROVIDERS,
    rounds: ROUNDS,
    statistic: "median of rounds (spread: min and max); ratios: median of the per-round ratios",
    mbPerSec: speed.fetch.median,
    reference: { rawStreamMbPerSec: speed.raw.median, bitswapMbPerSec: speed.bitswap?.median ?? null },
    ratioRaw: ratioRaw.median,
    ratioBitswap: ratioBitswap?.median ?? null,
    spread: {
      fetch: minMax(speed.fetch),
      raw: minMax(speed.raw),
      bitswap: minMax(speed.bitswap),
      ratioRaw: minMax(ratioRaw),
      ratioBitswap: minMax(ratioBitswap),
    },
    targets,
    met: {
      vsRaw: ratioRaw.median >= targets.vsRaw,
      vsBitswap: ratioBitswap !== null && ratioBitswap.median >= targets.vsBitswap,
    },
    cpuMsPerMiB: { fetch: cpuMedian("fetch"), raw: cpuMedian("raw"), bitswap: cpuMedian("bitswap") },
    cpuMsPerMiBRounds: {
      fetch: cpuPerMiB("fetch").map(round2),
      raw: cpuPerMiB("raw").map(round2),
      bitswap: cpuPerMiB("bitswap").map(round2),
    },
    cpuSpread: spreads,
    cpuSpreadLimit: CPU_SPREAD_LIMIT,
    unstable,
    roundsMbPerSec: {
      fetch: fetchRates.map((x) => x === null ? null : round2(x)),
      raw: rates("raw").map((x) => x === null ? null : round2(x)),
      bitswap: rates("bitswap").map((x) => x === null ? null : round2(x)),
    },
    idle,
    load,
    ...(bitswapRetries > 0 ? { bitswapRetries } : {}),
    ...(bitswapFailedRounds > 0 ? { bitswapFailedRounds, bitswapNote } : {}),
  }));
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  await net.stop();
}
Deno.exit(exitCode);
