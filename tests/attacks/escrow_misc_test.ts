/**
 * Finding 10, the escrow's smaller holes, from the attacker's side against a real anvil with our
 * contracts.
 *
 * What the attacks tried, and what the old escrow gave the attacker:
 * 1. A delegate approved for one listing sells another listing of the same owner. Old delegates were
 *    approved per owner, so a gateway trusted with listing A could quote (and reveal keys of) every
 *    listing the owner had. Now approvals are per listing and the quote is refused.
 * 2. A delegate burns the owner's quote nonces. Old nonces were the owner's, shared with every
 *    delegate: a delegate could sign its own quote with the nonce of a quote the owner had just handed a
 *    buyer, open it first, and the owner's buyer got `NonceUsed`. Now each signer has its own nonces.
 * 3. Opening a sale id that is already open. The old `_open` never checked; only the owner-wide nonce
 *    stopped a second open of the same quote. With per-signer nonces the same quote signed again by a
 *    delegate has an unused nonce, and the second open would overwrite the sale record and strand the
 *    first locked price for good. `_open` now refuses an existing sale id.
 */
import assert from "node:assert/strict";
import { kosmosEscrowAbi } from "../../protocol/contracts_generated.ts";
import { contractCalls, createChainTest, expectRevert, ONE } from "../contracts/chain.ts";
import {
  approve,
  balanceOf,
  escrowTx,
  listDataset,
  makeQuote,
  openSale,
  revealSale,
  signQuote,
} from "../contracts/sale.ts";

const chainTest = createChainTest(async (c) => {
  const a = await listDataset(c, "seller");
  const b = await listDataset(c, "seller");
  // The owner trusts the "delegate" account (the attacker here) with listing A only.
  await c.send(c.wallets.seller, escrowTx(c, "setDelegate", [a, c.accounts.delegate, true]));
  return { a, b };
});
const { read } = contractCalls("escrow", kosmosEscrowAbi);

chainTest("attack: a delegate of listing A cannot sell listing B of the same owner", async (c, { a, b }) => {
  // The attacker quotes listing B to an accomplice buyer.
  const forged = await makeQuote(c, { listingId: b, signer: "delegate", buyer: "alice" });
  await approve(c, "alice", c.addresses.escrow, forged.quote.price);
  await expectRevert(
    c.send(c.wallets.alice, escrowTx(c, "open", [forged.quote, forged.signature])),
    "UnauthorizedSigner",
    [c.accounts.delegate, c.accounts.seller],
  );
  assert.equal(await read(c, "isDelegate", [b, c.accounts.delegate]), false);
  // Nor reveal the key of an honest sale of B.
  const honest = await makeQuote(c, { listingId: b });
  const { saleId, sale } = await openSale(c, honest);
  await expectRevert(
    c.send(c.wallets.delegate, escrowTx(c, "reveal", [saleId, sale, honest.kSale])),
    "NotSeller",
  );
  // Listing A, which it was trusted with, still works.
  await openSale(c, await makeQuote(c, { listingId: a, signer: "delegate" }));
});

chainTest(
  "attack: a delegate cannot burn the nonce of a quote the owner handed a buyer",
  async (c, { a }) => {
    const nonce = 5n;
    const owners = await makeQuote(c, { listingId: a, nonce, buyer: "buyer" });
    // The attacker front-runs with its own quote carrying the same nonce, bought by itself.
    const own = await makeQuote(c, {
      listingId: a,
      nonce,
      signer: "delegate",
      buyer: "delegate",
      price: ONE,
    });
    await openSale(c, own);
    assert.equal(await read(c, "isNonceUsed", [c.accounts.delegate, nonce]), true);
    assert.equal(await read(c, "isNonceUsed", [c.accounts.seller, nonce]), false);
    // Cancelling "its" nonce touches only its own.
    await c.send(c.wallets.delegate, escrowTx(c, "invalidateNonce", [nonce + 1n]));
    assert.equal(await read(c, "isNonceUsed", [c.accounts.seller, nonce + 1n]), false);
    // The owner's buyer opens the owner's quote as if nothing happened.
    const { sale } = await openSale(c, owners);
    assert.equal(sale.seller, c.accounts.seller);
  },
);

chainTest("attack: the same quote signed again cannot reopen an open sale and strand its price", async (
  c,
  { a },
) => {
  const q = await makeQuote(c, { listingId: a, price: 30n * ONE });
  const buyerBefore = await balanceOf(c, c.accounts.buyer);
  const { saleId, sale } = await openSale(c, q);
  const again = await signQuote(c, "delegate", q.quote);
  await approve(c, "buyer", c.addresses.escrow, q.quote.price);
  await expectRevert(c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, again])), "SaleExists", [saleId]);
  // The buyer paid once, the escrow holds one price, and the sale settles as opened.
  assert.equal(await balanceOf(c, c.accounts.buyer), buyerBefore - 30n * ONE);
  assert.equal(await balanceOf(c, c.addresses.escrow), 30n * ONE);
  const { sale: revealed } = await revealSale(c, saleId, sale, q.kSale);
  await c.send(c.wallets.buyer, escrowTx(c, "confirm", [saleId, revealed]));
  assert.equal(await read(c, "saleHash", [saleId]), `0x${"0".repeat(64)}`);
});
