/**
 * `deno task bench purchase [--samples 5] [--bytes 10485760] [--block-time 2]`: a purchase
 * between two nodes against a plain fetch of the same bytes, in this process, on loopback, with
 * one anvil.
 *
 * Subject: the buyer's whole purchase, from asking the seller for a quote to the verified
 * plaintext in hand (quote, open with permit, the ciphertext download, reveal, the check of every
 * chunk and of the Merkle root with the key, confirm, then reading the plaintext). The plaintext
 * is compared with the original byte for byte; a difference ends the bench.
 * Reference: a third node fetches the same dataset's ciphertext from the same seller with a plain
 * fetch (what the purchase costs without the sale).
 *
 * Same conditions: the buyer's and the fetcher's replication is stopped (it would take a replica
 * of every new listing on its own, and the purchase or the fetch would then read a local copy);
 * every round publishes a new dataset (different bytes), then measures the
 * purchase and the reference of it, in alternating order (neither always reads the seller's
 * blocks first), each after the nodes' replication work finished and the process went quiet. A
 * warm-up round of both sides is not counted. Figures are medians of `--samples` rounds with
 * their min and max; `ratio` is the median of the per-round purchase / reference ratios.
 *
 * The chain first mines every transaction at once (`instant`). With `--block-time S` the bench
 * then runs again on an anvil that mines a block every S seconds (`blockTime`): what waiting for
 * blocks adds to a purchase's three transactions. The nodes poll the dev chain every 200 ms; a
 * node on a public chain polls every 4 s, which adds up to that per transaction on top.
 *
 * Prints one JSON line (the top-level figures are the instant chain's):
 *
 *     {"bench":"purchase","bytes":…,"samples":5,"ms":…,"msMin":…,"msMax":…,"ratio":…,"txs":{"buyer":2,"seller":1},
 *      "verified":"byte-for-byte","target":{"ms":1500,"txs":3},"met":true,"reference":{"fetchMs":…,…},
 *      "instant":{…},"blockTime":{"seconds":2,"ms":…,…}|null,"machine":{…}}
 */
import { createNode, type KosmosNode } from "../../node/node.ts";
import { createLogger } from "../../node/log.ts";
import { startAnvil } from "../../node/services/chain/anvil.ts";
import { setUpDevChain } from "../../node/services/chain/dev_chain.ts";
import { getContractsPath, writeContractsFile } from "../../node/services/chain/contracts.ts";
import {
  interleave,
  machine,
  measure,
  newIdleStats,
  numberArg,
  progress,
  round2,
  sameBytes,
  settle,
  summarize,
} from "./lib/fair.ts";

const MiB = 1024 * 1024;
const SAMPLES = numberArg("samples", 5);
const BYTES = numberArg("bytes", 10 * MiB);
const BLOCK_TIME = numberArg("block-time", 0, 0);
const TARGET = { ms: 1500, txs: 3 };

/** A sensor-readings CSV of about `size` bytes, different for every `round`. */
function makeCsv(size: number, round: number): Uint8Array {
  const lines = ["id,ts,sensor,value"];
  let total = lines[0].length + 1;
  for (let i = 0; total < size; i++) {
    const line = `${i},${1_700_000_000_000 + i * 1000},s${(i + round) % 97},${(i * 7919 % 100_000) / 100}`;
    lines.push(line);
    total += line.length + 1;
  }
  return new TextEncoder().encode(lines.join("\n") + "\n");
}

