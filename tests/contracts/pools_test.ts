/** KosmosPools: pools, versions and the distribution of every sale of a version to its contributors. */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type Address,
  encodeAbiParameters,
  getAddress,
  type Hex,
  keccak256,
  parseEventLogs,
  toHex,
} from "viem";
import { kosmosEscrowAbi, kosmosPoolsAbi, kosmosRewardsAbi } from "../../protocol/contracts_generated.ts";
import { buildDistribution, poolSaleLeaves } from "../../protocol/rewards.ts";
import {
  type AccountName,
  contractCalls,
  createChainTest,
  expectRevert,
  ONE,
  type TestChain,
  withSnapshot,
} from "./chain.ts";
import {
  approve,
  balanceOf,
  escrowTx,
  listDataset,
  makeQuote,
  openSale,
  randomBytes32,
  revealSale,
} from "./sale.ts";

const { tx: poolsTx, read } = contractCalls("pools", kosmosPoolsAbi);
const { tx: rewardsTx, read: readRewards } = contractCalls("rewards", kosmosRewardsAbi);
const TERMS = keccak256(toHex('{"kind":"spotify","purpose":"music research"}'));
const FEE_BPS = 500;
const CONTRIBUTORS = ["alice", "bob", "carol", "dave"] as const satisfies readonly AccountName[];

const chainTest = createChainTest();

/** The accounts' addresses in increasing order, as `registerVersion` wants them. */
function sorted(addresses: readonly Address[]): Address[] {
  return [...addresses].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
}

async function createPool(c: TestChain, operator: AccountName = "seller", feeBps = FEE_BPS): Promise<bigint> {
  const { result } = await c.send(c.wallets[operator], poolsTx(c, "createPool", [TERMS, feeBps]));
  return result as bigint;
}

/** A listed version of a new pool, registered with `rows` for the four contributors (in address order). */
async function registeredVersion(c: TestChain, rows: bigint[] = [3n, 1n, 4n, 1n]) {
  const poolId = await createPool(c);
  const listingId = await listDataset(c, "seller");
  const contributors = sorted(CONTRIBUTORS.map((n) => c.accounts[n]));
  const { gasUsed } = await c.send(
    c.wallets.seller,
    poolsTx(c, "registerVersion", [poolId, listingId, contributors, rows]),
  );
  return { poolId, listingId, contributors, rows, gasUsed };
}

/** Opens, reveals and confirms a sale of `listingId` at `price`; returns its id and the seller share. */
async function completedSale(c: TestChain, listingId: bigint, price: bigint) {
  const q = await makeQuote(c, { listingId, price });
  const { saleId, sale } = await openSale(c, q);
  const { sale: revealed } = await revealSale(c, saleId, sale, q.kSale);
  const { logs } = await c.send(c.wallets.buyer, escrowTx(c, "confirm", [saleId, revealed]));
  const [completed] = parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "Completed" });
  return { saleId, toSeller: completed.args.toSeller };
}

/** The operator withdraws its escrow payout, approves and distributes the sale. */
async function distribute(
  c: TestChain,
  version: { listingId: bigint; contributors: Address[]; rows: bigint[] },
  sale: { saleId: Hex; toSeller: bigint },
  feeBps = FEE_BPS,
) {
  await c.send(c.wallets.seller, escrowTx(c, "withdraw", []));
  const split = poolSaleLeaves({ toSeller: sale.toSeller, feeBps, ...version });
  const distribution = buildDistribution(split.leaves);
  await approve(c, "seller", c.addresses.pools, split.total);
  const sent = await c.send(
    c.wallets.seller,
    poolsTx(c, "distributeSale", [
      sale.saleId,
      version.listingId,
      sale.toSeller,
      distribution.root,
      split.total,
    ]),
  );
  return { ...split, distribution, distributionId: sent.result as bigint, sent };
}

chainTest("createPool() records the operator, fee and terms; the fee is capped at 50 %", async (c) => {
  const { logs, gasUsed, result } = await c.send(
    c.wallets.seller,
    poolsTx(c, "createPool", [TERMS, FEE_BPS]),
  );
  assert.equal(result, 1n);
  const [event] = parseEventLogs({ abi: kosmosPoolsAbi, logs, eventName: "PoolCreated" });
  assert.deepEqual(event.args, {
    poolId: 1n,
    operator: c.accounts.seller,
    termsHash: TERMS,
    feeBps: FEE_BPS,
  });
  assert.deepEqual(await read(c, "getPool", [1n]), {
    operator: c.accounts.seller,
    feeBps: FEE_BPS,
    createdAt: await c.now(),
    termsHash: TERMS,
  });
  assert.ok(gasUsed < 100_000n, `createPool() used ${gasUsed} gas`);
  assert.equal(await createPool(c, "alice", 5000), 2n);
  await expectRevert(c.send(c.wallets.alice, poolsTx(c, "createPool", [TERMS, 5001])), "FeeTooHigh", [
    5001,
    5000,
  ]);
  await expectRevert(
    c.send(c.wallets.alice, poolsTx(c, "createPool", [toHex(0, { size: 32 }), 0])),
    "EmptyTerms",
  );
  await expectRevert(read(c, "getPool", [3n]), "UnknownPool", [3n]);
});

