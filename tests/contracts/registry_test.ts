import assert from "node:assert/strict";
import fc from "fast-check";
import { type Hex, keccak256, parseEventLogs, toHex } from "viem";
import { kosmosRegistryAbi, kosmosRegistryBytecode } from "../../protocol/contracts_generated.ts";
import {
  type AccountName,
  contractCalls,
  createChainTest,
  expectRevert,
  ONE,
  type TestChain,
  withSnapshot,
} from "./chain.ts";
import { approve, balanceOf, listDataset, signPermit } from "./sale.ts";

const DAY = 86_400n;
const CID = "0x0171122000112233445566778899aabbccddeeff00112233445566778899aabbccddeeff" as Hex;
const DEK_COMMIT = keccak256(toHex("the manifest's keccak256(DEK)"));
/** The deployment defaults (node/services/chain/deploy.ts). */
const THRESHOLD = 100n * ONE;
const MAX_CHALLENGES = 64;
const REVIEW_PERIOD = 3n * DAY;
const WITHDRAW_DELAY = 7n * DAY;
const WITHDRAW_WINDOW = 2n * DAY;
const chainTest = createChainTest();

const { tx: registryTx, read } = contractCalls("registry", kosmosRegistryAbi);

async function challenge(c: TestChain, who: AccountName, listingId: bigint, amount: bigint) {
  await approve(c, who, c.addresses.registry, amount);
  return await c.send(c.wallets[who], registryTx(c, "challenge", [listingId, amount]));
}

chainTest(
  "list() mints the listing token, pulls the stake and binds the CID and the key commitment",
  async (c) => {
    await approve(c, "seller", c.addresses.registry, 150n * ONE);
    const before = await balanceOf(c, c.accounts.seller);
    const { result, logs } = await c.send(
      c.wallets.seller,
      registryTx(c, "list", [0, CID, DEK_COMMIT, 150n * ONE]),
    );
    const listingId = result as bigint;
    assert.equal(listingId, 1n);
    assert.equal(await read(c, "ownerOf", [listingId]), c.accounts.seller);
    assert.equal(await read(c, "stakeOf", [listingId]), 150n * ONE);
    assert.equal(await read(c, "cidOf", [listingId]), CID);
    assert.equal(await read(c, "dekCommitOf", [listingId]), DEK_COMMIT);
    assert.equal(await read(c, "challengeCount", [listingId]), 0n);
    assert.equal(await read(c, "listingCount"), 1n);
    const listing = await read<{ kind: number; withdrawableAt: number; dekCommit: Hex }>(c, "getListing", [
      listingId,
    ]);
    assert.equal(listing.kind, 0);
    assert.equal(listing.withdrawableAt, 0);
    assert.equal(listing.dekCommit, DEK_COMMIT);
    assert.equal(await balanceOf(c, c.accounts.seller), before - 150n * ONE);
    const [listed] = parseEventLogs({ abi: kosmosRegistryAbi, logs, eventName: "Listed" });
    assert.equal(listed.args.cid, CID);
    assert.equal(listed.args.dekCommit, DEK_COMMIT);
  },
);

chainTest("list() rejects a stake below the minimum, an empty CID and a zero key commitment", async (c) => {
  await approve(c, "seller", c.addresses.registry, 1000n * ONE);
  const list = (args: unknown[]) => c.send(c.wallets.seller, registryTx(c, "list", args));
  await expectRevert(list([0, CID, DEK_COMMIT, 99n * ONE]), "StakeTooLow", [99n * ONE, 100n * ONE]);
  await expectRevert(list([0, "0x", DEK_COMMIT, 100n * ONE]), "EmptyCid");
  await expectRevert(list([0, CID, `0x${"0".repeat(64)}`, 100n * ONE]), "EmptyDekCommit");
  assert.equal(await read(c, "listingCount"), 0n);
});

chainTest("a stream listing carries no key commitment; a dataset listing must carry one", async (c) => {
  await approve(c, "seller", c.addresses.registry, 1000n * ONE);
  const list = (args: unknown[]) => c.send(c.wallets.seller, registryTx(c, "list", args));
  const ZERO = `0x${"0".repeat(64)}`;
  await expectRevert(list([1, CID, DEK_COMMIT, 100n * ONE]), "StreamDekCommit");
  await expectRevert(list([0, CID, ZERO, 100n * ONE]), "EmptyDekCommit");
  const { result, logs } = await list([1, CID, ZERO, 100n * ONE]);
  const listing = await read<{ kind: number; dekCommit: Hex }>(c, "getListing", [result]);
  assert.equal(listing.kind, 1);
  assert.equal(listing.dekCommit, ZERO);
  assert.equal(await read(c, "dekCommitOf", [result]), ZERO);
  assert.equal(parseEventLogs({ abi: kosmosRegistryAbi, logs, eventName: "Listed" })[0].args.kind, 1);
});

