/**
 * Attack (finding 7): flood a seller with quote requests.
 *
 * The attacker's node sends many quote requests over the real sale protocol,
 * from one peer, and for one buyer address from several peers, and never
 * opens a sale. On the old code every request was served: 40 requests wrote
 * 40 rows to the seller's database in under half a second, each also taking
 * a nonce (a database write), signing, and starting a poll of the chain for
 * that sale on every block (`eth_getLogs` with the sale id, plus the chain
 * time), so the seller's RPC load grew with every unopened quote.
 *
 * Now: beyond the per-peer and per-buyer token buckets the seller answers
 * "rate-limited" without touching the chain; the quotes it did hand out stay
 * in memory (no sale row, one nonce-block reservation, no nonce used on
 * chain), and it follows the escrow through the indexer's one event stream,
 * so its RPC traffic while blocks are mined does not grow with the quotes.
 * The seller's RPC calls are counted by a proxy in front of anvil.
 */
import assert from "node:assert/strict";
import { type Hex, keccak256, numberToHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { SaleResponse } from "../../node/services/market/mod.ts";
import { kosmosEscrowAbi } from "../../protocol/contracts_generated.ts";
import { makeCsv } from "../helpers.ts";
import { askQuote, listForSale, startMarketCluster } from "../market_cluster.ts";

const ONE = 10n ** 18n;
/** The market's defaults: a burst of 10 quote requests per peer and per buyer. */
const BURST = 10;

function addressOf(i: number): Hex {
  return privateKeyToAccount(keccak256(numberToHex(i + 1, { size: 32 }))).address;
}

/** A JSON-RPC proxy on loopback in front of anvil that counts the calls it forwards, by method. */
function startCountingProxy(target: string) {
  const calls: { method: string; params: unknown }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.text();
    try {
      const parsed = JSON.parse(body);
      for (const call of Array.isArray(parsed) ? parsed : [parsed]) {
        calls.push({ method: call.method, params: call.params });
      }
    } catch { /* forwarded as is */ }
    const res = await fetch(target, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    return new Response(res.body, { status: res.status, headers: { "content-type": "application/json" } });
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, calls, stop: () => server.shutdown() };
}

Deno.test("a quote flood is refused beyond the limits and leaves no rows, nonces or chain polling behind", async (t) => {
  await using cluster = await startMarketCluster({ prefix: "kosmos-attack-flood-" });
  const proxy = startCountingProxy(cluster.anvil.rpcUrl);
  try {
    const seller = await cluster.start({ config: { rpcUrl: proxy.url } });
    const attacker = await cluster.start();
    const accomplice = await cluster.start();
    const accomplice2 = await cluster.start();
    const { manifestCid } = await listForSale(seller, makeCsv(64 * 1024), {
      price: ONE,
      viewers: [attacker],
    });
    const rows = () =>
      (seller.components.db.prepare("SELECT COUNT(*) AS n FROM market_sales").get() as { n: number }).n;
    const nonceRows = () =>
      (seller.components.db.prepare("SELECT COUNT(*) AS n FROM market_nonces").get() as { n: number }).n;
    const mine = async (blocks: number) => {
      for (let i = 0; i < blocks; i++) {
        await cluster.increaseTime(1);
        await new Promise((r) => setTimeout(r, 300));
      }
      await new Promise((r) => setTimeout(r, 1200)); // the indexer's poll sees the last one
    };

    // Baseline: what the seller asks the chain while 5 blocks are mined and no quote is open.
    await mine(1);
    let mark = proxy.calls.length;
    await mine(5);
    const baseline = proxy.calls.length - mark;

    const offered: SaleResponse[] = [];
    await t.step("one peer: 40 requests, the first 10 quoted, the rest refused 'rate-limited'", async () => {
      const responses: SaleResponse[] = [];
      for (let i = 0; i < BURST; i++) {
        responses.push(await askQuote(attacker, seller, manifestCid, addressOf(i)));
      }
      // The burst is spent: from here on every refusal must cost the seller no chain call.
      mark = proxy.calls.length;
      const started = performance.now();
      for (let i = BURST; i < 40; i++) {
        responses.push(await askQuote(attacker, seller, manifestCid, addressOf(i)));
      }
      const refusedCalls = proxy.calls.slice(mark).filter((c) => c.method !== "eth_blockNumber");
      const codes = responses.map((r) => ("error" in r ? r.error.code : "quote"));
      assert.deepEqual(codes.slice(0, BURST), Array(BURST).fill("quote"));
      assert.deepEqual(codes.slice(BURST), Array(40 - BURST).fill("rate-limited"));
      // The indexer's own poll (one eth_blockNumber a second) may run meanwhile; nothing else may.
      assert.ok(
        refusedCalls.length <= 2 * Math.ceil((performance.now() - started) / 1000),
        `refused requests reached the chain: ${refusedCalls.map((c) => c.method).join(", ")}`,
      );
      offered.push(...responses.filter((r) => !("error" in r)));
    });

    await t.step(
      "one buyer address from other peers: refused once that buyer's bucket is spent",
      async () => {
        const victim = addressOf(1000);
        for (let i = 0; i < BURST; i++) {
          const r = await askQuote(i % 2 === 0 ? accomplice : accomplice2, seller, manifestCid, victim);
          assert.ok(!("error" in r), `request ${i} for the victim was quoted`);
          offered.push(r);
        }
        // The accomplice's own bucket still has tokens; the victim's is empty.
        const again = await askQuote(accomplice, seller, manifestCid, victim);
        assert.ok("error" in again && again.error.code === "rate-limited", "the buyer's bucket is spent");
        const other = await askQuote(accomplice, seller, manifestCid, addressOf(2000));
        assert.ok(!("error" in other), "another buyer from the same peer is still quoted");
        offered.push(other);
      },
    );

    await t.step("unopened quotes: no sale rows, one nonce reservation, no nonce used on chain", async () => {
      assert.equal(rows(), 0);
      assert.ok(nonceRows() <= 1);
      assert.equal(seller.components.market.openQuotes, offered.length);
      const client = seller.components.chain.client;
      for (const offer of offered.slice(0, 3)) {
        if ("error" in offer) continue;
        const used = await client.publicClient.readContract({
          address: client.contracts.escrow,
          abi: kosmosEscrowAbi,
          functionName: "isNonceUsed",
          args: [seller.address, offer.quote.nonce],
        });
        assert.equal(used, false);
      }
    });

    await t.step(
      "the seller's chain traffic while blocks are mined does not grow with its open quotes",
      async () => {
        mark = proxy.calls.length;
        await mine(5);
        const during = proxy.calls.slice(mark);
        // The old per-sale poll: eth_getLogs on the escrow with the sale id as topic 1.
        const perSale = during.filter((c) =>
          c.method === "eth_getLogs" &&
          ((c.params as { topics?: unknown[] }[])[0]?.topics ?? []).some((topic) => topic !== null)
        );
        assert.deepEqual(perSale, [], "no eth_getLogs filtered by a sale id");
        // The old code added two calls per open quote per block here: 5 blocks × 11+ quotes × 2 > 100.
        assert.ok(
          during.length <= baseline + 15,
          `${during.length} calls with ${offered.length} open quotes vs ${baseline} with none`,
        );
        assert.equal(rows(), 0);
      },
    );
  } finally {
    await proxy.stop();
  }
});
