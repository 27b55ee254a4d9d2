import assert from "node:assert/strict";
import { keccak256, toHex } from "viem";
import { buildDistribution, poolSaleLeaves } from "../../../../protocol/rewards.ts";
import { ContractRevertError } from "../client.ts";
import { makeDekCommit, makeManifestCid, ONE, startTestChain } from "../testing.ts";
import {
  claimReward,
  createPool,
  distributeSale,
  getCreatePoolCall,
  getDistributeSaleCalls,
  getPool,
  getRegisterVersionCall,
  getRewardDistribution,
  getSaleDistributedLogs,
  getSaleDistribution,
  getTokenBalance,
  getVersion,
  getVersionRegisteredLogs,
  isRewardClaimed,
  listDataset,
  registerVersion,
  toVersionContributors,
  withdrawPayouts,
} from "./mod.ts";

const chain = await startTestChain();
const { clients, addresses } = chain;
const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn: () => chain.isolate(fn) });
const TERMS = keccak256(toHex("pool terms"));

test("createPool(), registerVersion() and distributeSale() pay a sale's seller share to the contributors", async () => {
  const operator = clients.alice;
  const { poolId, txHash, gasUsed } = await createPool(operator, { termsHash: TERMS, feeBps: 1000 });
  assert.equal(poolId, 1n);
  assert.match(txHash, /^0x[0-9a-f]{64}$/);
  assert.ok(gasUsed > 0n);
  const pool = await getPool(operator, poolId);
  assert.deepEqual({ ...pool, createdAt: 0 }, {
    poolId,
    operator: addresses.alice,
    feeBps: 1000,
    createdAt: 0,
    termsHash: TERMS,
  });
  assert.equal(await getPool(operator, 2n), undefined);

  const manifestCid = await makeManifestCid("pool version");
  const { listingId } = await listDataset(operator, {
    manifestCid,
    dekCommit: makeDekCommit(manifestCid),
    stake: 100n * ONE,
  });
  // Any order, zero rows left out: the action sorts them for the contract.
  const contributors = [addresses.carol, addresses.bob, addresses.deployer];
  const rows = [5n, 3n, 0n];
  await registerVersion(operator, { poolId, listingId, contributors, rows });
  const version = await getVersion(operator, listingId);
  assert.equal(version?.poolId, poolId);
  assert.equal(version?.contributorCount, 2);
  assert.equal(version?.totalRows, 8n);
  assert.equal(await getVersion(operator, listingId + 1n), undefined);
  const [registered] = await getVersionRegisteredLogs(operator, { poolId });
  const sorted = toVersionContributors(contributors, rows);
  assert.deepEqual([registered.contributors, registered.rows], [sorted.contributors, sorted.rows]);

  const sale = await chain.completeSale("alice", "deployer", listingId, 20n * ONE);
  await withdrawPayouts(operator);
  const split = poolSaleLeaves({ toSeller: sale.toSeller, feeBps: 1000, ...registered });
  const distribution = buildDistribution(split.leaves);
  const params = {
    saleId: sale.saleId,
    listingId,
    toSeller: sale.toSeller,
    root: distribution.root,
    total: split.total,
  };
  const calls = await getDistributeSaleCalls(operator, params);
  assert.deepEqual(calls.map((c) => c.functionName), ["approve", "distributeSale"]);
  const before = await getTokenBalance(operator);
  const { distributionId, approveTxHash } = await distributeSale(operator, {
    saleId: sale.saleId,
    listingId,
    toSeller: sale.toSeller,
    root: distribution.root,
    total: split.total,
  });
  assert.ok(approveTxHash, "the pools contract was approved first");
  assert.equal(await getTokenBalance(operator), before - split.total);
  assert.equal(await getSaleDistribution(operator, sale.saleId), distributionId);
  assert.equal(await getSaleDistribution(operator, keccak256(toHex("no sale"))), undefined);
  const [logged] = await getSaleDistributedLogs(operator, { poolId });
  assert.deepEqual(
    [logged.distributionId, logged.sellerShare, logged.fee, logged.total],
    [distributionId, sale.toSeller, split.fee, split.total],
  );
  assert.deepEqual(await getRewardDistribution(operator, distributionId), {
    distributionId,
    root: distribution.root,
    total: split.total,
    claimed: 0n,
  });
  assert.equal(await getRewardDistribution(operator, distributionId + 1n), undefined);

  let paid = 0n;
  for (const leaf of distribution.leaves) {
    const claimer = leaf.account === addresses.bob ? clients.bob : clients.carol;
    const balance = await getTokenBalance(claimer);
    assert.equal(await isRewardClaimed(claimer, distributionId, leaf.index), false);
    await claimReward(claimer, { distributionId, ...leaf });
    assert.equal(await isRewardClaimed(claimer, distributionId, leaf.index), true);
    assert.equal(await getTokenBalance(claimer), balance + leaf.amount);
    paid += leaf.amount;
  }
  assert.equal(paid, sale.toSeller - split.fee);
  const again = await claimReward(clients.bob, { distributionId, ...distribution.leaves[0] }).catch((e) => e);
  assert.ok(again instanceof ContractRevertError);
  assert.equal(again.revert, "AlreadyClaimed");
  const twice = await distributeSale(operator, {
    saleId: sale.saleId,
    listingId,
    toSeller: sale.toSeller,
    root: distribution.root,
    total: split.total,
  }).catch((e) => e);
  assert.ok(twice instanceof ContractRevertError);
  assert.equal(twice.revert, "SaleAlreadyDistributed");
});

test("the call builders refuse a bad fee and bad contributor lists before anything is sent", () => {
  assert.throws(() => getCreatePoolCall(clients.alice, { termsHash: TERMS, feeBps: 5001 }), RangeError);
  assert.throws(() => getCreatePoolCall(clients.alice, { termsHash: TERMS, feeBps: 0.5 }), RangeError);
  const call = (contributors: `0x${string}`[], rows: bigint[]) =>
    getRegisterVersionCall(clients.alice, { poolId: 1n, listingId: 1n, contributors, rows });
  assert.throws(() => call([addresses.bob], []), RangeError);
  assert.throws(() => call([addresses.bob], [0n]), RangeError);
  assert.throws(() => call([addresses.bob], [2n ** 64n]), RangeError);
  assert.throws(
    () => call([addresses.bob, addresses.bob.toLowerCase() as `0x${string}`], [1n, 1n]),
    TypeError,
  );
  assert.throws(() => call(["0x12"], [1n]));
  const many = Array.from({ length: 257 }, (_, i) => toHex(i + 1, { size: 20 }));
  assert.throws(() => call(many, many.map(() => 1n)), RangeError);
  assert.deepEqual(
    call([addresses.carol, addresses.bob], [1n, 2n]).args[2],
    [addresses.carol, addresses.bob].sort((a, b) => BigInt(a) < BigInt(b) ? -1 : 1),
  );
  return Promise.resolve();
});

Deno.test({
  name: "stop the test chain",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => chain.stop(),
});