chainTest("registerVersion() stores a commitment to the contributors and emits their rows", async (c) => {
  const { poolId, listingId, contributors, rows, gasUsed } = await registeredVersion(c);
  const version = await read<Record<string, unknown>>(c, "getVersion", [listingId]);
  assert.deepEqual(version, {
    poolId,
    contributorCount: 4,
    registeredAt: Number(await c.now()),
    totalRows: 9n,
    contributorsHash: keccak256(
      encodeAbiParameters([{ type: "address[]" }, { type: "uint64[]" }], [contributors, rows]),
    ),
  });
  const [log] = await c.publicClient.getContractEvents({
    address: c.addresses.pools,
    abi: kosmosPoolsAbi,
    eventName: "VersionRegistered",
    fromBlock: 0n,
  });
  assert.deepEqual(log.args, { poolId, listingId, contributors, rows });
  assert.ok(gasUsed < 100_000n, `registerVersion() with 4 contributors used ${gasUsed} gas`);
  assert.equal((await read<{ poolId: bigint }>(c, "getVersion", [999n])).poolId, 0n);
});

chainTest(
  "registerVersion() refuses a non-operator, a listing of someone else, a listing twice and bad lists",
  async (
    c,
  ) => {
    const poolId = await createPool(c);
    const listingId = await listDataset(c, "seller");
    const others = await listDataset(c, "alice");
    const [a, b, d] = sorted([c.accounts.alice, c.accounts.bob, c.accounts.dave]);
    const register = (who: AccountName, args: unknown[]) =>
      c.send(c.wallets[who], poolsTx(c, "registerVersion", args));
    await expectRevert(register("alice", [poolId, listingId, [a], [1n]]), "NotOperator", [
      poolId,
      c.accounts.seller,
      c.accounts.alice,
    ]);
    await expectRevert(register("seller", [poolId, others, [a], [1n]]), "NotListingOwner", [
      others,
      c.accounts.alice,
      c.accounts.seller,
    ]);
    // alice operates her own pool but does not own the seller's listing either.
    const alicePool = await createPool(c, "alice");
    await expectRevert(register("alice", [alicePool, listingId, [a], [1n]]), "NotListingOwner");
    await expectRevert(register("seller", [99n, listingId, [a], [1n]]), "UnknownPool", [99n]);
    await expectRevert(register("seller", [poolId, listingId, [a, a], [1n, 2n]]), "ContributorsNotSorted", [
      1n,
      a,
    ]);
    await expectRevert(register("seller", [poolId, listingId, [b, a], [1n, 2n]]), "ContributorsNotSorted", [
      1n,
      a,
    ]);
    await expectRevert(
      register("seller", [poolId, listingId, [toHex(0, { size: 20 }), a], [1n, 2n]]),
      "ContributorsNotSorted",
    );
    await expectRevert(register("seller", [poolId, listingId, [a, b], [1n, 0n]]), "NoRows", [1n, b]);
    await expectRevert(register("seller", [poolId, listingId, [a, b], [1n]]), "LengthMismatch", [2n, 1n]);
    await expectRevert(register("seller", [poolId, listingId, [], []]), "BadContributorCount", [0n, 256n]);
    const many = sorted(Array.from({ length: 257 }, (_, i) => getAddress(toHex(i + 1, { size: 20 }))));
    await expectRevert(
      register("seller", [poolId, listingId, many, many.map(() => 1n)]),
      "BadContributorCount",
      [257n, 256n],
    );
    await register("seller", [poolId, listingId, [a, b, d], [1n, 2n, 3n]]);
    await expectRevert(register("seller", [poolId, listingId, [a], [1n]]), "VersionExists", [
      listingId,
      poolId,
    ]);
  },
);

