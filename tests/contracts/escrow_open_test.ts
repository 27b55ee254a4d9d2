/** The escrow's open(): quotes, signatures, permits, nonces and prices. */
import assert from "node:assert/strict";
import { type Hex, hexToBigInt, numberToHex, parseEventLogs, parseSignature } from "viem";
import { kosmosEscrowAbi } from "../../protocol/contracts_generated.ts";
import { getEscrowDomain } from "../../protocol/quote.ts";
import { expectedDomainSeparator, expectRevert, ONE, type ReadParams } from "./chain.ts";
import {
  approve,
  balanceOf,
  chainTest,
  DAY,
  escrowTx,
  isDelegate,
  makeQuote,
  openSale,
  randomBytes32,
  revealSale,
  SECP256K1_N,
  signPermit,
} from "./sale.ts";

chainTest("open() locks the price, records the sale by hash and uses the nonce", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId, price: 250n * ONE });
  const before = await balanceOf(c, c.accounts.buyer);
  const { saleId, sale } = await openSale(c, q);
  assert.equal(await balanceOf(c, c.accounts.buyer), before - 250n * ONE);
  assert.equal(await balanceOf(c, c.addresses.escrow), 250n * ONE);
  const read = (functionName: string, args: readonly unknown[]) =>
    c.publicClient.readContract(
      { address: c.addresses.escrow, abi: kosmosEscrowAbi, functionName, args } as unknown as ReadParams,
    );
  assert.equal(saleId, await read("hashQuote", [q.quote]));
  assert.equal(
    await read("DOMAIN_SEPARATOR", []),
    expectedDomainSeparator(getEscrowDomain(31337, c.addresses.escrow)),
  );
  assert.notEqual(await read("saleHash", [saleId]), `0x${"0".repeat(64)}`);
  assert.equal(await read("isNonceUsed", [c.accounts.seller, q.quote.nonce]), true);
  assert.equal(sale.buyer, c.accounts.buyer);
  assert.equal(sale.seller, c.accounts.seller);
  assert.equal(sale.gateway, c.accounts.gateway);
  assert.equal(sale.price, 250n * ONE);
  assert.equal(BigInt(sale.revealDeadline), (await c.now()) + DAY);
  assert.equal(sale.disputeDeadline, 0);
  assert.equal(sale.zHash, q.quote.zHash);
});

chainTest("openWithPermit() permits and opens in one transaction", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId });
  const deadline = (await c.now()) + 3600n;
  const permit = await signPermit(c, "buyer", c.addresses.escrow, q.quote.price, deadline);
  const args = [q.quote, q.signature, deadline, Number(permit.v), permit.r, permit.s];
  const { logs } = await c.send(c.wallets.buyer, escrowTx(c, "openWithPermit", args));
  assert.equal(parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "Opened" }).length, 1);
  assert.equal(await balanceOf(c, c.addresses.escrow), q.quote.price);
});

chainTest(
  "openWithPermit() opens with an existing allowance when the permit is invalid",
  async (c, { listingId }) => {
    const q = await makeQuote(c, { listingId });
    await approve(c, "buyer", c.addresses.escrow, q.quote.price);
    const args = [q.quote, q.signature, 0n, 27, randomBytes32(), randomBytes32()];
    await c.send(c.wallets.buyer, escrowTx(c, "openWithPermit", args));
    assert.equal(await balanceOf(c, c.addresses.escrow), q.quote.price);
  },
);

chainTest("open() without allowance reverts with ERC20InsufficientAllowance", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId });
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature])),
    "ERC20InsufficientAllowance",
  );
});

chainTest("open() rejects an expired quote", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId, deadline: (await c.now()) + 10n });
  await approve(c, "buyer", c.addresses.escrow, q.quote.price);
  await c.warp(11);
  await expectRevert(c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature])), "QuoteExpired", [
    q.quote.deadline,
  ]);
});

chainTest("open() rejects a caller other than the quote's buyer", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId });
  await approve(c, "alice", c.addresses.escrow, q.quote.price);
  await expectRevert(c.send(c.wallets.alice, escrowTx(c, "open", [q.quote, q.signature])), "WrongBuyer", [
    c.accounts.buyer,
    c.accounts.alice,
  ]);
});

