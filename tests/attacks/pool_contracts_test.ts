/**
 * Attacks on the pool, rewards and mining contracts, from the attacker's side, on our contracts on a
 * real anvil (`startTestChain`). Alice operates a pool whose version 1 (her registry listing) has two
 * contributors, Bob (few rows) and Carol (many); Bob is the attacker, with his own wallet and the
 * chain's public events, from which he can compute every leaf and proof of every distribution.
 *
 * 1. Not the operator. Bob registers Alice's listing as a version of her pool, registers it as a
 *    version of a pool of his own, and distributes a sale of Alice's version (to a root paying
 *    himself everything). Must not obtain: a registered version, a distribution, tokens.
 * 2. The operator under-paying. Alice distributes a sale with a total under `toSeller − fee`, then
 *    the same sale twice. Must not obtain: a distribution that pays contributors less than the
 *    terms, or a second distribution of one sale.
 * 3. Another's leaf, or twice. Bob claims with Carol's index and proof for himself, with his own
 *    proof and a larger amount, and his own leaf twice; he also submits Carol's leaf unchanged.
 *    Must not obtain: any token beyond his own leaf (Carol's unchanged leaf pays Carol, not him).
 * 4. Mining. Bob publishes an epoch's distribution to himself. Must not obtain: a published epoch.
 */
import assert from "node:assert/strict";
import { type Address, type Hex, keccak256, parseEventLogs, stringToHex } from "viem";
import {
  type ContractRevertError,
  type KosmosClient,
  sendContractCall,
} from "../../node/services/chain/mod.ts";
import { listDataset } from "../../node/services/chain/actions/registry.ts";
import { makeDekCommit, makeManifestCid, ONE, startTestChain } from "../../node/services/chain/testing.ts";
import {
  kosmosEscrowAbi,
  kosmosMiningAbi,
  kosmosPoolsAbi,
  kosmosRewardsAbi,
  kosmosTokenAbi,
} from "../../protocol/contracts_generated.ts";
import { buildDistribution, poolSaleLeaves } from "../../protocol/rewards.ts";

const FEE_BPS = 1000;
const PRICE = 500n * ONE;

const reverts = async (promise: Promise<unknown>, name: string) => {
  await assert.rejects(
    promise,
    (err: ContractRevertError) => err.name === "ContractRevertError" && err.revert === name,
    `reverts with ${name}`,
  );
};

