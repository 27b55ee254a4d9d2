/**
 * The escrow's configurable split: a deployment with 7000/2000/1000 (seller/gateway/treasury) instead
 * of the default 8000/1000/1000 pays exactly those shares, the gateway's share to the treasury when the
 * sale has no gateway, and the rounding dust to the treasury. The expected payouts are written out, not
 * computed with the contract's formula: an escrow that ignored its configuration and paid 8000/1000
 * would pay the seller 80,000000000000000007 and fail every assertion below.
 */
import assert from "node:assert/strict";
import { type Address, parseEventLogs, zeroAddress } from "viem";
import { type ContractAddresses, deployContracts } from "../../node/services/chain/deploy.ts";
import { kosmosEscrowAbi, kosmosTokenAbi } from "../../protocol/contracts_generated.ts";
import { createChainTest, ONE, type TestChain } from "./chain.ts";
import {
  balanceOf,
  escrowBalanceOf,
  escrowTx,
  listDataset,
  makeQuote,
  openSale,
  revealSale,
} from "./sale.ts";

/** 100 tokens and 9 wei: no share of 9 wei divides evenly, so every split leaves dust. */
const PRICE = 100n * ONE + 9n;

/**
 * The shared chain with a second set of contracts deployed with the 7000/2000/1000 split, the test
 * accounts funded on its token; `c.addresses` points at the second set so the sale helpers use it.
 */
const splitTest = createChainTest(async (base): Promise<TestChain> => {
  const addresses: ContractAddresses = await deployContracts(base.wallets.deployer, base.publicClient, {
    arbiter: base.accounts.arbiter,
    treasury: base.accounts.treasury,
    rewardsReserve: base.accounts.reserve,
    faucet: base.accounts.deployer,
    split: [7000, 2000, 1000],
    timeout: 10_000,
  });
  for (const name of ["seller", "buyer"] as const) {
    await base.send(base.wallets.deployer, {
      address: addresses.token,
      abi: kosmosTokenAbi,
      functionName: "transfer",
      args: [base.accounts[name], 10_000n * ONE],
    });
  }
  return { ...base, addresses };
});

/** Opens, reveals and confirms a sale of `PRICE` with `gateway`; returns the `Completed` amounts. */
async function completeSale(c: TestChain, gateway: Address) {
  const listingId = await listDataset(c, "seller");
  const q = await makeQuote(c, { listingId, price: PRICE, gateway });
  const { saleId, sale } = await openSale(c, q);
  const { sale: revealed } = await revealSale(c, saleId, sale, q.kSale);
  const { logs } = await c.send(c.wallets.buyer, escrowTx(c, "confirm", [saleId, revealed]));
  const [completed] = parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "Completed" });
  return completed.args;
}

/** Withdraws `who`'s escrow balance and returns the tokens it received. */
async function withdrawn(c: TestChain, who: "seller" | "gateway" | "treasury") {
  const before = await balanceOf(c, c.accounts[who]);
  await c.send(c.wallets[who], escrowTx(c, "withdraw", []));
  assert.equal(await escrowBalanceOf(c, c.accounts[who]), 0n);
  return await balanceOf(c, c.accounts[who]) - before;
}

splitTest("the escrow reads its split from the deployment", async (_base, c) => {
  const read = (functionName: "sellerBps" | "gatewayBps") =>
    c.publicClient.readContract({ address: c.addresses.escrow, abi: kosmosEscrowAbi, functionName });
  assert.equal(await read("sellerBps"), 7000n);
  assert.equal(await read("gatewayBps"), 2000n);
});

splitTest("a 7000/2000/1000 sale with a gateway pays 70/20/10, dust to the treasury", async (_base, c) => {
  const paid = await completeSale(c, c.accounts.gateway);
  // 9 wei: 6.3 → 6 to the seller, 1.8 → 1 to the gateway, the other 2 (0.9 + 1.1 of dust) to the treasury.
  assert.equal(paid.toSeller, 70n * ONE + 6n);
  assert.equal(paid.toGateway, 20n * ONE + 1n);
  assert.equal(paid.toTreasury, 10n * ONE + 2n);
  assert.equal(paid.toSeller + paid.toGateway + paid.toTreasury, PRICE);
  assert.equal(await escrowBalanceOf(c, c.accounts.seller), 70n * ONE + 6n);
  assert.equal(await escrowBalanceOf(c, c.accounts.gateway), 20n * ONE + 1n);
  assert.equal(await escrowBalanceOf(c, c.accounts.treasury), 10n * ONE + 2n);
  assert.equal(await withdrawn(c, "seller"), 70n * ONE + 6n);
  assert.equal(await withdrawn(c, "gateway"), 20n * ONE + 1n);
  assert.equal(await withdrawn(c, "treasury"), 10n * ONE + 2n);
});

splitTest(
  "a 7000/2000/1000 sale without a gateway pays the gateway's 20 to the treasury",
  async (_base, c) => {
    const paid = await completeSale(c, zeroAddress);
    assert.equal(paid.toSeller, 70n * ONE + 6n);
    assert.equal(paid.toGateway, 0n);
    assert.equal(paid.toTreasury, 30n * ONE + 3n);
    assert.equal(await escrowBalanceOf(c, c.accounts.gateway), 0n);
    assert.equal(await escrowBalanceOf(c, zeroAddress), 0n);
    assert.equal(await withdrawn(c, "seller"), 70n * ONE + 6n);
    assert.equal(await withdrawn(c, "treasury"), 30n * ONE + 3n);
  },
);