/** Both sides' figures on one chain. */
async function runVariant(blockTime: number) {
  const label = blockTime ? `${blockTime} s blocks` : "instant mining";
  progress(`purchase (${label}): starting anvil and three nodes`);
  const anvil = await startAnvil({ blockTime });
  const nodes: KosmosNode[] = [];
  const dirs: string[] = [];
  const logger = createLogger({ level: "error" });
  try {
    const dev = await setUpDevChain(anvil.rpcUrl);
    const start = async (): Promise<KosmosNode> => {
      const dataDir = await Deno.makeTempDir({ prefix: "kosmos-bench-" });
      dirs.push(dataDir);
      await writeContractsFile(getContractsPath(dataDir), { chainId: 31337, contracts: dev.contracts });
      const node = await createNode({
        dataDir,
        port: 0,
        listen: ["/ip4/127.0.0.1/tcp/0"],
        bootstrap: nodes.slice(0, 1).map((n) => n.components.p2p.listenAddresses()[0]),
        rpcUrl: anvil.rpcUrl,
      }, { logger });
      await node.start();
      nodes.push(node);
      await dev.fund(node.address);
      return node;
    };
    const seller = await start();
    const buyer = await start();
    const fetcher = await start();
    // Replication would make the buyer and the fetcher take a replica of every new listing on their
    // own (three nodes, three replicas wanted): both would then measure a copy from their own disk.
    await buyer.components.replication.stop();
    await fetcher.components.replication.stop();

    let current: { manifestCid: string; data: Uint8Array } = { manifestCid: "", data: new Uint8Array() };
    /** A new dataset for every round, listed, staked and in the buyer's catalog before measuring. */
    const publish = async (round: number) => {
      progress(`purchase (${label}): ${round < 0 ? "warm-up" : `round ${round + 1}/${SAMPLES}`}`);
      const data = makeCsv(BYTES, round + 1);
      const { manifestCid } = await seller.components.datasets.publishDataset(ReadableStream.from([data]), {
        title: `Bench readings ${round + 1}`,
        category: "sensors",
        price: 10n ** 18n,
        licence: "kosmos-research-1",
        filename: "bench.csv",
      });
      await seller.facade.stakeListing({ manifestCid, amount: 100n * 10n ** 18n });
      const deadline = Date.now() + 10_000 + 5_000 * blockTime;
      while (true) {
        try {
          buyer.components.catalog.getListing(manifestCid);
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      current = { manifestCid, data };
    };

    let txs = { buyer: 0, seller: 0 };
    const idle = newIdleStats();
    const rounds = await interleave(SAMPLES, {
      purchase: async () => {
        const { manifestCid, data } = current;
        const { ms, result: plaintext } = await measure(async () => {
          const purchase = await buyer.components.market.buy(manifestCid);
          const done = await buyer.components.market.waitForPurchase(purchase.id, { timeout: 120_000 });
          const sale = seller.components.market.getSale(done.saleId);
          txs = { buyer: done.txs.length, seller: sale?.txs.length ?? 0 };
          const { stream } = await buyer.components.market.readPurchaseData(done.id);
          return new Uint8Array(await new Response(stream).arrayBuffer());
        });
        if (!sameBytes(plaintext, data)) {
          throw new Error(`the bought plaintext differs from the original (${plaintext.byteLength} bytes)`);
        }
        return ms;
      },
      reference: async () => {
        const { manifestCid } = current;
        const { ms } = await measure(async () => {
          fetcher.components.fetches.startFetch(manifestCid, { providers: [seller.peerId] });
          await fetcher.components.fetches.waitForFetch(manifestCid, { timeout: 120_000 });
        });
        return ms;
      },
    }, { onRound: publish, before: () => settle(nodes, idle) });

    const purchase = summarize(rounds.purchase);
    const reference = summarize(rounds.reference);
    const ratio = summarize(rounds.purchase.map((ms, i) => ms / rounds.reference[i]));
    return {
      blockTime,
      ms: Math.round(purchase.median),
      msMin: Math.round(purchase.min),
      msMax: Math.round(purchase.max),
      samples: purchase.samples.map(Math.round),
      ratio: ratio.median,
      ratioMin: ratio.min,
      ratioMax: ratio.max,
      txs,
      reference: {
        fetchMs: Math.round(reference.median),
        fetchMsMin: Math.round(reference.min),
        fetchMsMax: Math.round(reference.max),
        samples: reference.samples.map(Math.round),
      },
      idle,
    };
  } finally {
    await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
    await anvil.stop();
    await Promise.all(dirs.map((d) => Deno.remove(d, { recursive: true }).catch(() => {})));
  }
}

const instant = await runVariant(0);
const slow = BLOCK_TIME > 0 ? await runVariant(BLOCK_TIME) : null;
console.log(JSON.stringify({
  bench: "purchase",
  bytes: BYTES,
  chunks: Math.ceil(BYTES / MiB),
  samples: SAMPLES,
  ms: instant.ms,
  msMin: instant.msMin,
  msMax: instant.msMax,
  ratio: instant.ratio,
  txs: instant.txs,
  verified: "byte-for-byte",
  target: TARGET,
  met: instant.ms < TARGET.ms && instant.txs.buyer + instant.txs.seller <= TARGET.txs,
  reference: instant.reference,
  instant,
  blockTime: slow && {
    seconds: slow.blockTime,
    ms: slow.ms,
    msMin: slow.msMin,
    msMax: slow.msMax,
    samples: slow.samples,
    addedMs: slow.ms - instant.ms,
    txs: slow.txs,
    reference: slow.reference,
    ratio: slow.ratio,
    idle: slow.idle,
  },
  machine: machine(),
}));
// Helps a reader of the JSON: the sale's own share of the instant purchase.
progress(`purchase: the sale adds ${round2(instant.ms - instant.reference.fetchMs)} ms to the plain fetch`);