Deno.test("attack: a non-operator registers or distributes, an operator under-pays, a contributor claims another's leaf or twice, a stranger publishes an epoch: all revert", async (t) => {
  await using chain = await startTestChain();
  const { alice, bob, carol } = chain.clients;
  const { contracts } = chain;
  const pools = (client: KosmosClient, functionName: string, args: unknown[]) =>
    sendContractCall(client, { address: contracts.pools, abi: kosmosPoolsAbi, functionName, args } as never, {
      action: functionName,
    });
  const rewardsClaim = (client: KosmosClient, args: readonly unknown[]) =>
    sendContractCall(client, {
      address: contracts.rewards,
      abi: kosmosRewardsAbi,
      functionName: "claim",
      args,
    } as never, { action: "claim" });
  const balanceOf = (account: Address) =>
    alice.publicClient.readContract({
      address: contracts.token,
      abi: kosmosTokenAbi,
      functionName: "balanceOf",
      args: [account],
    });

  // Alice's pool and its version 1: Bob 10 rows, Carol 90 (contributors sorted by address).
  const created = await pools(alice, "createPool", [
    keccak256(stringToHex("terms of Alice's pool")),
    FEE_BPS,
  ]);
  const [{ args: { poolId } }] = parseEventLogs({
    abi: kosmosPoolsAbi,
    eventName: "PoolCreated",
    logs: created.logs,
  });
  const { listingId } = await listDataset(alice, {
    manifestCid: await makeManifestCid("pool version 1"),
    dekCommit: makeDekCommit("pool version 1"),
    stake: 100n * ONE,
  });
  const members = [
    { account: chain.addresses.bob, rows: 10n },
    { account: chain.addresses.carol, rows: 90n },
  ].sort((a, b) => (a.account.toLowerCase() < b.account.toLowerCase() ? -1 : 1));
  const contributors = members.map((m) => m.account);
  const rows = members.map((m) => m.rows);

  await t.step("Bob cannot register Alice's listing, in her pool or in his own", async () => {
    await reverts(pools(bob, "registerVersion", [poolId, listingId, contributors, rows]), "NotOperator");
    const own = await pools(bob, "createPool", [keccak256(stringToHex("Bob's pool")), 0]);
    const [{ args: { poolId: bobsPool } }] = parseEventLogs({
      abi: kosmosPoolsAbi,
      eventName: "PoolCreated",
      logs: own.logs,
    });
    await reverts(
      pools(bob, "registerVersion", [bobsPool, listingId, contributors, rows]),
      "NotListingOwner",
    );
  });

  await pools(alice, "registerVersion", [poolId, listingId, contributors, rows]);
  await chain.completeSale("alice", "deployer", listingId, PRICE);
  const opened = await alice.publicClient.getContractEvents({
    address: contracts.escrow,
    abi: kosmosEscrowAbi,
    eventName: "Opened",
    args: { listingId },
    fromBlock: 0n,
  });
  const saleId = opened[0].args.saleId!;
  const [completed] = await alice.publicClient.getContractEvents({
    address: contracts.escrow,
    abi: kosmosEscrowAbi,
    eventName: "Completed",
    args: { saleId },
    fromBlock: 0n,
  });
  const toSeller = completed.args.toSeller!;
  const { total, leaves } = poolSaleLeaves({ toSeller, feeBps: FEE_BPS, contributors, rows });
  const distribution = buildDistribution(leaves);

  await t.step(
    "Bob cannot distribute a sale of Alice's version, not even to a root that pays him all",
    async () => {
      const greedy = buildDistribution([{ account: chain.addresses.bob, amount: total }]);
      await sendContractCall(bob, {
        address: contracts.token,
        abi: kosmosTokenAbi,
        functionName: "approve",
        args: [contracts.pools, total],
      }, { action: "approve" });
      await reverts(
        pools(bob, "distributeSale", [saleId, listingId, toSeller, greedy.root, total]),
        "NotOperator",
      );
    },
  );

  let distributionId = 0n;
  await t.step("Alice cannot under-pay the contributors, nor distribute one sale twice", async () => {
    await sendContractCall(alice, {
      address: contracts.token,
      abi: kosmosTokenAbi,
      functionName: "approve",
      args: [contracts.pools, 2n * total],
    }, { action: "approve" });
    await reverts(
      pools(alice, "distributeSale", [saleId, listingId, toSeller, distribution.root, total - 1n]),
      "WrongTotal",
    );
    // Nor a total above it (taken from nobody's share, but not what the terms say). A seller share
    // declared under the escrow's Completed.toSeller is not checkable on chain (the escrow forgets the
    // sale); every contributor's node compares SaleDistributed.sellerShare with Completed.toSeller.
    await reverts(
      pools(alice, "distributeSale", [saleId, listingId, toSeller, distribution.root, total + 1n]),
      "WrongTotal",
    );
    const sent = await pools(alice, "distributeSale", [
      saleId,
      listingId,
      toSeller,
      distribution.root,
      total,
    ]);
    const [event] = parseEventLogs({ abi: kosmosPoolsAbi, eventName: "SaleDistributed", logs: sent.logs });
    distributionId = event.args.distributionId;
    assert.equal(event.args.sellerShare, toSeller);
    assert.equal(event.args.total, total);
    await reverts(
      pools(alice, "distributeSale", [saleId, listingId, toSeller, distribution.root, total]),
      "SaleAlreadyDistributed",
    );
  });

  await t.step("Bob cannot claim Carol's leaf for himself, inflate his own, or claim his twice", async () => {
    const bobsLeaf = distribution.leaves.find((l) => l.account === chain.addresses.bob)!;
    const carolsLeaf = distribution.leaves.find((l) => l.account === chain.addresses.carol)!;
    const bobBefore = await balanceOf(chain.addresses.bob);
    const carolBefore = await balanceOf(chain.addresses.carol);
    const claimArgs = (leaf: typeof bobsLeaf, account: Address, amount: bigint, proof: Hex[]) =>
      [distributionId, leaf.index, account, amount, proof] as const;

    await reverts(
      rewardsClaim(bob, claimArgs(carolsLeaf, chain.addresses.bob, carolsLeaf.amount, carolsLeaf.proof)),
      "InvalidProof",
    );
    await reverts(
      rewardsClaim(bob, claimArgs(bobsLeaf, chain.addresses.bob, bobsLeaf.amount * 2n, bobsLeaf.proof)),
      "InvalidProof",
    );
    await reverts(
      rewardsClaim(bob, claimArgs(bobsLeaf, chain.addresses.bob, carolsLeaf.amount, carolsLeaf.proof)),
      "InvalidProof",
    );
    assert.equal(await balanceOf(chain.addresses.bob), bobBefore, "nothing reached Bob");

    await rewardsClaim(bob, claimArgs(bobsLeaf, chain.addresses.bob, bobsLeaf.amount, bobsLeaf.proof));
    await reverts(
      rewardsClaim(bob, claimArgs(bobsLeaf, chain.addresses.bob, bobsLeaf.amount, bobsLeaf.proof)),
      "AlreadyClaimed",
    );
    // Carol's leaf submitted by Bob as it is pays Carol, and only once.
    await rewardsClaim(
      bob,
      claimArgs(carolsLeaf, chain.addresses.carol, carolsLeaf.amount, carolsLeaf.proof),
    );
    await reverts(
      rewardsClaim(carol, claimArgs(carolsLeaf, chain.addresses.carol, carolsLeaf.amount, carolsLeaf.proof)),
      "AlreadyClaimed",
    );
    assert.equal(await balanceOf(chain.addresses.bob), bobBefore + bobsLeaf.amount, "Bob got his leaf only");
    assert.equal(await balanceOf(chain.addresses.carol), carolBefore + carolsLeaf.amount);
    assert.equal(bobsLeaf.amount + carolsLeaf.amount, total, "the leaves are the whole total");
  });

  await t.step("Bob cannot publish a mining epoch", async () => {
    const mining = { address: contracts.mining, abi: kosmosMiningAbi } as const;
    const read = (functionName: string, args: unknown[] = []) =>
      alice.publicClient.readContract({ ...mining, functionName, args } as never) as Promise<bigint>;
    const epoch = await read("currentEpoch");
    const now = (await alice.publicClient.getBlock()).timestamp;
    await chain.increaseTime(Number(await read("epochEnd", [epoch]) - now) + 1);
    const reward = await read("epochReward", [epoch]);
    const greedy = buildDistribution([{ account: chain.addresses.bob, amount: reward }]);
    await reverts(
      sendContractCall(
        bob,
        { ...mining, functionName: "publishEpoch", args: [epoch, greedy.root, reward] } as never,
        {
          action: "publish an epoch",
        },
      ),
      "NotDistributor",
    );
    assert.equal(
      await alice.publicClient.readContract({ ...mining, functionName: "published", args: [epoch] } as never),
      false,
    );
  });
});