chainTest("open() rejects a replayed quote: SaleExists while open, NonceUsed once settled", async (
  c,
  { listingId },
) => {
  const q = await makeQuote(c, { listingId });
  const { saleId, sale } = await openSale(c, q);
  await approve(c, "buyer", c.addresses.escrow, q.quote.price);
  await expectRevert(c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature])), "SaleExists", [
    saleId,
  ]);
  const { sale: revealed } = await revealSale(c, saleId, sale, q.kSale);
  await c.send(c.wallets.buyer, escrowTx(c, "confirm", [saleId, revealed]));
  await expectRevert(c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature])), "NonceUsed", [
    c.accounts.seller,
    q.quote.nonce,
  ]);
});

chainTest("open() rejects a quote whose nonce the seller invalidated", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId });
  await c.send(c.wallets.seller, escrowTx(c, "invalidateNonce", [q.quote.nonce]));
  await expectRevert(c.send(c.wallets.seller, escrowTx(c, "invalidateNonce", [q.quote.nonce])), "NonceUsed");
  await approve(c, "buyer", c.addresses.escrow, q.quote.price);
  await expectRevert(c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature])), "NonceUsed");
});

chainTest("open() rejects a quote signed for another chain id", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId, chainId: 1 });
  await approve(c, "buyer", c.addresses.escrow, q.quote.price);
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature])),
    "UnauthorizedSigner",
  );
});

chainTest("open() rejects a quote signed for another escrow contract", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId, verifyingContract: c.addresses.registry });
  await approve(c, "buyer", c.addresses.escrow, q.quote.price);
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature])),
    "UnauthorizedSigner",
  );
});

chainTest("open() rejects a malleable (high-s) signature and a malformed one", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId });
  await approve(c, "buyer", c.addresses.escrow, q.quote.price);
  const { r, s, yParity } = parseSignature(q.signature);
  const highS = numberToHex(SECP256K1_N - hexToBigInt(s), { size: 32 });
  const flipped = `${r}${highS.slice(2)}${yParity === 0 ? "1c" : "1b"}` as Hex;
  await expectRevert(c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, flipped])), "InvalidSignature");
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature.slice(0, 130) as Hex])),
    "InvalidSignature",
  );
  // The original still works.
  await c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature]));
});

chainTest("open() rejects a signer that is neither the owner nor a delegate", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId, signer: "alice" });
  await approve(c, "buyer", c.addresses.escrow, q.quote.price);
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature])),
    "UnauthorizedSigner",
    [
      c.accounts.alice,
      c.accounts.seller,
    ],
  );
});

chainTest("open() rejects a price above 96 bits and an unknown listing", async (c, { listingId }) => {
  const big = await makeQuote(c, { listingId, price: 2n ** 96n });
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "open", [big.quote, big.signature])),
    "PriceTooLarge",
  );
  const unknown = await makeQuote(c, { listingId: 999n });
  await approve(c, "buyer", c.addresses.escrow, unknown.quote.price);
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "open", [unknown.quote, unknown.signature])),
    "ERC721NonexistentToken",
  );
});

chainTest(
  "a delegate signs quotes and reveals keys for the owner's listing, until removed",
  async (c, { listingId }) => {
    await c.send(c.wallets.seller, escrowTx(c, "setDelegate", [listingId, c.accounts.delegate, true]));
    assert.equal(await isDelegate(c, listingId, "delegate"), true);
    const q = await makeQuote(c, { listingId, signer: "delegate" });
    const { saleId, sale } = await openSale(c, q);
    assert.equal(sale.seller, c.accounts.seller);
    await revealSale(c, saleId, sale, q.kSale, "delegate");
    await c.send(c.wallets.seller, escrowTx(c, "setDelegate", [listingId, c.accounts.delegate, false]));
    assert.equal(await isDelegate(c, listingId, "delegate"), false);
    const q2 = await makeQuote(c, { listingId, signer: "delegate" });
    await approve(c, "buyer", c.addresses.escrow, q2.quote.price);
    await expectRevert(
      c.send(c.wallets.buyer, escrowTx(c, "open", [q2.quote, q2.signature])),
      "UnauthorizedSigner",
    );
  },
);