chainTest("listWithPermit() lists with an EIP-2612 permit in one transaction", async (c) => {
  const deadline = (await c.now()) + 600n;
  const sig = await signPermit(c, "seller", c.addresses.registry, 100n * ONE, deadline);
  const { result } = await c.send(
    c.wallets.seller,
    registryTx(c, "listWithPermit", [0, CID, DEK_COMMIT, 100n * ONE, deadline, Number(sig.v), sig.r, sig.s]),
  );
  assert.equal(await read(c, "stakeOf", [result]), 100n * ONE);
  assert.equal(await read(c, "dekCommitOf", [result]), DEK_COMMIT);
});

chainTest("addStake() adds to the owner's stake and rejects others", async (c) => {
  const id = await listDataset(c, "seller");
  await approve(c, "seller", c.addresses.registry, 5n * ONE);
  await c.send(c.wallets.seller, registryTx(c, "addStake", [id, 5n * ONE]));
  assert.equal(await read(c, "stakeOf", [id]), 105n * ONE);
  await expectRevert(c.send(c.wallets.alice, registryTx(c, "addStake", [id, 1n])), "NotListingOwner", [
    id,
    c.accounts.alice,
  ]);
  await expectRevert(
    c.send(c.wallets.alice, registryTx(c, "addStake", [77n, 1n])),
    "ERC721NonexistentToken",
    [77n],
  );
});

chainTest("withdraw() returns the stake and burns the listing only after the requested delay", async (c) => {
  const id = await listDataset(c, "seller");
  await expectRevert(c.send(c.wallets.seller, registryTx(c, "withdraw", [id])), "WithdrawalNotRequested", [
    id,
  ]);
  await expectRevert(c.send(c.wallets.alice, registryTx(c, "requestWithdrawal", [id])), "NotListingOwner");
  await c.send(c.wallets.seller, registryTx(c, "requestWithdrawal", [id]));
  await expectRevert(c.send(c.wallets.seller, registryTx(c, "withdraw", [id])), "WithdrawalTooEarly");
  await c.warp(7n * DAY);
  await expectRevert(c.send(c.wallets.alice, registryTx(c, "withdraw", [id])), "NotListingOwner");
  const before = await balanceOf(c, c.accounts.seller);
  await c.send(c.wallets.seller, registryTx(c, "withdraw", [id]));
  assert.equal(await balanceOf(c, c.accounts.seller), before + 100n * ONE);
  assert.equal(await read(c, "stakeOf", [id]), 0n);
  await expectRevert(read(c, "ownerOf", [id]), "ERC721NonexistentToken");
});

chainTest(
  "a challenge cancels a pending withdrawal, and none can be requested while challenges are open",
  async (
    c,
  ) => {
    const id = await listDataset(c, "seller");
    await c.send(c.wallets.seller, registryTx(c, "requestWithdrawal", [id]));
    const { logs } = await challenge(c, "alice", id, 10n * ONE);
    assert.equal(
      parseEventLogs({ abi: kosmosRegistryAbi, logs, eventName: "WithdrawalCancelled" }).length,
      1,
    );
    assert.equal((await read<{ withdrawableAt: number }>(c, "getListing", [id])).withdrawableAt, 0);
    await c.warp(8n * DAY);
    await expectRevert(c.send(c.wallets.seller, registryTx(c, "withdraw", [id])), "WithdrawalNotRequested", [
      id,
    ]);
    await expectRevert(c.send(c.wallets.seller, registryTx(c, "requestWithdrawal", [id])), "OpenChallenges", [
      id,
      1n,
    ]);
    // Once the arbiter has ruled the listing good, the owner may ask again.
    await c.send(c.wallets.arbiter, registryTx(c, "resolve", [id, false]));
    await c.send(c.wallets.seller, registryTx(c, "requestWithdrawal", [id]));
  },
);

