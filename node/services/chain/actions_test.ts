import assert from "node:assert/strict";
import { ContractRevertError } from "./client.ts";
import {
  addStake,
  challengeListing,
  getChallenges,
  getListing,
  getListingStake,
  getPayoutBalance,
  getRegistryConfig,
  getTokenBalance,
  listDataset,
  requestWithdrawal,
  resolveChallenge,
  withdrawPayouts,
  withdrawStake,
} from "./actions/mod.ts";
import { makeDekCommit, makeManifestCid, ONE, startTestChain } from "./testing.ts";

const chain = await startTestChain();
const { clients, addresses } = chain;
const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn: () => chain.isolate(fn) });

async function rejectsWith(promise: Promise<unknown>, revert: string): Promise<ContractRevertError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ContractRevertError, `expected a ContractRevertError, got ${err}`);
    assert.equal(err.revert, revert, err.message);
    return err;
  }
  assert.fail(`expected a ${revert} revert`);
}

test("listDataset() lists a manifest with a permit in one transaction and addStake() raises the stake", async () => {
  const manifestCid = await makeManifestCid("list");
  const before = await getTokenBalance(clients.alice);
  const { listingId } = await listDataset(clients.alice, {
    manifestCid,
    dekCommit: makeDekCommit(manifestCid),
    stake: 150n * ONE,
  });
  const listing = await getListing(clients.alice, { listingId });
  assert.deepEqual(listing, {
    listingId,
    owner: addresses.alice,
    kind: "dataset",
    manifestCid,
    dekCommit: makeDekCommit(manifestCid),
    stake: 150n * ONE,
    withdrawableAt: 0,
    challengeCount: 0,
    challenged: 0n,
    challengedAt: 0,
  });
  const { stake } = await addStake(clients.alice, { listingId, amount: 25n * ONE });
  assert.equal(stake, 175n * ONE);
  assert.equal(await getListingStake(clients.alice, { listingId }), 175n * ONE);
  assert.equal(await getTokenBalance(clients.alice), before - 175n * ONE);
});

test("listDataset() reverts StakeTooLow below the minimum and rejects a malformed CID before sending", async () => {
  const err = await rejectsWith(
    listDataset(clients.alice, {
      manifestCid: await makeManifestCid("low"),
      dekCommit: makeDekCommit("low"),
      stake: ONE,
    }),
    "StakeTooLow",
  );
  assert.deepEqual(err.args, [ONE, 100n * ONE]);
  await assert.rejects(
    listDataset(clients.alice, {
      manifestCid: "not-a-cid",
      dekCommit: makeDekCommit("x"),
      stake: 100n * ONE,
    }),
    TypeError,
  );
  await assert.rejects(
    listDataset(clients.alice, {
      manifestCid: await makeManifestCid("z"),
      dekCommit: makeDekCommit("z"),
      stake: 0n,
    }),
    RangeError,
  );
});

test("addStake() reverts NotListingOwner for someone else's listing", async () => {
  const { listingId } = await listDataset(clients.alice, {
    manifestCid: await makeManifestCid("own"),
    dekCommit: makeDekCommit("own"),
    stake: 100n * ONE,
  });
  await rejectsWith(addStake(clients.bob, { listingId, amount: ONE }), "NotListingOwner");
});

test("withdrawStake() needs a request and the delay, then returns the whole stake and burns the listing", async () => {
  const { listingId } = await listDataset(clients.alice, {
    manifestCid: await makeManifestCid("wd"),
    dekCommit: makeDekCommit("wd"),
    stake: 100n * ONE,
  });
  await rejectsWith(withdrawStake(clients.alice, { listingId }), "WithdrawalNotRequested");
  const { withdrawableAt } = await requestWithdrawal(clients.alice, { listingId });
  const { withdrawDelay } = await getRegistryConfig(clients.alice);
  assert.ok(withdrawableAt > Date.now() / 1000 + withdrawDelay - 60);
  await rejectsWith(withdrawStake(clients.alice, { listingId }), "WithdrawalTooEarly");
  await chain.increaseTime(withdrawDelay + 1);
  const before = await getTokenBalance(clients.alice);
  const { amount } = await withdrawStake(clients.alice, { listingId });
  assert.equal(amount, 100n * ONE);
  assert.equal(await getTokenBalance(clients.alice), before + 100n * ONE);
  assert.equal(await getListing(clients.alice, { listingId }), undefined);
});

