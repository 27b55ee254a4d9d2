import assert from "node:assert/strict";
import { type Address, getAddress, type Hex, keccak256 } from "viem";
import { buildDistribution, epochLeaves, hashRewardLeaf, poolSaleLeaves } from "../../../protocol/rewards.ts";
import { openDatabase } from "../db/mod.ts";
import { deriveEarnings, epochSales } from "./derive.ts";
import { endedEpochs, epochRewardOf } from "./schedule.ts";
import { RewardsStore, type ScanBatch } from "./store.ts";

const ME = getAddress("0x70997970c51812dc3a010c7d01b50e0d17dc79c8");
const OTHER = getAddress("0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc");
const THIRD = getAddress("0x90f79bf6eb2c4f870365e785982e1f101e93b906");
const OPERATOR = getAddress("0x15d34aaf54267db7d7c367839aaf71a00a2c6a65");
const ONE = 10n ** 18n;
const CLOCK = { start: 1_000n, epochLength: 60n };

function saleId(n: number): Hex {
  return keccak256(`0x${n.toString(16).padStart(2, "0")}`);
}

function empty(): ScanBatch {
  return {
    pools: [],
    versions: [],
    opened: [],
    completed: [],
    distributions: [],
    saleDistributions: [],
    epochs: [],
    claims: [],
  };
}

/** Folds a proof to a root as OpenZeppelin's `MerkleProof` does (sorted pairs). */
function fold(leaf: Hex, proof: Hex[]): Hex {
  return proof.reduce(
    (node, sibling) =>
      keccak256(node < sibling ? `${node}${sibling.slice(2)}` : `${sibling}${node.slice(2)}`),
    leaf,
  );
}

/** A store holding pool 1 (fee 10 %), version listing 7 (ME 30 rows, OTHER 70), and its sale 1 of 100 KOS distributed honestly. */
function setUp(options: { root?: Hex; total?: bigint } = {}) {
  const db = openDatabase(":memory:");
  const store = new RewardsStore(db);
  store.open(31337, "contracts-a");
  const contributors = [ME, OTHER] as Address[];
  const rows = [30n, 70n];
  const split = poolSaleLeaves({ toSeller: 100n * ONE, feeBps: 1000, contributors, rows });
  const built = buildDistribution(split.leaves);
  store.store({
    ...empty(),
    pools: [{ poolId: 1n, operator: OPERATOR, feeBps: 1000 }],
    versions: [{ listingId: 7n, poolId: 1n, contributors, rows, blockNumber: 10, logIndex: 0 }],
    opened: [{ saleId: saleId(1), listingId: 7n }],
    completed: [{
      saleId: saleId(1),
      toSeller: 100n * ONE,
      completedAt: 1_010,
      blockNumber: 12,
      logIndex: 3,
    }],
    distributions: [{
      distributionId: 1n,
      funder: OPERATOR,
      root: options.root ?? built.root,
      total: options.total ?? built.total,
    }],
    saleDistributions: [{
      distributionId: 1n,
      poolId: 1n,
      saleId: saleId(1),
      listingId: 7n,
      total: built.total,
    }],
  }, 20);
  return { db, store, built };
}

Deno.test("deriveEarnings() gives this wallet its exact pro-rata share of a pool sale with a proof of the root on chain", () => {
  const { db, store, built } = setUp();
  try {
    const { pools, epochs } = deriveEarnings(store, ME, CLOCK);
    assert.equal(epochs.length, 0);
    assert.equal(pools.length, 1);
    const [e] = pools;
    // 100 KOS − 10 % fee = 90 KOS; 30 of 100 rows = 27 KOS.
    assert.equal(e.amount, 27n * ONE);
    assert.equal(e.status, "claimable");
    assert.deepEqual([e.poolId, e.listingId, e.saleId, e.claimTxHash], [1n, 7n, saleId(1), null]);
    assert.equal(fold(hashRewardLeaf(e.index, ME, e.amount), e.proof), built.root);
    // The other contributor's view gives the rest, to the wei.
    const [theirs] = deriveEarnings(store, OTHER, CLOCK).pools;
    assert.equal(theirs.amount + e.amount, 90n * ONE);
    // A wallet that contributed nothing has no earnings.
    assert.deepEqual(deriveEarnings(store, THIRD, CLOCK), { pools: [], epochs: [] });
  } finally {
    db.close();
  }
});

Deno.test("deriveEarnings() reports a distribution whose root or total the events do not imply as unverifiable", () => {
  const tampered = buildDistribution([{ account: ME, amount: 90n * ONE }]);
  for (
    const [what, options] of [["root", { root: tampered.root }], ["total", { total: 91n * ONE }]] as const
  ) {
    const { db, store } = setUp(options);
    try {
      const [e] = deriveEarnings(store, ME, CLOCK).pools;
      assert.equal(e.status, "unverifiable", what);
      assert.match(e.reason!, what === "root" ? /root/ : /holds/);
      assert.equal(e.amount, 27n * ONE, "the share the events imply is still shown");
    } finally {
      db.close();
    }
  }
  // A sale of another listing distributed as a sale of this version.
  const { db, store } = setUp();
  try {
    store.store({ ...empty(), opened: [{ saleId: saleId(1), listingId: 8n }] }, 21);
    const [e] = deriveEarnings(store, ME, CLOCK).pools;
    assert.equal(e.status, "unverifiable");
    assert.match(e.reason!, /not a completed sale of listing 7/);
  } finally {
    db.close();
  }
});