chainTest("a withdrawal request expires withdrawWindow seconds after it unlocks", async (c) => {
  const id = await listDataset(c, "seller");
  await c.send(c.wallets.seller, registryTx(c, "requestWithdrawal", [id]));
  const { withdrawableAt } = await read<{ withdrawableAt: number }>(c, "getListing", [id]);
  await c.warp(WITHDRAW_DELAY + WITHDRAW_WINDOW + 1n);
  await expectRevert(c.send(c.wallets.seller, registryTx(c, "withdraw", [id])), "WithdrawalExpired", [
    id,
    BigInt(withdrawableAt) + WITHDRAW_WINDOW,
  ]);
  await c.send(c.wallets.seller, registryTx(c, "requestWithdrawal", [id]));
  await c.warp(WITHDRAW_DELAY + WITHDRAW_WINDOW - 10n);
  await c.send(c.wallets.seller, registryTx(c, "withdraw", [id]));
});

chainTest("challenge() checks the stake, the challenger and the cap on open challenges", async (c) => {
  const id = await listDataset(c, "seller");
  await approve(c, "alice", c.addresses.registry, 100n * ONE);
  await expectRevert(
    c.send(c.wallets.alice, registryTx(c, "challenge", [id, 9n * ONE])),
    "ChallengeStakeTooLow",
    [
      9n * ONE,
      10n * ONE,
    ],
  );
  await approve(c, "seller", c.addresses.registry, 100n * ONE);
  await expectRevert(c.send(c.wallets.seller, registryTx(c, "challenge", [id, 10n * ONE])), "OwnListing", [
    id,
  ]);
  await expectRevert(
    c.send(c.wallets.alice, registryTx(c, "challenge", [99n, 10n * ONE])),
    "ERC721NonexistentToken",
  );
  await challenge(c, "alice", id, 10n * ONE);
  await challenge(c, "bob", id, 20n * ONE);
  const { logs } = await challenge(c, "alice", id, 30n * ONE);
  assert.equal(parseEventLogs({ abi: kosmosRegistryAbi, logs, eventName: "Challenged" })[0].args.count, 3n);
  assert.equal(await read(c, "challengeCount", [id]), 3n);
  const open = await read<{ challenger: string; amount: bigint }[]>(c, "challengesOf", [id]);
  assert.deepEqual(open.map((x) => x.amount), [10n * ONE, 20n * ONE, 30n * ONE]);
  const listing = await read<{ challenged: bigint; challengedAt: number }>(c, "getListing", [id]);
  assert.equal(listing.challenged, 60n * ONE);
  assert.ok(listing.challengedAt > 0);
  const people = ["alice", "bob", "carol", "dave"] as const;
  for (const p of people) await approve(c, p, c.addresses.registry, 10n ** 30n);
  for (let i = 3; i < MAX_CHALLENGES; i++) {
    await c.send(c.wallets[people[i % 4]], registryTx(c, "challenge", [id, 10n * ONE]));
  }
  await expectRevert(c.send(c.wallets.carol, registryTx(c, "challenge", [id, 10n * ONE])), "ChallengesFull", [
    id,
    BigInt(MAX_CHALLENGES),
  ]);
});

chainTest("resolve() is for the arbiter once the challenged stake reaches the threshold", async (c) => {
  const id = await listDataset(c, "seller");
  await expectRevert(c.send(c.wallets.arbiter, registryTx(c, "resolve", [id, true])), "NoChallenges", [id]);
  await challenge(c, "alice", id, 10n * ONE);
  const { challengedAt } = await read<{ challengedAt: number }>(c, "getListing", [id]);
  await expectRevert(c.send(c.wallets.alice, registryTx(c, "resolve", [id, true])), "NotArbiter", [
    c.accounts.alice,
  ]);
  await expectRevert(c.send(c.wallets.arbiter, registryTx(c, "resolve", [id, true])), "NotResolvable", [
    id,
    10n * ONE,
    THRESHOLD,
    BigInt(challengedAt) + REVIEW_PERIOD,
  ]);
  // One more challenge that brings the sum to the threshold: resolvable at once, however few they are.
  await challenge(c, "bob", id, THRESHOLD - 10n * ONE);
  await c.send(c.wallets.arbiter, registryTx(c, "resolve", [id, false]));
  await expectRevert(
    c.send(c.wallets.arbiter, registryTx(c, "resolve", [42n, true])),
    "ERC721NonexistentToken",
  );
});

