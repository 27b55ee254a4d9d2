/**
 * Earnings end to end on one anvil with our contracts and real nodes: a pool operator (a dev account
 * driving the contracts directly) creates a pool, registers a registry listing it owns as a version
 * with two contributors, sells it through the escrow and distributes each sale with
 * `poolSaleLeaves`. The contributor's node shows the exact share (`GET /api/v1/earnings`), claims it
 * (`POST /api/v1/earnings/claims`, balance delta exact), answers a second claim from the first
 * (`alreadyClaimed`, nothing sent), sends one transaction for two concurrent claims, and reports a
 * distribution whose root the events do not imply as `unverifiable` (409 on a claim). The
 * distributor's node publishes the ended epoch with sales (after a restart that happened while it
 * ended), never twice, and the contributor claims its epoch reward exactly with `kosmos claim`.
 * Every status of the routes: 200, 400, 401, 404, 405, 409, 415, 422, 503.
 */
import assert from "node:assert/strict";
import { type Address, type Hex, keccak256, parseAbiItem, toBytes } from "viem";
import type { ClaimsView, EarningsView, EarningView, MiningView } from "../protocol/api/mod.ts";
import { buildDistribution, poolSaleLeaves } from "../protocol/rewards.ts";
import { createNode } from "../node/node.ts";
import {
  createPool,
  distributeSale,
  ensureAllowance,
  getEpochReward,
  type KosmosClient,
  listDataset,
  registerVersion,
} from "../node/services/chain/mod.ts";
import {
  completeSale,
  createDevClient,
  makeDekCommit,
  makeManifestCid,
  ONE,
} from "../node/services/chain/testing.ts";
import type { KosmosNode } from "../node/node.ts";
import { ownerFetch, testLogger, waitFor } from "./helpers.ts";
import { kosmos, readTokenBalance } from "./cli.ts";
import { startMarketCluster } from "./market_cluster.ts";

const PRICE = 50n * ONE;
const FEE_BPS = 1000;

const completedEvent = parseAbiItem(
  "event Completed(bytes32 indexed saleId, bool confirmed, uint256 toSeller, uint256 toGateway, uint256 toTreasury)",
);
const epochPublishedEvent = parseAbiItem(
  "event EpochPublished(uint256 indexed epoch, uint256 indexed distributionId, bytes32 root, uint256 total)",
);
const claimedEvent = parseAbiItem(
  "event Claimed(uint256 indexed distributionId, uint256 indexed index, address indexed account, uint256 amount)",
);