chainTest(
  "a sale of a version: every contributor claims its pro-rata share, the sum is toSeller − fee to the wei",
  async (c) => {
    const version = await registeredVersion(c, [3n, 1n, 4n, 1n]);
    const sale = await completedSale(c, version.listingId, 100n * ONE + 7n);
    const rewardsBefore = await balanceOf(c, c.addresses.rewards);
    const { fee, total, distribution, distributionId, sent } = await distribute(c, version, sale);
    assert.equal(fee, sale.toSeller * 500n / 10_000n);
    assert.equal(total, sale.toSeller - fee);
    const [event] = parseEventLogs({ abi: kosmosPoolsAbi, logs: sent.logs, eventName: "SaleDistributed" });
    assert.deepEqual(event.args, {
      poolId: 1n,
      saleId: sale.saleId,
      listingId: version.listingId,
      distributionId,
      sellerShare: sale.toSeller,
      fee,
      total,
    });
    assert.equal(await read(c, "saleDistribution", [sale.saleId]), distributionId);
    assert.deepEqual(await readRewards(c, "getDistribution", [distributionId]), [
      distribution.root,
      total,
      0n,
    ]);
    assert.equal(await balanceOf(c, c.addresses.rewards), rewardsBefore + total);
    assert.equal(await balanceOf(c, c.addresses.pools), 0n, "the pools contract keeps nothing");
    assert.ok(sent.gasUsed < 200_000n, `distributeSale() used ${sent.gasUsed} gas`);

    let paid = 0n;
    for (const leaf of distribution.leaves) {
      const before = await balanceOf(c, leaf.account);
      const { gasUsed } = await c.send(
        c.wallets.dave,
        rewardsTx(c, "claim", [distributionId, leaf.index, leaf.account, leaf.amount, leaf.proof]),
      );
      assert.ok(gasUsed < 90_000n, `claim() used ${gasUsed} gas`);
      assert.equal(await balanceOf(c, leaf.account), before + leaf.amount);
      paid += leaf.amount;
    }
    assert.equal(paid, sale.toSeller - fee);
    assert.equal(
      await balanceOf(c, c.addresses.rewards),
      rewardsBefore,
      "nothing is left in the distribution",
    );
    // Rows 3:1:4:1 of the sorted contributors, not of the account names.
    const expected = version.rows.map((r) => total * r / 9n);
    const amounts = version.contributors.map((a) => distribution.leaves.find((l) => l.account === a)!.amount);
    amounts.forEach((amount, i) => assert.ok(amount - expected[i] <= 1n && amount >= expected[i]));

    const first = distribution.leaves[0];
    await expectRevert(
      c.send(
        c.wallets.dave,
        rewardsTx(c, "claim", [distributionId, first.index, first.account, first.amount, first.proof]),
      ),
      "AlreadyClaimed",
      [distributionId, first.index],
    );
  },
);

chainTest("claim() refuses a proof of another leaf, a changed amount and a changed account", async (c) => {
  const version = await registeredVersion(c);
  const sale = await completedSale(c, version.listingId, 10n * ONE);
  const { distribution, distributionId } = await distribute(c, version, sale);
  const [l0, l1] = distribution.leaves;
  const claim = (args: unknown[]) => c.send(c.wallets.dave, rewardsTx(c, "claim", args));
  await expectRevert(claim([distributionId, l0.index, l0.account, l0.amount, l1.proof]), "InvalidProof");
  await expectRevert(claim([distributionId, l0.index, l0.account, l0.amount + 1n, l0.proof]), "InvalidProof");
  await expectRevert(claim([distributionId, l0.index, l1.account, l0.amount, l0.proof]), "InvalidProof");
  await expectRevert(claim([distributionId, l1.index, l0.account, l0.amount, l0.proof]), "InvalidProof");
  assert.equal(await readRewards(c, "isClaimed", [distributionId, l0.index]), false);
});