chainTest("resolve() of any open challenge is allowed once the oldest is reviewPeriod old", async (c) => {
  const id = await listDataset(c, "seller");
  await challenge(c, "alice", id, 10n * ONE);
  await c.warp(REVIEW_PERIOD - 10n);
  await challenge(c, "bob", id, 10n * ONE); // a newer challenge does not restart the clock
  await expectRevert(c.send(c.wallets.arbiter, registryTx(c, "resolve", [id, true])), "NotResolvable");
  await c.warp(10n);
  const { logs } = await c.send(c.wallets.arbiter, registryTx(c, "resolve", [id, true]));
  const [resolved] = parseEventLogs({ abi: kosmosRegistryAbi, logs, eventName: "Resolved" });
  assert.equal(resolved.args.bad, true);
  assert.equal(resolved.args.toChallengers, 20n * ONE + 50n * ONE);
});

chainTest(
  "resolve(bad) splits the listing stake pro rata among challengers, dust to the treasury, and burns it",
  async (
    c,
  ) => {
    const id = await listDataset(c, "seller", { stake: 100n * ONE + 1n });
    const stakes = { alice: 10n * ONE + 1n, bob: 20n * ONE, carol: 70n * ONE + 2n } as const;
    const before: Record<string, bigint> = {};
    for (const [who, amount] of Object.entries(stakes)) {
      await challenge(c, who as AccountName, id, amount);
      before[who] = await balanceOf(c, c.accounts[who as AccountName]);
    }
    const treasuryBefore = await balanceOf(c, c.accounts.treasury);
    const { logs } = await c.send(c.wallets.arbiter, registryTx(c, "resolve", [id, true]));
    const stake = 100n * ONE + 1n;
    const total = stakes.alice + stakes.bob + stakes.carol;
    const reward = stake * 5000n / 10000n;
    let paid = 0n;
    for (const [who, amount] of Object.entries(stakes)) {
      const expected = amount + reward * amount / total;
      paid += expected;
      assert.equal(await balanceOf(c, c.accounts[who as AccountName]), before[who] + expected);
    }
    assert.equal(await balanceOf(c, c.accounts.treasury), treasuryBefore + stake + total - paid);
    assert.equal(await balanceOf(c, c.addresses.registry), 0n);
    const [resolved] = parseEventLogs({ abi: kosmosRegistryAbi, logs, eventName: "Resolved" });
    assert.equal(resolved.args.toChallengers + resolved.args.toTreasury, stake + total);
    await expectRevert(read(c, "ownerOf", [id]), "ERC721NonexistentToken");
  },
);

chainTest(
  "resolve(good) gives the challenge stakes to the owner and the treasury and keeps the listing",
  async (c) => {
    const id = await listDataset(c, "seller");
    for (const who of ["alice", "bob", "carol"] as const) await challenge(c, who, id, 34n * ONE + 1n);
    const sellerBefore = await balanceOf(c, c.accounts.seller);
    const treasuryBefore = await balanceOf(c, c.accounts.treasury);
    await c.send(c.wallets.arbiter, registryTx(c, "resolve", [id, false]));
    const total = 3n * (34n * ONE + 1n);
    const toOwner = total * 5000n / 10000n;
    assert.equal(await balanceOf(c, c.accounts.seller), sellerBefore + toOwner);
    assert.equal(await balanceOf(c, c.accounts.treasury), treasuryBefore + total - toOwner);
    assert.equal(await read(c, "challengeCount", [id]), 0n);
    assert.deepEqual(await read(c, "challengesOf", [id]), []);
    const cleared = await read<{ challenged: bigint; challengedAt: number }>(c, "getListing", [id]);
    assert.deepEqual([cleared.challenged, cleared.challengedAt], [0n, 0]);
    assert.equal(await read(c, "stakeOf", [id]), 100n * ONE);
    await challenge(c, "dave", id, 10n * ONE);
  },
);

chainTest("the constructor rejects an invalid configuration", async (c) => {
  const config = {
    token: c.addresses.token,
    arbiter: c.accounts.arbiter,
    treasury: c.accounts.treasury,
    minStake: 1n,
    minChallengeStake: 10n,
    challengeThreshold: 30n,
    maxChallenges: 3n,
    reviewPeriod: 0n,
    withdrawDelay: 0n,
    withdrawWindow: 1n,
    challengerBps: 10_000n,
    listerBps: 0n,
  };
  const flaws = [
    { challengerBps: 10_001n },
    { challengeThreshold: 0n },
    { maxChallenges: 0n },
    { maxChallenges: 65_536n },
    // Filling every slot with minimum challenges must reach the threshold.
    { challengeThreshold: 31n },
    { withdrawWindow: 0n },
  ];
  for (const flaw of flaws) {
    await expectRevert(
      c.wallets.deployer.deployContract({
        abi: kosmosRegistryAbi,
        bytecode: kosmosRegistryBytecode,
        args: [{ ...config, ...flaw }],
      }),
      "InvalidConfig",
    );
  }
  await c.wallets.deployer.deployContract({
    abi: kosmosRegistryAbi,
    bytecode: kosmosRegistryBytecode,
    args: [config],
  });
});