test("challengeListing() and resolveChallenge(): stake threshold, slot cap, own-listing, arbiter-only and a bad listing paid out", async () => {
  const { listingId } = await listDataset(clients.alice, {
    manifestCid: await makeManifestCid("bad"),
    dekCommit: makeDekCommit("bad"),
    stake: 100n * ONE,
  });
  await rejectsWith(challengeListing(clients.alice, { listingId, amount: 10n * ONE }), "OwnListing");
  await rejectsWith(challengeListing(clients.bob, { listingId, amount: ONE }), "ChallengeStakeTooLow");
  assert.equal((await challengeListing(clients.bob, { listingId, amount: 10n * ONE })).count, 1);
  await rejectsWith(resolveChallenge(clients.deployer, { listingId, bad: true }), "NotResolvable");
  await challengeListing(clients.carol, { listingId, amount: 10n * ONE });
  await challengeListing(clients.deployer, { listingId, amount: 20n * ONE });
  await rejectsWith(challengeListing(clients.bob, { listingId, amount: 10n * ONE }), "ChallengesFull");
  assert.deepEqual(await getChallenges(clients.bob, { listingId }), [
    { challenger: addresses.bob, amount: 10n * ONE },
    { challenger: addresses.carol, amount: 10n * ONE },
    { challenger: addresses.deployer, amount: 20n * ONE },
  ]);
  await rejectsWith(requestWithdrawal(clients.alice, { listingId }), "OpenChallenges");
  await rejectsWith(resolveChallenge(clients.bob, { listingId, bad: true }), "NotArbiter");
  const bob = await getTokenBalance(clients.bob);
  const result = await resolveChallenge(clients.deployer, { listingId, bad: true });
  assert.equal(result.bad, true);
  assert.equal(result.toChallengers, 40n * ONE + 50n * ONE);
  assert.equal(result.toTreasury, 50n * ONE);
  assert.equal(await getTokenBalance(clients.bob), bob + 10n * ONE + 12_500_000_000_000_000_000n);
  assert.equal(await getListing(clients.bob, { listingId }), undefined);
});

test("resolveChallenge() of a good listing pays the owner and keeps the listing", async () => {
  const { listingId } = await listDataset(clients.alice, {
    manifestCid: await makeManifestCid("good"),
    dekCommit: makeDekCommit("good"),
    stake: 100n * ONE,
  });
  for (const c of [clients.bob, clients.carol, clients.deployer]) {
    await challengeListing(c, { listingId, amount: 10n * ONE });
  }
  const result = await resolveChallenge(clients.deployer, { listingId, bad: false });
  assert.deepEqual([result.bad, result.toOwner, result.toTreasury], [false, 15n * ONE, 15n * ONE]);
  assert.equal((await getListing(clients.alice, { listingId }))?.challengeCount, 0);
});

test("withdrawPayouts() pays what completed sales credited and reverts NothingToWithdraw after", async () => {
  await rejectsWith(withdrawPayouts(clients.alice), "NothingToWithdraw");
  const { listingId } = await listDataset(clients.alice, {
    manifestCid: await makeManifestCid("sale"),
    dekCommit: makeDekCommit("sale"),
    stake: 100n * ONE,
  });
  await chain.completeSale("alice", "bob", listingId, 50n * ONE);
  assert.equal(await getPayoutBalance(clients.alice), 40n * ONE);
  const before = await getTokenBalance(clients.alice);
  const { amount } = await withdrawPayouts(clients.alice);
  assert.equal(amount, 40n * ONE);
  assert.equal(await getTokenBalance(clients.alice), before + 40n * ONE);
  assert.equal(await getPayoutBalance(clients.alice), 0n);
  await rejectsWith(withdrawPayouts(clients.alice), "NothingToWithdraw");
});

test("an action stops waiting when its signal aborts", async () => {
  const controller = new AbortController();
  controller.abort(new Error("stopped"));
  await assert.rejects(withdrawPayouts(clients.alice, { signal: controller.signal }), /stopped/);
});

Deno.test({
  name: "stop the test chain",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => chain.stop(),
});
