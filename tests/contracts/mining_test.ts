/** KosmosMining: the schedule never pays more than the allocation, epochs are published once, after they end. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Address, encodeDeployData, getAddress, getContractAddress, parseEventLogs, toHex } from "viem";
import {
  kosmosMiningAbi,
  kosmosMiningBytecode,
  kosmosRewardsAbi,
  kosmosTokenAbi,
} from "../../protocol/contracts_generated.ts";
import { buildDistribution, epochLeaves } from "../../protocol/rewards.ts";
import { TOTAL_SUPPLY } from "../../node/services/chain/deploy.ts";
import {
  ACCOUNT_NAMES,
  contractCalls,
  createChainTest,
  expectRevert,
  ONE,
  type ReadParams,
  type TestChain,
  withSnapshot,
} from "./chain.ts";
import { balanceOf } from "./sale.ts";

const DAY = 86_400n;
const { tx: miningTx, read } = contractCalls("mining", kosmosMiningAbi);
const { tx: rewardsTx } = contractCalls("rewards", kosmosRewardsAbi);
const chainTest = createChainTest();

interface Schedule {
  distributor: Address;
  start: bigint;
  epochLength: bigint;
  initialReward: bigint;
  halvingEpochs: bigint;
}

/** `halvingEpochs * Σ_k (initialReward >> k)`: what the schedule pays over all epochs. */
function scheduleSum(initialReward: bigint, halvingEpochs: bigint): bigint {
  let sum = 0n;
  for (let r = initialReward; r > 0n; r >>= 1n) sum += r * halvingEpochs;
  return sum;
}

/** Sends `allocation` tokens to the deployer's next-but-one address, then deploys a mining contract there. */
async function deployMining(c: TestChain, schedule: Schedule, allocation: bigint): Promise<Address> {
  const from = c.accounts.deployer;
  const nonce = await c.publicClient.getTransactionCount({ address: from, blockTag: "pending" });
  const predicted = getContractAddress({ from, nonce: BigInt(nonce + 1) });
  if (allocation > 0n) {
    await c.send(c.wallets.deployer, {
      address: c.addresses.token,
      abi: kosmosTokenAbi,
      functionName: "transfer",
      args: [predicted, allocation],
    });
  }
  const hash = await c.wallets.deployer.deployContract({
    abi: kosmosMiningAbi,
    bytecode: kosmosMiningBytecode,
    args: [c.addresses.token, c.addresses.rewards, schedule],
    // A reverting constructor fails the estimate; the fixed limit lets it reach the chain and revert there.
    gas: 2_000_000n,
  });
  const receipt = await c.publicClient.waitForTransactionReceipt({ hash, timeout: 10_000 });
  if (receipt.status !== "success") throw new Error("reverted");
  assert.equal(getAddress(receipt.contractAddress!), predicted);
  return predicted;
}

/** Simulates deploying a mining contract with `schedule` (to read a constructor's revert). */
function simulateDeploy(c: TestChain, schedule: Schedule): Promise<unknown> {
  return c.publicClient.call({
    account: c.accounts.deployer,
    data: encodeDeployData({
      abi: kosmosMiningAbi,
      bytecode: kosmosMiningBytecode,
      args: [c.addresses.token, c.addresses.rewards, schedule],
    }),
  });
}

async function readAt<T>(
  c: TestChain,
  address: Address,
  functionName: string,
  args: unknown[] = [],
): Promise<T> {
  return await c.publicClient.readContract(
    { address, abi: kosmosMiningAbi, functionName, args } as unknown as ReadParams,
  ) as T;
}

/** Every account and contract that can hold tokens in the fixture. */
async function sumOfBalances(c: TestChain, extra: Address[]): Promise<bigint> {
  const holders = [
    ...ACCOUNT_NAMES.map((n) => c.accounts[n]),
    c.addresses.rewards,
    c.addresses.mining,
    c.addresses.pools,
    c.addresses.escrow,
    c.addresses.registry,
    ...extra,
  ];
  const balances = await Promise.all(holders.map((h) => balanceOf(c, h)));
  return balances.reduce((a, b) => a + b, 0n);
}

chainTest(
  "the deployment mints the mining allocation to the mining contract, out of the rewards allocation",
  async (c) => {
    const allocation = await read<bigint>(c, "allocation");
    assert.equal(allocation, 5_000_000n * ONE);
    assert.equal(await balanceOf(c, c.addresses.mining), allocation);
    assert.equal(await balanceOf(c, c.accounts.reserve), 5_000_000n * ONE);
    assert.equal(await read(c, "distributor"), c.accounts.arbiter);
    assert.equal(await read(c, "epochLength"), DAY);
    assert.equal(await read(c, "halvingEpochs"), 365n);
    const initialReward = await read<bigint>(c, "initialReward");
    assert.equal(initialReward, allocation / 730n);
    assert.ok(scheduleSum(initialReward, 365n) <= allocation);
    assert.equal(await read(c, "token"), c.addresses.token);
    assert.equal(await read(c, "rewards"), c.addresses.rewards);
    const start = await read<bigint>(c, "start");
    assert.ok(start > 0n && start <= await c.now());
    assert.equal(await read(c, "epochEnd", [0n]), start + DAY);
    assert.equal(await read(c, "epochEnd", [2n ** 200n]), 2n ** 256n - 1n);
    assert.equal(await read(c, "currentEpoch"), (await c.now() - start) / DAY);
    assert.equal(await read(c, "epochReward", [364n]), initialReward);
    assert.equal(await read(c, "epochReward", [365n]), initialReward >> 1n);
    assert.equal(await read(c, "epochReward", [365n * 300n]), 0n);
  },
);

