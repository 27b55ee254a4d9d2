/**
 * Finding 8, registry griefing, from the attacker's side against a real anvil with our contracts at
 * their deployment defaults (threshold 100 tokens of challenged stake, 64 open challenges at most,
 * 3-day review period, 7-day withdrawal delay, 2-day withdrawal window).
 *
 * What the attacks tried, and what the old registry gave the attacker:
 * 1. Freeze a stake with one small challenge. The old arbiter could only resolve once a listing had
 *    `challengeThreshold` (3) open challenges and the owner could not withdraw while any was open: one
 *    10-token challenge froze a 100-token stake forever. Now the arbiter resolves it after the review
 *    period and the griefer loses its stake.
 * 2. Keep a withdrawal request forever and pull the stake out the moment a challenge shows up. The old
 *    request never expired and a challenge did not touch it, so a dishonest owner kept an unlocked
 *    request for months and withdrew ahead of any challenger. Now the request lapses after the window,
 *    a challenge cancels it, and no request can be made while a challenge is open.
 * 3. Fill every challenge slot with the owner's own accounts so that real challengers are refused. The
 *    old cap was the threshold (3 slots, 30 tokens), cheap to hold. Now there are 64 slots, and filling
 *    them puts at least 640 tokens at stake, far past the 100-token threshold: the arbiter clears them at
 *    once, the treasury keeps half of the owner's stakes, and the real challenger gets in.
 */
import assert from "node:assert/strict";
import { parseEventLogs } from "viem";
import { kosmosRegistryAbi } from "../../protocol/contracts_generated.ts";
import {
  type AccountName,
  contractCalls,
  createChainTest,
  expectRevert,
  ONE,
  type TestChain,
} from "../contracts/chain.ts";
import { approve, balanceOf, listDataset } from "../contracts/sale.ts";

const DAY = 86_400n;
const chainTest = createChainTest();
const { tx: registryTx, read } = contractCalls("registry", kosmosRegistryAbi);

async function challenge(c: TestChain, who: AccountName, listingId: bigint, amount: bigint) {
  await approve(c, who, c.addresses.registry, amount);
  return await c.send(c.wallets[who], registryTx(c, "challenge", [listingId, amount]));
}

chainTest("attack: one minimum challenge no longer freezes a listing's stake", async (c) => {
  const listingId = await listDataset(c, "seller");
  const griefer = await balanceOf(c, c.accounts.dave);
  // The griefer stakes the minimum (10 tokens), far below the 100-token threshold.
  await challenge(c, "dave", listingId, 10n * ONE);
  await expectRevert(
    c.send(c.wallets.seller, registryTx(c, "requestWithdrawal", [listingId])),
    "OpenChallenges",
  );
  await expectRevert(
    c.send(c.wallets.arbiter, registryTx(c, "resolve", [listingId, false])),
    "NotResolvable",
  );
  // After the review period the arbiter rules, whatever the amount: the stake is free again.
  await c.warp(3n * DAY);
  await c.send(c.wallets.arbiter, registryTx(c, "resolve", [listingId, false]));
  assert.equal(await balanceOf(c, c.accounts.dave), griefer - 10n * ONE, "the griefer lost its stake");
  await c.send(c.wallets.seller, registryTx(c, "requestWithdrawal", [listingId]));
  await c.warp(7n * DAY);
  const owner = await balanceOf(c, c.accounts.seller);
  await c.send(c.wallets.seller, registryTx(c, "withdraw", [listingId]));
  assert.equal(await balanceOf(c, c.accounts.seller), owner + 100n * ONE);
});

chainTest("attack: a standing withdrawal request cannot be used to escape a challenge", async (c) => {
  const listingId = await listDataset(c, "seller");
  // The dishonest owner asks early and sits on the unlocked request while it keeps selling.
  await c.send(c.wallets.seller, registryTx(c, "requestWithdrawal", [listingId]));
  await c.warp(30n * DAY);
  await expectRevert(c.send(c.wallets.seller, registryTx(c, "withdraw", [listingId])), "WithdrawalExpired");
  // A fresh request is public for the whole delay; a challenge inside it cancels the request.
  await c.send(c.wallets.seller, registryTx(c, "requestWithdrawal", [listingId]));
  await c.warp(DAY);
  const { logs } = await challenge(c, "alice", listingId, 100n * ONE);
  assert.equal(parseEventLogs({ abi: kosmosRegistryAbi, logs, eventName: "WithdrawalCancelled" }).length, 1);
  await c.warp(7n * DAY);
  // The moment the owner would have withdrawn, nothing can come out, and no new request can be made.
  await expectRevert(
    c.send(c.wallets.seller, registryTx(c, "withdraw", [listingId])),
    "WithdrawalNotRequested",
  );
  await expectRevert(
    c.send(c.wallets.seller, registryTx(c, "requestWithdrawal", [listingId])),
    "OpenChallenges",
  );
  assert.equal(await read(c, "stakeOf", [listingId]), 100n * ONE);
  // The arbiter finds the listing bad: the challenger is paid from the stake that stayed put.
  const before = await balanceOf(c, c.accounts.alice);
  await c.send(c.wallets.arbiter, registryTx(c, "resolve", [listingId, true]));
  assert.equal(await balanceOf(c, c.accounts.alice), before + 100n * ONE + 50n * ONE);
});

chainTest(
  "attack: an owner filling every challenge slot with its own accounts is cleared at once",
  async (c) => {
    const listingId = await listDataset(c, "seller");
    // The owner's own accounts (here alice, bob, carol) take all 64 slots with the minimum stake.
    const sybils = ["alice", "bob", "carol"] as const;
    const funds = async () => {
      let sum = await balanceOf(c, c.accounts.seller);
      for (const s of sybils) sum += await balanceOf(c, c.accounts[s]);
      return sum;
    };
    const before = await funds();
    for (const s of sybils) await approve(c, s, c.addresses.registry, 10n ** 30n);
    const max = Number(await read<bigint>(c, "maxChallenges"));
    assert.equal(max, 64);
    for (let i = 0; i < max; i++) {
      await c.send(c.wallets[sybils[i % 3]], registryTx(c, "challenge", [listingId, 10n * ONE]));
    }
    // The real challenger is refused while the slots are full…
    await approve(c, "dave", c.addresses.registry, 50n * ONE);
    await expectRevert(
      c.send(c.wallets.dave, registryTx(c, "challenge", [listingId, 50n * ONE])),
      "ChallengesFull",
    );
    // …but 640 tokens are at stake, past the threshold, so the arbiter may clear them without waiting.
    const listing = await read<{ challenged: bigint }>(c, "getListing", [listingId]);
    assert.ok(listing.challenged >= (await read<bigint>(c, "challengeThreshold")));
    await c.send(c.wallets.arbiter, registryTx(c, "resolve", [listingId, false]));
    // The owner's side paid the treasury half of its own challenge stakes for the stunt.
    assert.equal(await funds(), before - 320n * ONE);
    await c.send(c.wallets.dave, registryTx(c, "challenge", [listingId, 50n * ONE]));
    assert.equal(await read(c, "challengeCount", [listingId]), 1n);
  },
);
