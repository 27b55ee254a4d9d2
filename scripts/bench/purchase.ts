/**
 * `deno task bench purchase [bytes] [rounds]`: one seller and one buyer node
 * (in this process, on loopback, one anvil) and a 10 MiB dataset per round
 * (5 rounds by default, a different dataset each). Measures the wall time
 * from the buyer's quote request to the verified plaintext (quote, open with
 * permit, the ciphertext download, reveal, the check of every chunk and the
 * Merkle root with the key, confirm, then reading the plaintext) and counts
 * the transactions each side sent. Reference: a plain fetch of the same
 * dataset by a third node, measured in the same round. Prints one JSON line
 * with the median, the spread and every sample:
 *
 *     {"bench":"purchase","bytes":…,"rounds":5,"ms":…,"msMin":…,"msMax":…,"samples":[…],"txs":{"buyer":2,"seller":1},"target":{"ms":1500,"txs":3},"met":true,"reference":{"fetchMs":…}}
 */
import { createNode, type KosmosNode } from "../../node/node.ts";
import { createLogger } from "../../node/log.ts";
import { startAnvil } from "../../node/services/chain/anvil.ts";
import { setUpDevChain } from "../../node/services/chain/dev_chain.ts";
import { getContractsPath, writeContractsFile } from "../../node/services/chain/contracts.ts";

const MiB = 1024 * 1024;
const bytes = Number(Deno.args[0] ?? 10 * MiB);
const rounds = Number(Deno.args[1] ?? 5);
if (!Number.isSafeInteger(bytes) || bytes < 1 || !Number.isSafeInteger(rounds) || rounds < 1) {
  console.error("usage: deno task bench purchase [bytes] [rounds]");
  Deno.exit(2);
}

const anvil = await startAnvil();
const dev = await setUpDevChain(anvil.rpcUrl);
const nodes: KosmosNode[] = [];
const dirs: string[] = [];
const logger = createLogger({ level: "error" });

async function start(): Promise<KosmosNode> {
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
}

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

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

try {
  const seller = await start();
  const buyer = await start();
  const plain = await start();
  const samples: number[] = [];
  const fetches: number[] = [];
  let txs = { buyer: 0, seller: 0 };
  for (let round = 0; round < rounds; round++) {
    const data = makeCsv(bytes, round);
    const { manifestCid } = await seller.components.datasets.publishDataset(ReadableStream.from([data]), {
      title: `Bench readings ${round}`,
      category: "sensors",
      price: 10n ** 18n,
      licence: "kosmos-research-1",
      filename: "bench.csv",
    });
    await seller.facade.stakeListing({ manifestCid, amount: 100n * 10n ** 18n });
    const deadline = Date.now() + 10_000;
    while (true) {
      try {
        buyer.components.catalog.getListing(manifestCid);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    const fetchStart = performance.now();
    plain.components.fetches.startFetch(manifestCid, { providers: [seller.peerId] });
    await plain.components.fetches.waitForFetch(manifestCid, { timeout: 60_000 });
    fetches.push(performance.now() - fetchStart);

    const started = performance.now();
    const purchase = await buyer.components.market.buy(manifestCid);
    const done = await buyer.components.market.waitForPurchase(purchase.id, { timeout: 60_000 });
    const { stream } = await buyer.components.market.readPurchaseData(done.id);
    const plaintext = new Uint8Array(await new Response(stream).arrayBuffer());
    samples.push(performance.now() - started);
    if (plaintext.byteLength !== data.byteLength) throw new Error("the plaintext differs from the original");
    const sale = seller.components.market.getSale(done.saleId);
    txs = { buyer: done.txs.length, seller: sale?.txs.length ?? 0 };
  }
  const ms = Math.round(median(samples));
  console.log(JSON.stringify({
    bench: "purchase",
    bytes,
    chunks: Math.ceil(bytes / MiB),
    rounds,
    ms,
    msMin: Math.round(Math.min(...samples)),
    msMax: Math.round(Math.max(...samples)),
    samples: samples.map(Math.round),
    txs,
    target: { ms: 1500, txs: 3 },
    met: ms < 1500 && txs.buyer + txs.seller <= 3,
    reference: { fetchMs: Math.round(median(fetches)) },
  }));
} finally {
  await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
  await anvil.stop();
  await Promise.all(dirs.map((d) => Deno.remove(d, { recursive: true }).catch(() => {})));
}