chainTest(
  "publishEpoch() publishes an ended epoch once, from the distributor, at most its reward",
  async (c) => {
    const reward = await read<bigint>(c, "epochReward", [0n]);
    const leaves = epochLeaves({
      reward,
      sales: [
        { contributors: [c.accounts.alice, c.accounts.bob], rows: [2n, 1n] },
        { contributors: [c.accounts.alice, c.accounts.carol], rows: [2n, 5n] },
      ],
    });
    assert.equal(leaves.total, reward);
    const { root, leaves: claims } = buildDistribution(leaves.leaves);
    const publish = (who: "arbiter" | "alice", args: unknown[]) =>
      c.send(c.wallets[who], miningTx(c, "publishEpoch", args));
    const start = await read<bigint>(c, "start");
    await expectRevert(publish("arbiter", [0n, root, reward]), "EpochNotEnded", [0n, start + DAY]);
    await c.warp(start + DAY - await c.now());
    await expectRevert(publish("alice", [0n, root, reward]), "NotDistributor", [c.accounts.alice]);
    await expectRevert(publish("arbiter", [0n, root, reward + 1n]), "RewardExceeded", [
      0n,
      reward,
      reward + 1n,
    ]);
    await expectRevert(publish("arbiter", [1n, root, 1n]), "EpochNotEnded", [1n, start + 2n * DAY]);
    const { logs, result, gasUsed } = await publish("arbiter", [0n, root, reward]);
    const [event] = parseEventLogs({ abi: kosmosMiningAbi, logs, eventName: "EpochPublished" });
    assert.deepEqual(event.args, { epoch: 0n, distributionId: result, root, total: reward });
    assert.ok(gasUsed < 200_000n, `publishEpoch() used ${gasUsed} gas`);
    assert.equal(await read(c, "published", [0n]), true);
    assert.equal(await read(c, "published", [1n]), false);
    assert.equal(await read(c, "epochDistribution", [0n]), result);
    await expectRevert(publish("arbiter", [0n, root, 1n]), "EpochAlreadyPublished", [0n, result]);
    for (const l of claims) {
      await c.send(c.wallets.dave, rewardsTx(c, "claim", [result, l.index, l.account, l.amount, l.proof]));
    }
    // alice sold 4 of 10 rows, bob 1, carol 5.
    const owed = new Map([
      [c.accounts.alice, reward * 4n / 10n],
      [c.accounts.bob, reward / 10n],
      [c.accounts.carol, reward * 5n / 10n],
    ]);
    for (const l of claims) {
      assert.ok(l.amount - owed.get(l.account)! <= 1n && l.amount >= owed.get(l.account)!);
    }
    assert.equal(claims.length, 3);
    assert.equal(await balanceOf(c, c.addresses.mining), 5_000_000n * ONE - reward);
    assert.equal(
      await read(c, "allocation"),
      5_000_000n * ONE,
      "the allocation is what it held at deployment",
    );
  },
);

chainTest(
  "the constructor refuses a zero parameter and a schedule above what the contract holds",
  async (c) => {
    const schedule = {
      distributor: c.accounts.arbiter,
      start: 0n,
      epochLength: 60n,
      initialReward: 100n,
      halvingEpochs: 2n,
    };
    for (
      const bad of [{ distributor: toHex(0, { size: 20 }) }, { epochLength: 0n }, { initialReward: 0n }, {
        halvingEpochs: 0n,
      }]
    ) {
      await expectRevert(simulateDeploy(c, { ...schedule, ...bad }), "InvalidSchedule");
    }
    // Nothing minted to the address yet: any schedule exceeds an allocation of 0.
    await expectRevert(simulateDeploy(c, schedule), "ScheduleExceedsAllocation", [0n]);
  },
);

