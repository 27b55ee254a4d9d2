/** The key sale's commitments, the listing binding, disputes, delegates and nonces. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { bytesToHex, hexToBigInt, keccak256, numberToHex, parseEventLogs, toHex } from "viem";
import { kosmosEscrowAbi, kosmosRegistryAbi } from "../../protocol/contracts_generated.ts";
import { computeDekCommit, computeSaleKeyCommit, decodeSaleKeys, type Sale } from "../../protocol/quote.ts";
import { type AccountName, expectRevert, ONE, withSnapshot } from "./chain.ts";
import {
  approve,
  balanceOf,
  chainTest,
  DAY,
  disputeSale,
  escrowBalanceOf,
  escrowTx,
  isDelegate,
  listDataset,
  listedDeksOf,
  makeQuote,
  openSale,
  randomBytes32,
  REFUND_BAD_DATA,
  revealSale,
  signQuote,
} from "./sale.ts";

chainTest("open() rejects a quote whose dekCommit is not the listing's (DekCommitMismatch)", async (
  c,
  { listingId },
) => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), async (bytes) => {
      const dekCommit = bytesToHex(bytes);
      fc.pre(dekCommit !== computeDekCommit(listedDeksOf(listingId)!));
      const q = await makeQuote(c, { listingId, dekCommit });
      await approve(c, "buyer", c.addresses.escrow, q.quote.price);
      await expectRevert(
        c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature])),
        "DekCommitMismatch",
        [listingId],
      );
    }),
    { numRuns: 5 },
  );
  // A right key for another listing of the same seller does not open this one either.
  const other = await listDataset(c, "seller");
  const q = await makeQuote(c, { listingId, deks: listedDeksOf(other) });
  await approve(c, "buyer", c.addresses.escrow, q.quote.price);
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature])),
    "DekCommitMismatch",
  );
  // The listing's own commitment opens.
  await openSale(c, await makeQuote(c, { listingId }));
});

chainTest("reveal() checks the tagged commitment: the old keccak256(kSale) commitment is refused", async (
  c,
  { listingId },
) => {
  const kSale = randomBytes32();
  const q = await makeQuote(c, { listingId, kSaleHash: keccak256(kSale) });
  const { saleId, sale } = await openSale(c, q);
  await expectRevert(c.send(c.wallets.seller, escrowTx(c, "reveal", [saleId, sale, kSale])), "WrongSaleKey", [
    saleId,
  ]);
  assert.equal(computeSaleKeyCommit(kSale) === keccak256(kSale), false);
});

chainTest("dispute() is the buyer's, after the reveal and inside the window, and freezes the sale", async (
  c,
  { listingId },
) => {
  const q = await makeQuote(c, { listingId });
  const { saleId, sale } = await openSale(c, q);
  const dispute = (s: Sale, by: AccountName = "buyer") =>
    c.send(c.wallets[by], escrowTx(c, "dispute", [saleId, s, randomBytes32()]));
  await expectRevert(dispute(sale), "NotRevealed", [saleId]);
  const { sale: revealed } = await revealSale(c, saleId, sale, q.kSale);
  await expectRevert(dispute(revealed, "seller"), "NotBuyer", [saleId, c.accounts.seller]);
  await expectRevert(dispute(revealed, "alice"), "NotBuyer");
  const evidenceHash = keccak256(toHex("chunk 3 does not decrypt to its Merkle leaf"));
  const { logs } = await c.send(c.wallets.buyer, escrowTx(c, "dispute", [saleId, revealed, evidenceHash]));
  const [disputed] = parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "Disputed" });
  assert.deepEqual(
    [disputed.args.saleId, disputed.args.buyer, disputed.args.evidenceHash, BigInt(disputed.args.disputedAt)],
    [saleId, c.accounts.buyer, evidenceHash, await c.now()],
  );
  const frozen = { ...revealed, disputedAt: disputed.args.disputedAt };
  // The old sale no longer matches; the disputed one refuses every path but the arbiter's.
  await expectRevert(c.send(c.wallets.buyer, escrowTx(c, "confirm", [saleId, revealed])), "UnknownSale");
  await expectRevert(c.send(c.wallets.buyer, escrowTx(c, "confirm", [saleId, frozen])), "SaleDisputed", [
    saleId,
  ]);
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "complain", [saleId, frozen, q.kSale, q.z])),
    "SaleDisputed",
  );
  await expectRevert(dispute(frozen), "SaleDisputed");
  await c.warp(3n * DAY);
  await expectRevert(c.send(c.wallets.alice, escrowTx(c, "finalize", [saleId, frozen])), "SaleDisputed");
  assert.equal(await balanceOf(c, c.addresses.escrow), q.quote.price);
});

chainTest("dispute() after the dispute window reverts DisputeWindowClosed", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId });
  const opened = await openSale(c, q);
  const { sale } = await revealSale(c, opened.saleId, opened.sale, q.kSale);
  await c.warp(2n * DAY + 1n);
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "dispute", [opened.saleId, sale, randomBytes32()])),
    "DisputeWindowClosed",
    [opened.saleId, sale.disputeDeadline],
  );
});

chainTest(
  "resolveDispute(bad) refunds the buyer with reason BadData; only the registry's arbiter rules",
  async (
    c,
    { listingId },
  ) => {
    const q = await makeQuote(c, { listingId, price: 70n * ONE });
    const opened = await openSale(c, q);
    const { sale: revealed } = await revealSale(c, opened.saleId, opened.sale, q.kSale);
    const rule = (s: Sale, bad: boolean, by: AccountName = "arbiter") =>
      c.send(c.wallets[by], escrowTx(c, "resolveDispute", [opened.saleId, s, bad]));
    await expectRevert(rule(revealed, true), "NotDisputed", [opened.saleId]);
    const { sale } = await disputeSale(c, opened.saleId, revealed);
    for (const who of ["buyer", "seller", "treasury", "deployer"] as const) {
      await expectRevert(rule(sale, true, who), "NotArbiter", [c.accounts[who]]);
    }
    const before = await balanceOf(c, c.accounts.buyer);
    const { logs } = await rule(sale, true);
    const [refunded] = parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "Refunded" });
    assert.equal(refunded.args.reason, REFUND_BAD_DATA);
    assert.equal(refunded.args.amount, 70n * ONE);
    const [resolved] = parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "DisputeResolved" });
    assert.deepEqual([resolved.args.bad, resolved.args.expired], [true, false]);
    assert.equal(await balanceOf(c, c.accounts.buyer), before + 70n * ONE);
    assert.equal(await balanceOf(c, c.addresses.escrow), 0n);
    assert.equal(await escrowBalanceOf(c, c.accounts.seller), 0n);
    await expectRevert(rule(sale, false), "UnknownSale");
  },
);

chainTest("resolveDispute(good) completes the sale with the usual split", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId, price: 100n * ONE });
  const opened = await openSale(c, q);
  const { sale: revealed } = await revealSale(c, opened.saleId, opened.sale, q.kSale);
  const { sale } = await disputeSale(c, opened.saleId, revealed);
  const { logs } = await c.send(
    c.wallets.arbiter,
    escrowTx(c, "resolveDispute", [opened.saleId, sale, false]),
  );
  const [completed] = parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "Completed" });
  assert.equal(completed.args.confirmed, false);
  assert.equal(await escrowBalanceOf(c, c.accounts.seller), 80n * ONE);
  assert.equal(await escrowBalanceOf(c, c.accounts.gateway), 10n * ONE);
  assert.equal(await escrowBalanceOf(c, c.accounts.treasury), 10n * ONE);
});

chainTest("expireDispute() completes for the seller once the arbitration window passed, not before", async (
  c,
  { listingId },
) => {
  const q = await makeQuote(c, { listingId, price: 100n * ONE });
  const opened = await openSale(c, q);
  const { sale: revealed } = await revealSale(c, opened.saleId, opened.sale, q.kSale);
  const expire = (s: Sale) => c.send(c.wallets.alice, escrowTx(c, "expireDispute", [opened.saleId, s]));
  await expectRevert(expire(revealed), "NotDisputed", [opened.saleId]);
  const { sale } = await disputeSale(c, opened.saleId, revealed);
  const deadline = BigInt(sale.disputedAt) + 7n * DAY;
  await expectRevert(expire(sale), "ArbitrationWindowOpen", [opened.saleId, deadline]);
  await c.warp(7n * DAY - 5n);
  await expectRevert(expire(sale), "ArbitrationWindowOpen");
  await c.warp(10n);
  const buyerBefore = await balanceOf(c, c.accounts.buyer);
  const { logs } = await expire(sale);
  const [resolved] = parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "DisputeResolved" });
  assert.deepEqual([resolved.args.bad, resolved.args.expired], [false, true]);
  assert.equal(await escrowBalanceOf(c, c.accounts.seller), 80n * ONE);
  assert.equal(await balanceOf(c, c.accounts.buyer), buyerBefore);
  await expectRevert(
    c.send(c.wallets.arbiter, escrowTx(c, "resolveDispute", [opened.saleId, sale, true])),
    "UnknownSale",
  );
});

chainTest("setDelegate() is per listing, only by its owner, and a transfer of the listing drops it", async (
  c,
  { listingId },
) => {
  const other = await listDataset(c, "seller");
  await expectRevert(
    c.send(c.wallets.alice, escrowTx(c, "setDelegate", [listingId, c.accounts.alice, true])),
    "NotListingOwner",
    [listingId, c.accounts.alice],
  );
  await expectRevert(
    c.send(c.wallets.delegate, escrowTx(c, "setDelegate", [listingId, c.accounts.delegate, true])),
    "NotListingOwner",
  );
  const { logs } = await c.send(
    c.wallets.seller,
    escrowTx(c, "setDelegate", [listingId, c.accounts.delegate, true]),
  );
  const [set] = parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "DelegateSet" });
  assert.deepEqual(
    [set.args.owner, set.args.listingId, set.args.delegate, set.args.approved],
    [c.accounts.seller, listingId, c.accounts.delegate, true],
  );
  assert.equal(await isDelegate(c, listingId, "delegate"), true);
  assert.equal(await isDelegate(c, other, "delegate"), false);
  assert.equal(await isDelegate(c, 999n, "delegate"), false);
  // The delegate of one listing cannot quote another listing of the same owner.
  const elsewhere = await makeQuote(c, { listingId: other, signer: "delegate" });
  await approve(c, "buyer", c.addresses.escrow, elsewhere.quote.price);
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "open", [elsewhere.quote, elsewhere.signature])),
    "UnauthorizedSigner",
    [c.accounts.delegate, c.accounts.seller],
  );
  // Nor reveal a sale of it.
  const owned = await makeQuote(c, { listingId: other });
  const otherSale = await openSale(c, owned);
  await expectRevert(
    c.send(c.wallets.delegate, escrowTx(c, "reveal", [otherSale.saleId, otherSale.sale, owned.kSale])),
    "NotSeller",
  );
  // After a transfer the new owner's listing has no delegate, and the old approval does not sign for it.
  await c.send(c.wallets.seller, {
    address: c.addresses.registry,
    abi: kosmosRegistryAbi,
    functionName: "transferFrom",
    args: [c.accounts.seller, c.accounts.carol, listingId],
  });
  assert.equal(await isDelegate(c, listingId, "delegate"), false);
  const stale = await makeQuote(c, { listingId, signer: "delegate" });
  await approve(c, "buyer", c.addresses.escrow, stale.quote.price);
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "open", [stale.quote, stale.signature])),
    "UnauthorizedSigner",
    [c.accounts.delegate, c.accounts.carol],
  );
  await openSale(c, await makeQuote(c, { listingId, signer: "carol" }));
});

chainTest(
  "quote nonces are per signer: a delegate's nonces never burn the owner's",
  async (c, { listingId }) => {
    await c.send(c.wallets.seller, escrowTx(c, "setDelegate", [listingId, c.accounts.delegate, true]));
    const used = (who: AccountName, nonce: bigint) =>
      c.publicClient.readContract({
        address: c.addresses.escrow,
        abi: kosmosEscrowAbi,
        functionName: "isNonceUsed",
        args: [c.accounts[who], nonce],
      });
    for (const nonce of [0n, 1n, 255n, 256n]) {
      await openSale(c, await makeQuote(c, { listingId, signer: "delegate", nonce }));
      assert.equal(await used("delegate", nonce), true);
      assert.equal(await used("seller", nonce), false);
      await openSale(c, await makeQuote(c, { listingId, signer: "seller", nonce }));
      assert.equal(await used("seller", nonce), true);
    }
    // A delegate cancels its own nonce, not the owner's.
    await c.send(c.wallets.delegate, escrowTx(c, "invalidateNonce", [7n]));
    assert.equal(await used("delegate", 7n), true);
    assert.equal(await used("seller", 7n), false);
  },
);

chainTest("open() refuses a second open of a sale id signed again by a delegate (SaleExists)", async (
  c,
  { listingId },
) => {
  await c.send(c.wallets.seller, escrowTx(c, "setDelegate", [listingId, c.accounts.delegate, true]));
  const q = await makeQuote(c, { listingId, price: 40n * ONE });
  const { saleId, sale } = await openSale(c, q);
  // The same quote signed by the delegate has the same digest (the sale id) and an unused nonce.
  const again = await signQuote(c, "delegate", q.quote);
  await approve(c, "buyer", c.addresses.escrow, q.quote.price);
  await expectRevert(c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, again])), "SaleExists", [saleId]);
  // The first sale is intact: it still reveals and confirms with the stored state.
  const { sale: revealed } = await revealSale(c, saleId, sale, q.kSale);
  await c.send(c.wallets.buyer, escrowTx(c, "confirm", [saleId, revealed]));
  assert.equal(await escrowBalanceOf(c, c.accounts.seller), 32n * ONE);
});

chainTest("property: complain() refunds iff a DEK word Z yields is wrong, for random DEKs and kSales", async (
  c,
) => {
  const deksArb = fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 3 });
  await fc.assert(
    fc.asyncProperty(
      deksArb,
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.option(fc.nat({ max: 2 })),
      async (
        rawDeks,
        rawFlip,
        flipWord,
      ) => {
        await withSnapshot(c, async () => {
          const deks = rawDeks.map((d) => bytesToHex(d));
          const wrong = flipWord !== null && flipWord < deks.length && rawFlip.some((b) => b !== 0);
          const zDeks = deks.map((d, i) =>
            wrong && i === flipWord
              ? numberToHex(hexToBigInt(d) ^ hexToBigInt(bytesToHex(rawFlip)), { size: 32 })
              : d
          );
          const listingId = await listDataset(c, "seller", { deks });
          const q = await makeQuote(c, { listingId, deks, zDeks, price: 5n * ONE });
          const opened = await openSale(c, q);
          const { sale } = await revealSale(c, opened.saleId, opened.sale, q.kSale);
          assert.deepEqual(decodeSaleKeys(q.z, q.kSale), zDeks);
          const complaint = c.send(
            c.wallets.buyer,
            escrowTx(c, "complain", [opened.saleId, sale, q.kSale, q.z]),
          );
          if (wrong) {
            const before = await balanceOf(c, c.accounts.buyer);
            await complaint;
            assert.equal(await balanceOf(c, c.accounts.buyer), before + 5n * ONE);
          } else {
            await expectRevert(complaint, "KeyIsValid");
          }
        });
      },
    ),
    { numRuns: 10 },
  );
});
