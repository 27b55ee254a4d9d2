import assert from "node:assert/strict";
import { parseEventLogs } from "viem";
import { kosmosEscrowAbi, kosmosRegistryAbi, kosmosTokenAbi } from "../../../protocol/contracts_generated.ts";
import type { Sale } from "../../../protocol/quote.ts";
import {
  challengeListing,
  confirmSale,
  getTokenBalance,
  listDataset,
  openSale,
  requestWithdrawal,
  revealKey,
  withdrawPayouts,
} from "./actions/mod.ts";
import { type ContractCall, ContractRevertError, type KosmosClient } from "./client.ts";
import { collectReceipts, estimateCallFee, type FeeEstimate } from "./fees.ts";
import { estimateSaleFee, MEASURED_CONFIRM_GAS, MEASURED_OPEN_GAS } from "./sale_fees.ts";
import { makeDekCommit, makeManifestCid, ONE, signTestQuote, startTestChain } from "./testing.ts";

const chain = await startTestChain();
const { clients, contracts } = chain;
const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn: () => chain.isolate(fn) });
const registry = { address: contracts.registry, abi: kosmosRegistryAbi } as const;

/** Asserts `estimate` is within 10 % of the gas the receipts used, and prints both. */
function assertClose(what: string, estimate: bigint, receipts: { gasUsed: bigint }[]): void {
  const used = receipts.reduce((a, r) => a + r.gasUsed, 0n);
  const off = Number(estimate - used) / Number(used);
  console.log(`${what}: estimated ${estimate} gas, used ${used} (${(off * 100).toFixed(1)} %)`);
  assert.ok(Math.abs(off) <= 0.1, `${what}: estimate ${estimate} is not within 10 % of ${used}`);
}

function assertFee(fee: FeeEstimate): void {
  assert.ok(fee.gas > 21_000n);
  assert.ok(fee.maxFeePerGas >= fee.maxPriorityFeePerGas && fee.maxPriorityFeePerGas > 0n);
  assert.equal(fee.fee, fee.gas * fee.maxFeePerGas);
}

async function list(seed: string, client = clients.alice): Promise<bigint> {
  const manifestCid = await makeManifestCid(seed);
  const { listingId } = await listDataset(client, {
    manifestCid,
    dekCommit: makeDekCommit(seed),
    stake: 100n * ONE,
  });
  return listingId;
}

/** A quote for `listingId` signed by its owner `seller`, for `buyer`, crediting `seller` as the gateway. */
function signQuote(
  seller: KosmosClient,
  buyer: KosmosClient,
  listingId: bigint,
  price: bigint,
  nonce: bigint,
) {
  return signTestQuote(seller, buyer, listingId, price, {
    gateway: seller.walletClient.account.address,
    nonce,
  });
}

test("estimateCallFee() is within 10 % of the gas a registry write uses, and sendContractCall() sends with it", async () => {
  const listingId = await list("fee-other");
  const call: ContractCall = { ...registry, functionName: "requestWithdrawal", args: [listingId] };
  const fee = await estimateCallFee(clients.alice, call);
  assertFee(fee);
  const { receipts } = await collectReceipts(() => requestWithdrawal(clients.alice, { listingId }));
  assert.equal(receipts.length, 1);
  assertClose("requestWithdrawal", fee.gas, receipts);
  const tx = await clients.alice.publicClient.getTransaction({ hash: receipts[0].transactionHash });
  assert.equal(tx.gas, fee.gas, "sent with the estimated gas");
  assert.ok(tx.maxFeePerGas! > 0n && tx.maxPriorityFeePerGas === fee.maxPriorityFeePerGas);
});