chainTest(
  "any schedule the constructor accepts pays at most its allocation, and never mints (fuzzed)",
  async (c) => {
    const supplyBefore = await c.publicClient.readContract({
      address: c.addresses.token,
      abi: kosmosTokenAbi,
      functionName: "totalSupply",
    });
    assert.equal(supplyBefore, TOTAL_SUPPLY);
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.bigInt({ min: 1n, max: 200n }),
        fc.bigInt({ min: 1n, max: 5n }),
        fc.bigInt({ min: 1n, max: 3600n }),
        fc.integer({ min: -3, max: 3 }),
        async (initialReward, halvingEpochs, epochLength, slack) => {
          await withSnapshot(c, async () => {
            const sum = scheduleSum(initialReward, halvingEpochs);
            const allocation = sum + BigInt(slack) > 0n ? sum + BigInt(slack) : 1n;
            const schedule = {
              distributor: c.accounts.arbiter,
              start: 0n,
              epochLength,
              initialReward,
              halvingEpochs,
            };
            if (allocation < sum) {
              await assert.rejects(deployMining(c, schedule, allocation));
              refused++;
              return;
            }
            accepted++;
            const mining = await deployMining(c, schedule, allocation);
            assert.equal(await readAt(c, mining, "allocation"), allocation);
            // Every epoch ends, then each is published at its full reward: the total is the schedule's sum.
            const epochs = halvingEpochs * BigInt(initialReward.toString(2).length);
            await c.warp(epochLength * (epochs + 1n));
            let paid = 0n;
            for (let e = 0n; e < epochs; e++) {
              const reward = await readAt<bigint>(c, mining, "epochReward", [e]);
              assert.equal(reward, initialReward >> (e / halvingEpochs));
              const root = buildDistribution([{ account: c.accounts.alice, amount: reward }]).root;
              await c.send(c.wallets.arbiter, {
                address: mining,
                abi: kosmosMiningAbi,
                functionName: "publishEpoch",
                args: [e, root, reward],
              });
              paid += reward;
            }
            assert.equal(paid, sum);
            assert.equal(
              await readAt(c, mining, "epochReward", [epochs]),
              0n,
              "nothing after the last halving",
            );
            await expectRevert(
              c.send(c.wallets.arbiter, {
                address: mining,
                abi: kosmosMiningAbi,
                functionName: "publishEpoch",
                args: [epochs, buildDistribution([{ account: c.accounts.alice, amount: 1n }]).root, 1n],
              }),
              "RewardExceeded",
              [epochs, 0n, 1n],
            );
            assert.equal(await balanceOf(c, mining), allocation - paid, "never more than it held");
            assert.equal(
              await c.publicClient.readContract({
                address: c.addresses.token,
                abi: kosmosTokenAbi,
                functionName: "totalSupply",
              }),
              TOTAL_SUPPLY,
            );
            assert.equal(await sumOfBalances(c, [mining]), TOTAL_SUPPLY, "every token is still somewhere");
          });
        },
      ),
      { numRuns: 20 },
    );
    assert.ok(accepted > 0 && refused > 0, `accepted ${accepted}, refused ${refused}`);
  },
);

chainTest(
  "a large schedule is checked without overflow: exactly the allocation is accepted, one wei less is not",
  async (
    c,
  ) => {
    await fc.assert(
      fc.asyncProperty(
        fc.bigInt({ min: 1n, max: 2n ** 70n }),
        fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }),
        async (initialReward, halvingEpochs) => {
          const sum = scheduleSum(initialReward, halvingEpochs);
          const schedule = {
            distributor: c.accounts.arbiter,
            start: 0n,
            epochLength: 60n,
            initialReward,
            halvingEpochs,
          };
          const fits = sum <= 100_000n * ONE;
          await withSnapshot(c, async () => {
            if (!fits) {
              await assert.rejects(deployMining(c, schedule, 100_000n * ONE));
              return;
            }
            await assert.rejects(deployMining(c, schedule, sum - 1n));
          });
          if (fits) {
            await withSnapshot(c, async () => {
              const mining = await deployMining(c, schedule, sum);
              assert.equal(await readAt(c, mining, "allocation"), sum);
            });
          }
        },
      ),
      { numRuns: 15 },
    );
    await expectRevert(
      simulateDeploy(c, {
        distributor: c.accounts.arbiter,
        start: 0n,
        epochLength: 1n,
        initialReward: 2n ** 255n,
        halvingEpochs: 2n ** 64n - 1n,
      }),
      "ScheduleExceedsAllocation",
      [0n],
    );
  },
);

chainTest("before its start, mining has no current epoch and no epoch can be published", async (c) => {
  const start = (await c.now()) + 1000n;
  const schedule = {
    distributor: c.accounts.arbiter,
    start,
    epochLength: 60n,
    initialReward: 10n,
    halvingEpochs: 1n,
  };
  const mining = await deployMining(c, schedule, 100n);
  assert.equal(await readAt(c, mining, "start"), start);
  await expectRevert(readAt(c, mining, "currentEpoch"), "MiningNotStarted", [start]);
  const root = buildDistribution([{ account: c.accounts.alice, amount: 10n }]).root;
  const publish = (epoch: bigint) =>
    c.send(c.wallets.arbiter, {
      address: mining,
      abi: kosmosMiningAbi,
      functionName: "publishEpoch",
      args: [epoch, root, 10n],
    });
  await expectRevert(publish(0n), "EpochNotEnded", [0n, start + 60n]);
  await c.warp(start + 60n - (await c.now()));
  assert.equal(await readAt(c, mining, "currentEpoch"), 1n);
  await publish(0n);
  await expectRevert(publish(1n), "EpochNotEnded", [1n, start + 120n]);
});
