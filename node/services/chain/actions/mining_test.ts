import assert from "node:assert/strict";
import { buildDistribution, epochLeaves } from "../../../../protocol/rewards.ts";
import { ContractRevertError } from "../client.ts";
import { ONE, startTestChain } from "../testing.ts";
import {
  claimReward,
  epochAt,
  epochEndOf,
  getEpochDistribution,
  getEpochPublishedLogs,
  getEpochReward,
  getMiningSchedule,
  getTokenBalance,
  publishEpoch,
} from "./mod.ts";

const chain = await startTestChain();
const { clients, addresses } = chain;
const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn: () => chain.isolate(fn) });

test("getMiningSchedule() reads the schedule the deployment set", async () => {
  const schedule = await getMiningSchedule(clients.alice);
  assert.equal(schedule.epochLength, 86_400);
  assert.equal(schedule.halvingEpochs, 365);
  assert.equal(schedule.allocation, 5_000_000n * ONE);
  assert.equal(schedule.initialReward, schedule.allocation / 730n);
  assert.equal(schedule.distributor, addresses.deployer, "the arbiter publishes");
  assert.equal(
    await getTokenBalance(clients.alice, { address: chain.contracts.mining }),
    schedule.allocation,
  );
  assert.equal(await getEpochReward(clients.alice, 365n), schedule.initialReward / 2n);
  assert.equal(epochAt(schedule, schedule.start - 1), undefined);
  assert.equal(epochAt(schedule, schedule.start + 86_400), 1n);
  assert.equal(epochEndOf(schedule, 0n), BigInt(schedule.start + 86_400));
});

test("publishEpoch() publishes an ended epoch from the distributor, and its leaves are claimable", async () => {
  const schedule = await getMiningSchedule(clients.deployer);
  const reward = await getEpochReward(clients.deployer, 0n);
  const { total, leaves } = epochLeaves({
    reward,
    sales: [{ contributors: [addresses.alice, addresses.bob], rows: [1n, 3n] }],
  });
  const { root, leaves: claims } = buildDistribution(leaves);
  const early = await publishEpoch(clients.deployer, { epoch: 0n, root, total }).catch((e) => e);
  assert.ok(early instanceof ContractRevertError);
  assert.equal(early.revert, "EpochNotEnded");
  const block = await clients.deployer.publicClient.getBlock();
  await chain.increaseTime(Number(epochEndOf(schedule, 0n) - block.timestamp));
  const notDistributor = await publishEpoch(clients.alice, { epoch: 0n, root, total }).catch((e) => e);
  assert.equal(notDistributor.revert, "NotDistributor");
  const { distributionId, gasUsed } = await publishEpoch(clients.deployer, { epoch: 0n, root, total });
  assert.ok(gasUsed > 0n);
  assert.equal(await getEpochDistribution(clients.alice, 0n), distributionId);
  assert.equal(await getEpochDistribution(clients.alice, 1n), undefined);
  const [logged] = await getEpochPublishedLogs(clients.alice);
  assert.deepEqual([logged.epoch, logged.distributionId, logged.root, logged.total], [
    0n,
    distributionId,
    root,
    total,
  ]);
  for (const leaf of claims) {
    const client = leaf.account === addresses.alice ? clients.alice : clients.bob;
    const before = await getTokenBalance(client);
    await claimReward(client, { distributionId, ...leaf });
    assert.equal(await getTokenBalance(client), before + leaf.amount);
  }
  const again = await publishEpoch(clients.deployer, { epoch: 0n, root, total }).catch((e) => e);
  assert.equal(again.revert, "EpochAlreadyPublished");
});

Deno.test({
  name: "stop the test chain",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => chain.stop(),
});