Deno.test("deriveEarnings() marks an earning claimed from this wallet's Claimed event", () => {
  const { db, store } = setUp();
  try {
    const [before] = deriveEarnings(store, ME, CLOCK).pools;
    const txHash = saleId(99);
    store.store({
      ...empty(),
      claims: [{ distributionId: 1n, index: before.index, account: ME, amount: before.amount, txHash }],
    }, 22);
    const [after] = deriveEarnings(store, ME, CLOCK).pools;
    assert.deepEqual([after.status, after.claimTxHash], ["claimed", txHash]);
    // The first claim recorded stays.
    store.putClaim({
      distributionId: 1n,
      index: before.index,
      account: ME,
      amount: before.amount,
      txHash: saleId(98),
    });
    assert.equal(deriveEarnings(store, ME, CLOCK).pools[0].claimTxHash, txHash);
  } finally {
    db.close();
  }
});

Deno.test("epochSales() counts each completed sale of a version registered before it, by block time within the epoch", () => {
  const { db, store } = setUp();
  try {
    // Epoch 0 is [1000, 1060): sale 1 (t=1010) is in it. Sale 2 of the same version at 1059 counts too;
    // sale 3 at 1060 is epoch 1's; sale 4 of listing 9, registered after it completed, counts nowhere.
    store.store({
      ...empty(),
      versions: [{
        listingId: 9n,
        poolId: 1n,
        contributors: [THIRD],
        rows: [5n],
        blockNumber: 40,
        logIndex: 0,
      }],
      opened: [
        { saleId: saleId(2), listingId: 7n },
        { saleId: saleId(3), listingId: 7n },
        { saleId: saleId(4), listingId: 9n },
      ],
      completed: [
        { saleId: saleId(2), toSeller: ONE, completedAt: 1_059, blockNumber: 30, logIndex: 0 },
        { saleId: saleId(3), toSeller: ONE, completedAt: 1_060, blockNumber: 31, logIndex: 0 },
        { saleId: saleId(4), toSeller: ONE, completedAt: 1_030, blockNumber: 32, logIndex: 0 },
      ],
    }, 50);
    const zero = epochSales(store, CLOCK, 0);
    assert.equal(zero.length, 2, "the version sold twice counts twice");
    assert.deepEqual(zero[0], { contributors: [ME, OTHER], rows: [30n, 70n] });
    assert.equal(epochSales(store, CLOCK, 1).length, 1);
    assert.equal(epochSales(store, CLOCK, 2).length, 0);

    // A published epoch is derived from the same sales: 2 × 30 of 200 rows of 50 KOS = 15 KOS.
    const reward = 50n * ONE;
    const { leaves, total } = epochLeaves({ reward, sales: zero });
    const built = buildDistribution(leaves);
    store.store({
      ...empty(),
      distributions: [{ distributionId: 2n, funder: OPERATOR, root: built.root, total }],
      epochs: [{ epoch: 0, distributionId: 2n, root: built.root, total }],
    }, 51);
    const { epochs } = deriveEarnings(store, ME, CLOCK);
    assert.equal(epochs.length, 1);
    assert.deepEqual([epochs[0].epoch, epochs[0].amount, epochs[0].status], [0, 15n * ONE, "claimable"]);
    assert.equal(fold(hashRewardLeaf(epochs[0].index, ME, epochs[0].amount), epochs[0].proof), built.root);
    assert.deepEqual(
      deriveEarnings(store, THIRD, CLOCK).epochs,
      [],
      "a version registered after its sale earns nothing",
    );
  } finally {
    db.close();
  }
});

Deno.test("RewardsStore forgets what it read when the contracts change, and records each epoch once", () => {
  const { db, store } = setUp();
  try {
    store.putPublished({ epoch: 0, distributionId: null, total: 0n, txHash: null });
    store.putPublished({ epoch: 0, distributionId: 5n, total: ONE, txHash: saleId(5) });
    store.putPublished({ epoch: 1, distributionId: 6n, total: ONE, txHash: saleId(6) });
    assert.deepEqual(store.listPublished().map((p) => [p.epoch, p.distributionId]), [[0, null], [1, 6n]]);
    assert.equal(store.nextUnrecordedEpoch(), 2);
    store.open(31337, "contracts-a");
    assert.equal(store.block, 20);
    store.open(31337, "contracts-b");
    assert.equal(store.block, -1);
    assert.equal(store.nextUnrecordedEpoch(), 0);
    assert.deepEqual(deriveEarnings(store, ME, CLOCK), { pools: [], epochs: [] });
  } finally {
    db.close();
  }
});

Deno.test("endedEpochs() and epochRewardOf() follow KosmosMining's clock and halving", () => {
  assert.equal(endedEpochs(CLOCK, 999n), 0);
  assert.equal(endedEpochs(CLOCK, 1_059n), 0);
  assert.equal(endedEpochs(CLOCK, 1_060n), 1);
  assert.equal(endedEpochs(CLOCK, 1_000n + 60n * 5n + 59n), 5);
  const schedule = { initialReward: 100n * ONE, halvingEpochs: 4n };
  assert.deepEqual(
    [0n, 3n, 4n, 8n, 4n * 300n].map((e) => epochRewardOf(schedule, e)),
    [100n * ONE, 100n * ONE, 50n * ONE, 25n * ONE, 0n],
  );
});