async function call(
  node: KosmosNode,
  method: string,
  path: string,
  body?: unknown,
  type = "application/json",
) {
  const response = await ownerFetch(node, path, {
    method,
    headers: { accept: "application/json", ...(body !== undefined ? { "content-type": type } : {}) },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

async function earnings(node: KosmosNode): Promise<EarningsView> {
  const { status, body } = await call(node, "GET", "/api/v1/earnings");
  assert.equal(status, 200, JSON.stringify(body));
  return body;
}

/** Sells `listingId` from the operator to the buyer; resolves with the sale id, its seller share and block time. */
async function sell(operator: KosmosClient, buyer: KosmosClient, listingId: bigint) {
  const from = await operator.publicClient.getBlockNumber({ cacheTime: 0 });
  await completeSale(operator, buyer, listingId, PRICE);
  const [log] = await operator.publicClient.getLogs({
    address: operator.contracts.escrow,
    event: completedEvent,
    fromBlock: from + 1n,
  });
  const block = await operator.publicClient.getBlock({ blockNumber: log.blockNumber });
  return { saleId: log.args.saleId as Hex, toSeller: log.args.toSeller!, time: block.timestamp };
}

/** The share of `rows[i]` of `total` by hand: floor, and the unit left over to the larger remainder (ties: lower address). */
function shareOf(total: bigint, accounts: Address[], rows: bigint[], me: Address): bigint {
  const sum = rows.reduce((a, b) => a + b, 0n);
  const parts = accounts.map((a, i) => ({ a, amount: total * rows[i] / sum, rest: total * rows[i] % sum }));
  let left = total - parts.reduce((s, p) => s + p.amount, 0n);
  for (
    const p of [...parts].sort((x, y) =>
      x.rest !== y.rest ? (x.rest > y.rest ? -1 : 1) : x.a.toLowerCase() < y.a.toLowerCase() ? -1 : 1
    )
  ) {
    if (left === 0n) break;
    p.amount += 1n;
    left -= 1n;
  }
  return parts.find((p) => p.a === me)!.amount;
}

Deno.test("earnings: pool sales and mining epochs are derived from chain events, claimed once each, and published once", async (t) => {
  const roles = await Deno.makeTempDir({ prefix: "kosmos-earnings-roles-" });
  await using cluster = await startMarketCluster({ prefix: "kosmos-earnings-", roles });
  const distributorNode = await cluster.start({ dataDir: roles, fund: true });
  const node = await cluster.start();
  const rpcUrl = cluster.anvil.rpcUrl;
  const contracts = cluster.dev.contracts;
  const operator = createDevClient(rpcUrl, contracts, 1);
  const buyer = createDevClient(rpcUrl, contracts, 2);
  const other = createDevClient(rpcUrl, contracts, 3).walletClient.account.address;
  for (const client of [operator, buyer]) await cluster.dev.fund(client.walletClient.account.address);
  const me = node.address;
  const contributors = [me, other].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));
  const rows: bigint[] = contributors.map((c) => (c === me ? 30n : 70n));
  const blockNumber = () => operator.publicClient.getBlockNumber({ cacheTime: 0 });

  // The operator's pool and version: a registry listing it owns, registered with both contributors.
  const { poolId } = await createPool(operator, {
    termsHash: keccak256(toBytes("earnings test terms")),
    feeBps: FEE_BPS,
  });
  const manifestCid = await makeManifestCid("earnings pool v1");
  const { listingId } = await listDataset(operator, {
    manifestCid,
    dekCommit: makeDekCommit("earnings pool v1"),
    stake: 100n * ONE,
  });
  await registerVersion(operator, { poolId, listingId, contributors, rows });

  /** Sells the version and distributes the sale with `rows` as the split (the version's, unless tampered). */
  const sellAndDistribute = async (split = rows) => {
    const sale = await sell(operator, buyer, listingId);
    const leaves = poolSaleLeaves({ toSeller: sale.toSeller, feeBps: FEE_BPS, contributors, rows: split });
    const { root } = buildDistribution(leaves.leaves);
    await ensureAllowance(operator, { spender: contracts.pools, amount: leaves.total });
    const { distributionId } = await distributeSale(operator, {
      saleId: sale.saleId,
      listingId,
      toSeller: sale.toSeller,
      root,
      total: leaves.total,
    });
    return { ...sale, distributionId, total: leaves.total };
  };
  const sales = [await sellAndDistribute()];
  const expected = (toSeller: bigint) => {
    const total = toSeller - toSeller * BigInt(FEE_BPS) / 10_000n;
    return shareOf(total, contributors, rows, me);
  };

  let first: EarningView;
  await t.step("GET /api/v1/earnings shows the exact share of the sale, claimable", async () => {
    const view = await earnings(node);
    assert.equal(view.pools.length, 1);
    first = view.pools[0];
    assert.deepEqual(
      [
        first.distributionId,
        first.source,
        first.poolId,
        first.listingId,
        first.saleId,
        first.status,
        first.claimed,
      ],
      [
        sales[0].distributionId.toString(),
        "pool",
        poolId.toString(),
        listingId.toString(),
        sales[0].saleId,
        "claimable",
        false,
      ],
    );
    assert.equal(BigInt(first.amount), expected(sales[0].toSeller));
    assert.equal(view.claimable, first.amount);
    assert.ok(view.schedule && view.schedule.epochLength === 60_000 && !view.schedule.isDistributor);
    // The operator's wallet contributed nothing: its node would show no earnings; the distributor's shows none.
    assert.deepEqual((await earnings(distributorNode)).pools, []);
  });

  await t.step(
    "POST /api/v1/earnings/claims previews, claims exactly, and answers a second claim from the first",
    async () => {
      const body = { distributionId: first.distributionId };
      const before = await blockNumber();
      const preview = await call(node, "POST", "/api/v1/earnings/claims?preview=1", body);
      assert.equal(preview.status, 200, JSON.stringify(preview.body));
      assert.equal(preview.body.preview, true);
      assert.ok(BigInt(preview.body.fee.gas) > 30_000n);
      assert.deepEqual(preview.body.claims, [{
        distributionId: first.distributionId,
        amount: first.amount,
        txHash: null,
      }]);
      assert.equal(await blockNumber(), before, "a preview sends nothing");

      const balance = await readTokenBalance(node, me);
      const claimed = await call(node, "POST", "/api/v1/earnings/claims", body);
      assert.equal(claimed.status, 200, JSON.stringify(claimed.body));
      const result = claimed.body as ClaimsView;
      assert.equal(result.claimed.length, 1);
      assert.equal(result.claimed[0].amount, first.amount);
      assert.match(result.claimed[0].txHash!, /^0x[0-9a-f]{64}$/);
      assert.deepEqual(result.alreadyClaimed, []);
      assert.equal(await readTokenBalance(node, me) - balance, BigInt(first.amount), "paid to the wei");
      assert.ok(BigInt(result.gasUsed!) > 0n);
      console.log(`claim of a 2-leaf distribution: ${result.gasUsed} gas`);

      const sent = await blockNumber();
      const again = await call(node, "POST", "/api/v1/earnings/claims", body);
      assert.equal(again.status, 200);
      assert.deepEqual(again.body, {
        claimed: [],
        alreadyClaimed: [{
          distributionId: first.distributionId,
          amount: first.amount,
          txHash: result.claimed[0].txHash,
        }],
      });
      assert.equal(await blockNumber(), sent, "a second claim sends nothing");
      assert.equal(await readTokenBalance(node, me) - balance, BigInt(first.amount));
      const [row] = (await earnings(node)).pools;
      assert.deepEqual([row.status, row.claimed, row.claimTxHash], [
        "claimed",
        true,
        result.claimed[0].txHash,
      ]);
    },
  );

  await t.step("two concurrent claims send one transaction", async () => {
    const sale = await sellAndDistribute();
    sales.push(sale);
    const id = sale.distributionId.toString();
    const balance = await readTokenBalance(node, me);
    const [a, b] = await Promise.all([
      call(node, "POST", "/api/v1/earnings/claims", { distributionId: id }),
      call(node, "POST", "/api/v1/earnings/claims", { distributionId: id }),
    ]);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.deepEqual([
      a.body.claimed.length + b.body.claimed.length,
      a.body.alreadyClaimed.length + b.body.alreadyClaimed.length,
    ], [1, 1]);
    const logs = await operator.publicClient.getLogs({
      address: contracts.rewards,
      event: claimedEvent,
      args: { distributionId: sale.distributionId },
      fromBlock: 0n,
    });
    assert.equal(logs.length, 1);
    assert.equal(await readTokenBalance(node, me) - balance, expected(sale.toSeller));
  });

  let tampered: bigint;
  await t.step(
    "a distribution whose root the events do not imply is unverifiable and never claimed",
    async () => {
      // The operator distributes a sale with another split: the right total, a root of its own.
      const sale = await sellAndDistribute(rows.map((r) => 100n - r));
      sales.push(sale);
      tampered = sale.distributionId;
      const row = (await earnings(node)).pools.find((p) => p.distributionId === tampered.toString())!;
      assert.equal(row.status, "unverifiable");
      assert.match(row.reason!, /root/);
      const before = await blockNumber();
      const refused = await call(node, "POST", "/api/v1/earnings/claims", {
        distributionId: tampered.toString(),
      });
      assert.equal(refused.status, 409);
      assert.match(refused.body.error.message, /cannot be verified/);
      const all = await call(node, "POST", "/api/v1/earnings/claims", {});
      assert.equal(all.status, 200);
      assert.deepEqual(all.body.claimed, [], "claiming everything skips it");
      assert.equal(all.body.alreadyClaimed.length, 2);
      assert.equal(await blockNumber(), before);
    },
  );

  await t.step("every other status of the routes", async () => {
    const path = "/api/v1/earnings/claims";
    const bad: [unknown, number, RegExp, string?][] = [
      ["not json", 400, /JSON/],
      [{}, 415, /JSON|content type/i, "text/plain"],
      [[], 422, /Expected a JSON object/],
      [{ extra: 1 }, 422, /Unknown field "extra"/],
      [{ distributionId: 3 }, 422, /must be a string/],
      [{ distributionId: "0" }, 422, /positive whole number/],
      [{ distributionId: "999" }, 404, /owes this wallet/],
    ];
    for (const [body, status, message, type] of bad) {
      const answer = await call(node, "POST", path, body, type);
      assert.equal(answer.status, status, JSON.stringify(body));
      assert.deepEqual(Object.keys(answer.body), ["error"]);
      assert.match(answer.body.error.message, message);
    }
    assert.equal((await call(node, "POST", `${path}?preview=maybe`, {})).status, 400);
    assert.equal((await call(node, "PUT", "/api/v1/earnings", {})).status, 405);
    assert.equal((await call(node, "GET", path)).status, 405);
    assert.equal((await fetch(new URL("/api/v1/earnings", node.url))).status, 401);
    const mining = await call(node, "GET", "/api/v1/mining");
    assert.equal(mining.status, 200);
    // A node on a chain without the contracts: 503.
    const dir = await Deno.makeTempDir({ prefix: "kosmos-earnings-bare-" });
    const bare = await createNode({ dataDir: dir, port: 0, listen: ["/ip4/127.0.0.1/tcp/0"], rpcUrl }, {
      logger: testLogger(),
    });
    try {
      await bare.start();
      for (const [method, p] of [["GET", "/api/v1/earnings"], ["POST", path], ["GET", "/api/v1/mining"]]) {
        const answer = await call(bare, method, p, method === "POST" ? {} : undefined);
        assert.equal(answer.status, 503, `${method} ${p}`);
      }
    } finally {
      await bare.stop();
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step(
    "the distributor publishes the ended epochs with sales once, after a restart, and the contributor claims exactly",
    async () => {
      const { publicClient } = operator;
      const start = (await call(node, "GET", "/api/v1/mining")).body.schedule.start / 1000;
      const epochOf = (time: bigint) => Number((time - BigInt(start)) / 60n);
      // The distributor is down when the epochs end; it catches up when it starts again.
      await distributorNode.stop();
      await cluster.increaseTime(150);
      const restarted = await cluster.start({ dataDir: roles });
      const withSales = [...new Set(sales.map((s) => epochOf(s.time)))];
      const published = () =>
        publicClient.getLogs({ address: contracts.mining, event: epochPublishedEvent, fromBlock: 0n });
      await waitFor(
        "the ended epochs with sales published",
        async () => (await published()).length === withSales.length,
        {
          timeout: 30_000,
        },
      );
      const logs = await published();
      assert.deepEqual(
        logs.map((l) => Number(l.args.epoch)),
        withSales,
        "epochs without sales publish nothing",
      );
      const mining = (await call(restarted, "GET", "/api/v1/mining")).body as MiningView;
      assert.equal(mining.schedule.isDistributor, true);
      assert.deepEqual(mining.epochs.map((e) => e.epoch), withSales);
      const paid = mining.epochs.reduce((sum, e) => sum + BigInt(e.total), 0n);
      assert.equal(BigInt(mining.schedule.allocationLeft), BigInt(mining.schedule.allocation) - paid);
      for (const e of mining.epochs) {
        assert.equal(
          BigInt(e.total),
          await getEpochReward(operator, BigInt(e.epoch)),
          "each epoch pays its reward",
        );
      }

      // A restart and a new round publish nothing again.
      const nonce = await publicClient.getTransactionCount({ address: restarted.address });
      await restarted.stop();
      const again = await cluster.start({ dataDir: roles });
      const recorded = await again.components.rewards.publishEpochs();
      assert.ok(!recorded.some((e) => withSales.includes(e)), "no epoch with sales is dealt with again");
      await cluster.increaseTime(60);
      await again.components.rewards.publishEpochs();
      assert.equal((await published()).length, withSales.length);
      assert.equal(await publicClient.getTransactionCount({ address: again.address }), nonce);

      // The contributor's share of each epoch: its rows of every sale in it, pro rata.
      const view = await earnings(node);
      assert.equal(view.epochs.length, withSales.length);
      for (const e of view.epochs) {
        const inEpoch = sales.filter((s) => epochOf(s.time) === e.epoch);
        const reward = await getEpochReward(operator, BigInt(e.epoch!));
        const total = contributors.map((_, i) => rows[i] * BigInt(inEpoch.length));
        assert.equal(BigInt(e.amount), shareOf(reward, contributors, total, me), `epoch ${e.epoch}`);
        assert.equal(e.status, "claimable");
      }

      // kosmos claim: refuses without --yes (nothing sent), claims with it, then reports the claim made.
      const target = view.epochs[0];
      const refused = await kosmos(node, ["claim", target.distributionId, "--json"]);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, /--yes/);
      assert.equal(refused.stdout, "");
      const balance = await readTokenBalance(node, me);
      const run = await kosmos(node, ["claim", target.distributionId, "--yes", "--json"]);
      assert.equal(run.code, 0, run.stderr);
      const claimed = run.json<ClaimsView>();
      assert.deepEqual(claimed.claimed.map((c) => [c.distributionId, c.amount]), [[
        target.distributionId,
        target.amount,
      ]]);
      assert.equal(
        await readTokenBalance(node, me) - balance,
        BigInt(target.amount),
        "the epoch reward, to the wei",
      );
      const twice = await kosmos(node, ["claim", target.distributionId, "--json"]);
      assert.equal(twice.code, 0, twice.stderr);
      assert.deepEqual(twice.json<ClaimsView>().claimed, []);
      assert.equal(twice.json<ClaimsView>().alreadyClaimed[0].distributionId, target.distributionId);
      const usage = await kosmos(node, ["claim", "abc"]);
      assert.equal(usage.code, 2);
      const listed = await kosmos(node, ["earnings"]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /unverifiable/);
      assert.match(listed.stdout, new RegExp(`${target.distributionId}\\s+mining\\s+epoch ${target.epoch}`));
    },
  );
});
