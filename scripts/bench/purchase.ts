/**
 * `deno task bench purchase`: one seller and one buyer node (in this process,
 * on loopback, one anvil) and a 10 MiB dataset. Measures the wall time from
 * the buyer's quote request to the verified plaintext (quote, open with
 * permit, reveal, confirm, fetch, decrypt with the Merkle check) and counts
 * the transactions each side sent. Reference: a plain fetch of the same
 * dataset by a third node, measured in the same run. Prints one JSON line:
 *
 *     {"bench":"purchase","bytes":…,"ms":…,"txs":{"buyer":2,"seller":1},"target":{"ms":3000,"txs":3},"reference":{"fetchMs":…}}
 */
import { createNode, type KosmosNode } from "../../node/node.ts";
import { createLogger } from "../../node/log.ts";
import { startAnvil } from "../../node/services/chain/anvil.ts";
import { setUpDevChain } from "../../node/services/chain/dev_chain.ts";
import { getContractsPath, writeContractsFile } from "../../node/services/chain/contracts.ts";

const MiB = 1024 * 1024;
const bytes = Number(Deno.args[0] ?? 10 * MiB);

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

function makeCsv(size: number): Uint8Array {
  const lines = ["id,ts,sensor,value"];
  let total = lines[0].length + 1;
  for (let i = 0; total < size; i++) {
    const line = `${i},${1_700_000_000_000 + i * 1000},s${i % 97},${(i * 7919 % 100_000) / 100}`;
    lines.push(line);
    total += line.length + 1;
  }
  return new TextEncoder().encode(lines.join("\n") + "\n");
}

try {
  const seller = await start();
  const buyer = await start();
  const plain = await start();
  const data = makeCsv(bytes);
  const { manifestCid } = await seller.components.datasets.publishDataset(ReadableStream.from([data]), {
    title: "Bench readings",
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
  const fetchMs = performance.now() - fetchStart;

  const started = performance.now();
  const purchase = await buyer.components.market.buy(manifestCid);
  const done = await buyer.components.market.waitForPurchase(purchase.id, { timeout: 60_000 });
  const { stream } = await buyer.components.market.readPurchaseData(done.id);
  const plaintext = new Uint8Array(await new Response(stream).arrayBuffer());
  const ms = performance.now() - started;
  if (plaintext.byteLength !== data.byteLength) throw new Error("the plaintext differs from the original");
  const sale = seller.components.market.getSale(done.saleId);
  console.log(JSON.stringify({
    bench: "purchase",
    bytes: data.byteLength,
    chunks: Math.ceil(data.byteLength / MiB),
    ms: Math.round(ms),
    txs: { buyer: done.txs.length, seller: sale?.txs.length ?? 0 },
    target: { ms: 3000, txs: 3 },
    reference: { fetchMs: Math.round(fetchMs) },
  }));
} finally {
  await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
  await anvil.stop();
  await Promise.all(dirs.map((d) => Deno.remove(d, { recursive: true }).catch(() => {})));
}