type Action =
  | { kind: "list"; who: number; stake: bigint }
  | { kind: "addStake"; listing: number; amount: bigint }
  | { kind: "challenge"; who: number; listing: number; amount: bigint }
  | { kind: "resolve"; listing: number; bad: boolean };

chainTest("property: stakes are conserved through listings, challenges and resolutions", async (c) => {
  const people = ["alice", "bob", "carol", "dave"] as const;
  const amount = fc.bigInt({ min: 10n * ONE, max: 500n * ONE });
  const list = fc.record({
    kind: fc.constant("list" as const),
    who: fc.nat({ max: 3 }),
    stake: amount.map((a) => a * 10n),
  });
  const action: fc.Arbitrary<Action> = fc.oneof(
    { arbitrary: list, weight: 1 },
    {
      arbitrary: fc.record({ kind: fc.constant("addStake" as const), listing: fc.nat({ max: 3 }), amount }),
      weight: 1,
    },
    {
      arbitrary: fc.record({
        kind: fc.constant("challenge" as const),
        who: fc.nat({ max: 3 }),
        listing: fc.nat({ max: 3 }),
        amount,
      }),
      weight: 4,
    },
    {
      arbitrary: fc.record({
        kind: fc.constant("resolve" as const),
        listing: fc.nat({ max: 3 }),
        bad: fc.boolean(),
      }),
      weight: 2,
    },
  );
  let resolutions = 0;
  await fc.assert(
    fc.asyncProperty(list, fc.array(action, { minLength: 4, maxLength: 16 }), async (first, rest) => {
      const actions = [first, ...rest];
      await withSnapshot(c, async () => {
        const everyone = [...people.map((p) => c.accounts[p]), c.accounts.treasury, c.addresses.registry];
        const sum = async () => {
          let s = 0n;
          for (const a of everyone) s += await balanceOf(c, a);
          return s;
        };
        const before = await sum();
        for (const p of people) await approve(c, p, c.addresses.registry, 10n ** 30n);
        const listings: { id: bigint; owner: number }[] = [];
        for (const a of actions) {
          if (a.kind === "list") {
            const { result } = await c.send(
              c.wallets[people[a.who]],
              registryTx(c, "list", [0, CID, DEK_COMMIT, a.stake]),
            );
            listings.push({ id: result as bigint, owner: a.who });
            continue;
          }
          const l = listings[a.listing % Math.max(listings.length, 1)];
          if (!l) continue;
          const exists = (await read<{ stake: bigint }>(c, "getListing", [l.id])).stake > 0n;
          if (!exists) continue;
          const count = await read<bigint>(c, "challengeCount", [l.id]);
          const { challenged } = await read<{ challenged: bigint }>(c, "getListing", [l.id]);
          if (a.kind === "addStake") {
            await c.send(c.wallets[people[l.owner]], registryTx(c, "addStake", [l.id, a.amount]));
          } else if (a.kind === "challenge") {
            const tx = c.send(c.wallets[people[a.who]], registryTx(c, "challenge", [l.id, a.amount]));
            if (a.who === l.owner) await expectRevert(tx, "OwnListing");
            else if (count >= BigInt(MAX_CHALLENGES)) await expectRevert(tx, "ChallengesFull");
            else await tx;
          } else {
            const tx = c.send(c.wallets.arbiter, registryTx(c, "resolve", [l.id, a.bad]));
            if (count === 0n) await expectRevert(tx, "NoChallenges");
            else if (challenged < THRESHOLD) await expectRevert(tx, "NotResolvable");
            else {
              await tx;
              resolutions++;
            }
          }
        }
        let locked = 0n;
        for (const l of listings) {
          locked += await read<bigint>(c, "stakeOf", [l.id]);
          for (const ch of await read<{ amount: bigint }[]>(c, "challengesOf", [l.id])) locked += ch.amount;
        }
        assert.equal(await balanceOf(c, c.addresses.registry), locked);
        assert.equal(await sum(), before);
      });
    }),
    { numRuns: 20 },
  );
  assert.ok(resolutions > 0, "the runs resolved some challenges");
});
