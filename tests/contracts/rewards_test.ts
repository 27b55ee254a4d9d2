import assert from "node:assert/strict";
import fc from "fast-check";
import { type Address, bytesToHex, encodeAbiParameters, getAddress, type Hex, keccak256 } from "viem";
import { kosmosRewardsAbi } from "../../protocol/contracts_generated.ts";
import { buildDistribution } from "../../protocol/rewards.ts";
import { contractCalls, createChainTest, expectRevert, ONE, withSnapshot } from "./chain.ts";
import { approve, balanceOf } from "./sale.ts";
import { buildTree } from "./merkle.ts";

/** leaf = keccak256(bytes.concat(keccak256(abi.encode(index, account, amount)))) */
function hashLeaf(index: bigint, account: Address, amount: bigint): Hex {
  return keccak256(
    keccak256(encodeAbiParameters([{ type: "uint256" }, { type: "address" }, { type: "uint256" }], [
      index,
      account,
      amount,
    ])),
  );
}

const { tx: rewardsTx, read } = contractCalls("rewards", kosmosRewardsAbi);

const chainTest = createChainTest((c) => {
  const entries = [
    { index: 0n, account: c.accounts.alice, amount: 5n * ONE },
    { index: 1n, account: c.accounts.bob, amount: 7n * ONE },
    { index: 2n, account: c.accounts.carol, amount: 11n * ONE },
  ];
  const tree = buildTree(entries.map((e) => hashLeaf(e.index, e.account, e.amount)));
  return { entries, ...tree };
});

chainTest("createDistribution() pulls the funds from the reserve", async (c, { root }) => {
  await approve(c, "reserve", c.addresses.rewards, 23n * ONE);
  const before = await balanceOf(c, c.accounts.reserve);
  const { result } = await c.send(c.wallets.reserve, rewardsTx(c, "createDistribution", [root, 23n * ONE]));
  assert.equal(result, 1n);
  assert.equal(await balanceOf(c, c.accounts.reserve), before - 23n * ONE);
  assert.deepEqual(await read(c, "getDistribution", [1n]), [root, 23n * ONE, 0n]);
  assert.equal(await read(c, "distributionCount"), 1n);
  await expectRevert(
    c.send(c.wallets.reserve, rewardsTx(c, "createDistribution", [`0x${"0".repeat(64)}`, 1n])),
    "EmptyRoot",
  );
});

chainTest(
  "claim() pays each leaf once, to its account, whoever submits it",
  async (c, { root, entries, proofs }) => {
    await approve(c, "reserve", c.addresses.rewards, 23n * ONE);
    await c.send(c.wallets.reserve, rewardsTx(c, "createDistribution", [root, 23n * ONE]));
    for (const [i, e] of entries.entries()) {
      const before = await balanceOf(c, e.account);
      await c.send(c.wallets.dave, rewardsTx(c, "claim", [1n, e.index, e.account, e.amount, proofs[i]]));
      assert.equal(await balanceOf(c, e.account), before + e.amount);
      assert.equal(await read(c, "isClaimed", [1n, e.index]), true);
    }
    await expectRevert(
      c.send(
        c.wallets.dave,
        rewardsTx(c, "claim", [1n, 0n, entries[0].account, entries[0].amount, proofs[0]]),
      ),
      "AlreadyClaimed",
      [1n, 0n],
    );
    assert.equal(await balanceOf(c, c.addresses.rewards), 0n);
  },
);

chainTest("claim() rejects a wrong amount, account or proof and an unknown distribution", async (
  c,
  { root, entries, proofs },
) => {
  await approve(c, "reserve", c.addresses.rewards, 23n * ONE);
  await c.send(c.wallets.reserve, rewardsTx(c, "createDistribution", [root, 23n * ONE]));
  const e = entries[1];
  const claim = (args: unknown[]) => c.send(c.wallets.dave, rewardsTx(c, "claim", args));
  await expectRevert(claim([1n, e.index, e.account, e.amount + 1n, proofs[1]]), "InvalidProof", [1n, 1n]);
  await expectRevert(claim([1n, e.index, c.accounts.dave, e.amount, proofs[1]]), "InvalidProof");
  await expectRevert(claim([1n, e.index, e.account, e.amount, proofs[0]]), "InvalidProof");
  await expectRevert(claim([2n, e.index, e.account, e.amount, proofs[1]]), "UnknownDistribution", [2n]);
});

chainTest("claim() never pays more than the distribution holds", async (c, { root, entries, proofs }) => {
  await approve(c, "reserve", c.addresses.rewards, 10n * ONE);
  await c.send(c.wallets.reserve, rewardsTx(c, "createDistribution", [root, 10n * ONE]));
  await c.send(
    c.wallets.dave,
    rewardsTx(c, "claim", [1n, 0n, entries[0].account, entries[0].amount, proofs[0]]),
  );
  await expectRevert(
    c.send(c.wallets.dave, rewardsTx(c, "claim", [1n, 1n, entries[1].account, entries[1].amount, proofs[1]])),
    "DistributionExhausted",
    [1n, 5n * ONE, 7n * ONE],
  );
});

chainTest(
  "createDistribution() refuses a total above 128 bits before taking any token",
  async (c, { root }) => {
    const max = 2n ** 128n - 1n;
    await expectRevert(
      c.send(c.wallets.reserve, rewardsTx(c, "createDistribution", [root, max + 1n])),
      "DistributionExhausted",
      [1n, max, max + 1n],
    );
  },
);

chainTest(
  "proofs from protocol/rewards.ts buildDistribution() verify on chain for any set of leaves (fuzzed)",
  async (c) => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(
          fc.record({
            account: fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => getAddress(bytesToHex(b))),
            amount: fc.bigInt({ min: 0n, max: 1000n * ONE }),
          }),
          { minLength: 1, maxLength: 40, selector: (e) => e.account },
        ),
        async (amounts) => {
          await withSnapshot(c, async () => {
            const d = buildDistribution(amounts);
            await approve(c, "reserve", c.addresses.rewards, d.total);
            const { result: id } = await c.send(
              c.wallets.reserve,
              rewardsTx(c, "createDistribution", [d.root, d.total]),
            );
            for (const l of d.leaves) {
              await c.send(
                c.wallets.dave,
                rewardsTx(c, "claim", [id, l.index, l.account, l.amount, l.proof]),
              );
            }
            assert.deepEqual(await read(c, "getDistribution", [id]), [d.root, d.total, d.total]);
          });
        },
      ),
      { numRuns: 10 },
    );
  },
);
