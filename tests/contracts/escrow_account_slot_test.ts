/**
 * The escrow keeps a seller's quote nonces 0-127 in the same storage slot as its payout balance (a
 * first sale fills one empty slot instead of two), nonces from 128 on in words of 256. These tests
 * cross that layout's edges: nonces either side of 128 and 256, credits, withdrawals and cancelled
 * nonces, each checked to leave the other half of the slot alone.
 */
import assert from "node:assert/strict";
import { kosmosEscrowAbi } from "../../protocol/contracts_generated.ts";
import { expectRevert, ONE, type TestChain } from "./chain.ts";
import { chainTest, escrowBalanceOf, escrowTx, makeQuote, openSale, revealSale } from "./sale.ts";

function isNonceUsed(c: TestChain, nonce: bigint): Promise<boolean> {
  return c.publicClient.readContract({
    address: c.addresses.escrow,
    abi: kosmosEscrowAbi,
    functionName: "isNonceUsed",
    args: [c.accounts.seller, nonce],
  });
}

/** Opens, reveals and confirms a 100-token sale quoted with `nonce`: 80 tokens to the seller. */
async function sell(c: TestChain, listingId: bigint, nonce: bigint): Promise<void> {
  const q = await makeQuote(c, { listingId, nonce });
  const { saleId, sale } = await openSale(c, q);
  const { sale: revealed } = await revealSale(c, saleId, sale, q.kSale);
  await c.send(c.wallets.buyer, escrowTx(c, "confirm", [saleId, revealed]));
}

chainTest(
  "open() uses exactly the quoted nonce on both sides of 128 and 256, and the payouts add up beside them",
  async (c, { listingId }) => {
    const quoted = [0n, 127n, 128n, 255n, 256n];
    for (const nonce of quoted) await sell(c, listingId, nonce);
    for (const nonce of quoted) assert.equal(await isNonceUsed(c, nonce), true, `nonce ${nonce}`);
    for (const nonce of [1n, 126n, 129n, 254n, 257n, 383n, 384n]) {
      assert.equal(await isNonceUsed(c, nonce), false, `nonce ${nonce}`);
    }
    assert.equal(await escrowBalanceOf(c, c.accounts.seller), 5n * 80n * ONE);
    for (const nonce of quoted) {
      await expectRevert(
        openSale(c, await makeQuote(c, { listingId, nonce })),
        "NonceUsed",
        [c.accounts.seller, nonce],
      );
    }
  },
);

chainTest(
  "withdraw() empties the payout and keeps the nonces; invalidateNonce() keeps the payout",
  async (c, { listingId }) => {
    await sell(c, listingId, 3n);
    await c.send(c.wallets.seller, escrowTx(c, "withdraw", []));
    assert.equal(await escrowBalanceOf(c, c.accounts.seller), 0n);
    assert.equal(await isNonceUsed(c, 3n), true);
    await expectRevert(openSale(c, await makeQuote(c, { listingId, nonce: 3n })), "NonceUsed", [
      c.accounts.seller,
      3n,
    ]);
    await expectRevert(c.send(c.wallets.seller, escrowTx(c, "withdraw", [])), "NothingToWithdraw", [
      c.accounts.seller,
    ]);

    await sell(c, listingId, 4n);
    await c.send(c.wallets.seller, escrowTx(c, "invalidateNonce", [127n]));
    await c.send(c.wallets.seller, escrowTx(c, "invalidateNonce", [128n]));
    assert.equal(await escrowBalanceOf(c, c.accounts.seller), 80n * ONE);
    for (const nonce of [3n, 4n, 127n, 128n]) {
      assert.equal(await isNonceUsed(c, nonce), true, `nonce ${nonce}`);
    }
    assert.equal(await isNonceUsed(c, 5n), false);
    await c.send(c.wallets.seller, escrowTx(c, "withdraw", []));
    assert.equal(await escrowBalanceOf(c, c.accounts.seller), 0n);
    for (const nonce of [3n, 4n, 127n, 128n]) {
      assert.equal(await isNonceUsed(c, nonce), true, `nonce ${nonce}`);
    }
  },
);