test("estimateCallFee() of an approval and the challenge that spends it matches both receipts", async () => {
  const listingId = await list("fee-challenged");
  const amount = 10n * ONE;
  const calls: ContractCall[] = [
    {
      address: contracts.token,
      abi: kosmosTokenAbi,
      functionName: "approve",
      args: [contracts.registry, amount],
    },
    { ...registry, functionName: "challenge", args: [listingId, amount] },
  ];
  // The challenge alone cannot be estimated before the approval is mined.
  await assert.rejects(estimateCallFee(clients.bob, calls[1]), ContractRevertError);
  const fee = await estimateCallFee(clients.bob, calls);
  assertFee(fee);
  const { receipts } = await collectReceipts(() => challengeListing(clients.bob, { listingId, amount }));
  assert.equal(receipts.length, 2, "approval and challenge");
  assertClose("approve + challenge", fee.gas, receipts);
});

test("estimateCallFee() names the contract's error of a call that would revert, and sends nothing", async () => {
  const listingId = await list("fee-own");
  const before = await clients.alice.publicClient.getTransactionCount({ address: chain.addresses.alice });
  const err = await estimateCallFee(clients.alice, [
    {
      address: contracts.token,
      abi: kosmosTokenAbi,
      functionName: "approve",
      args: [contracts.registry, ONE],
    },
    { ...registry, functionName: "challenge", args: [listingId, ONE] },
  ]).catch((e) => e);
  assert.ok(err instanceof ContractRevertError, String(err));
  assert.match(err.revert, /ChallengeOwnListing|StakeTooLow|ChallengeTooLow|Own|Low/);
  assert.equal(
    await clients.alice.publicClient.getTransactionCount({ address: chain.addresses.alice }),
    before,
  );
});

test("estimateCallFee() of a payout withdrawal is within 10 % of its receipt", async () => {
  const listingId = await list("fee-sold");
  await chain.completeSale("alice", "bob", listingId, 5n * ONE);
  const fee = await estimateCallFee(clients.alice, {
    address: contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "withdraw",
    args: [],
  });
  const { receipts } = await collectReceipts(() => withdrawPayouts(clients.alice));
  assertClose("withdraw payouts", fee.gas, receipts);
});

test("estimateSaleFee() of openWithPermit and confirm is within 10 % of both receipts, signing nothing on chain", async () => {
  for (const [i, round] of ["first sale", "later sale"].entries()) {
    const listingId = await list(`fee-sale-${round}`, clients.carol);
    const { quote, signature, kSale } = await signQuote(
      clients.carol,
      clients.bob,
      listingId,
      7n * ONE,
      BigInt(i),
    );
    const nonce = await clients.bob.publicClient.getTransactionCount({ address: chain.addresses.bob });
    const balance = await getTokenBalance(clients.bob);
    const estimate = await estimateSaleFee(clients.bob, { quote, signature });
    assert.equal(await clients.bob.publicClient.getTransactionCount({ address: chain.addresses.bob }), nonce);
    assert.equal(await getTokenBalance(clients.bob), balance);
    assert.equal(estimate.confirm.source, "simulated");
    assertFee(estimate.fee);
    const { receipts } = await collectReceipts(async () => {
      const opened = await openSale(clients.bob, { quote, signature });
      const { sale } = await revealKey(clients.carol, { saleId: opened.saleId, sale: opened.sale, kSale });
      await confirmSale(clients.bob, { saleId: opened.saleId, sale: sale as Sale });
    });
    const [open, reveal, confirm] = receipts;
    assert.equal(reveal.from.toLowerCase(), chain.addresses.carol.toLowerCase());
    assertClose(`${round}: openWithPermit`, estimate.open, [open]);
    assertClose(`${round}: confirm`, estimate.confirm.gas, [confirm]);
    assertClose(`${round}: MEASURED_CONFIRM_GAS`, MEASURED_CONFIRM_GAS, [confirm]);
    if (i === 0) assertClose(`${round}: MEASURED_OPEN_GAS`, MEASURED_OPEN_GAS, [open]);
    const buyers = receipts.filter((r) => r.from.toLowerCase() === chain.addresses.bob.toLowerCase());
    assert.equal(buyers.length, 2);
    assertClose(`${round}: the whole buy`, estimate.fee.gas, buyers);
    const [completed] = parseEventLogs({
      abi: kosmosEscrowAbi,
      eventName: "Completed",
      logs: buyers[1].logs,
    });
    assert.ok(completed, "the sale completed");
  }
});