chainTest(
  "distributeSale() refuses a sale twice, a non-operator, a wrong total, an open sale and an unknown version",
  async (c) => {
    const version = await registeredVersion(c);
    const sale = await completedSale(c, version.listingId, 10n * ONE);
    const split = poolSaleLeaves({ toSeller: sale.toSeller, feeBps: FEE_BPS, ...version });
    const { root } = buildDistribution(split.leaves);
    await c.send(c.wallets.seller, escrowTx(c, "withdraw", []));
    await approve(c, "seller", c.addresses.pools, 10n * split.total);
    await approve(c, "alice", c.addresses.pools, 10n * split.total);
    const distributeAs = (who: AccountName, args: unknown[]) =>
      c.send(c.wallets[who], poolsTx(c, "distributeSale", args));
    const { listingId } = version;
    await expectRevert(
      distributeAs("alice", [sale.saleId, listingId, sale.toSeller, root, split.total]),
      "NotOperator",
      [1n, c.accounts.seller, c.accounts.alice],
    );
    await expectRevert(
      distributeAs("seller", [sale.saleId, listingId, sale.toSeller, root, split.total + 1n]),
      "WrongTotal",
      [split.total, split.total + 1n],
    );
    await expectRevert(
      distributeAs("seller", [sale.saleId, 999n, sale.toSeller, root, split.total]),
      "UnknownVersion",
      [999n],
    );
    const q = await makeQuote(c, { listingId, price: ONE });
    const { saleId: openId } = await openSale(c, q);
    await expectRevert(distributeAs("seller", [openId, listingId, ONE, root, ONE]), "SaleNotSettled", [
      openId,
    ]);
    const { result } = await distributeAs("seller", [
      sale.saleId,
      listingId,
      sale.toSeller,
      root,
      split.total,
    ]);
    await expectRevert(
      distributeAs("seller", [sale.saleId, listingId, sale.toSeller, root, split.total]),
      "SaleAlreadyDistributed",
      [sale.saleId, result],
    );
    await expectRevert(
      distributeAs("seller", [
        randomBytes32(),
        listingId,
        sale.toSeller,
        toHex(0, { size: 32 }),
        split.total,
      ]),
      "EmptyRoot",
    );
  },
);

chainTest(
  "every sale of a version is paid out exactly, whatever the rows, price and fee (fuzzed)",
  async (c) => {
    const names = ["alice", "bob", "carol", "dave", "gateway", "delegate"] as const;
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.bigInt({ min: 1n, max: 2n ** 40n }), { minLength: 1, maxLength: names.length }),
        fc.bigInt({ min: 10n, max: 1000n * ONE }),
        fc.integer({ min: 0, max: 5000 }),
        async (rows, price, feeBps) => {
          await withSnapshot(c, async () => {
            runs++;
            const { result: poolId } = await c.send(
              c.wallets.seller,
              poolsTx(c, "createPool", [TERMS, feeBps]),
            );
            const listingId = await listDataset(c, "seller");
            const contributors = sorted(names.slice(0, rows.length).map((n) => c.accounts[n]));
            await c.send(
              c.wallets.seller,
              poolsTx(c, "registerVersion", [poolId, listingId, contributors, rows]),
            );
            const sale = await completedSale(c, listingId, price);
            const { distribution, distributionId, total, fee } = await distribute(
              c,
              { listingId, contributors, rows },
              sale,
              feeBps,
            );
            assert.equal(fee + total, sale.toSeller);
            const before = await Promise.all(distribution.leaves.map((l) => balanceOf(c, l.account)));
            for (const l of distribution.leaves) {
              await c.send(
                c.wallets.arbiter,
                rewardsTx(c, "claim", [distributionId, l.index, l.account, l.amount, l.proof]),
              );
            }
            const after = await Promise.all(distribution.leaves.map((l) => balanceOf(c, l.account)));
            const paid = after.reduce((s, a, i) => s + a - before[i], 0n);
            assert.equal(paid, total);
            assert.deepEqual(await readRewards(c, "getDistribution", [distributionId]), [
              distribution.root,
              total,
              total,
            ]);
          });
        },
      ),
      { numRuns: 12 },
    );
    assert.equal(runs, 12);
  },
);

chainTest("a version of 256 contributors registers, distributes and pays its deepest leaf", async (c) => {
  const contributors = sorted(
    Array.from({ length: 256 }, (_, i) => getAddress(keccak256(toHex(i)).slice(0, 42))),
  );
  const rows = contributors.map((_, i) => BigInt(i % 7) + 1n);
  const poolId = await createPool(c);
  const listingId = await listDataset(c, "seller");
  const { gasUsed: registerGas } = await c.send(
    c.wallets.seller,
    poolsTx(c, "registerVersion", [poolId, listingId, contributors, rows]),
  );
  const sale = await completedSale(c, listingId, 1000n * ONE);
  const { distribution, distributionId, total } = await distribute(
    c,
    { listingId, contributors, rows },
    sale,
  );
  assert.equal(distribution.leaves.length, 256);
  assert.equal(distribution.leaves.reduce((s, l) => s + l.amount, 0n), total);
  const last = distribution.leaves[255];
  assert.equal(last.proof.length, 8);
  const { gasUsed: claimGas } = await c.send(
    c.wallets.dave,
    rewardsTx(c, "claim", [distributionId, last.index, last.account, last.amount, last.proof]),
  );
  assert.equal(await balanceOf(c, last.account), last.amount);
  assert.ok(registerGas < 1_000_000n, `registerVersion() with 256 contributors used ${registerGas} gas`);
  assert.ok(claimGas < 100_000n, `claim() with an 8-hash proof used ${claimGas} gas`);
});
