/**
 * The escrow with a stream listing (registry `dekCommit = 0`): each sale carries the commitment of the epoch
 * keys it sells in its quote; open() accepts any nonzero commitment, complain() checks the revealed keys
 * against it, and a dataset listing still requires the listed commitment.
 */
import assert from "node:assert/strict";
import { type Hex, keccak256, parseEventLogs } from "viem";
import { kosmosEscrowAbi, kosmosRegistryAbi } from "../../protocol/contracts_generated.ts";
import { computeDekCommit, decodeSaleKeys } from "../../protocol/quote.ts";
import { deriveEpochKeys } from "../../protocol/streams.ts";
import { createChainTest, expectRevert, ONE, type TestChain } from "./chain.ts";
import {
  approve,
  balanceOf,
  escrowTx,
  makeQuote,
  openSale,
  randomBytes32,
  REFUND_WRONG_KEY,
  revealSale,
} from "./sale.ts";

const ZERO = `0x${"0".repeat(64)}` as Hex;

async function listStreamFixture(c: TestChain): Promise<bigint> {
  await approve(c, "seller", c.addresses.registry, 100n * ONE);
  const cid = `0x01711220${keccak256("0x5354").slice(2)}` as Hex;
  const { result } = await c.send(c.wallets.seller, {
    address: c.addresses.registry,
    abi: kosmosRegistryAbi,
    functionName: "list",
    args: [1, cid, ZERO, 100n * ONE],
  });
  return result as bigint;
}

const chainTest = createChainTest(async (c) => ({ streamListing: await listStreamFixture(c) }));
const secret = crypto.getRandomValues(new Uint8Array(32));

chainTest("a stream sale of three epoch keys opens, reveals and completes", async (c, { streamListing }) => {
  const deks = await deriveEpochKeys(secret, 100, 102);
  const q = await makeQuote(c, { listingId: streamListing, deks, price: 3n * ONE });
  assert.equal(q.quote.dekCommit, computeDekCommit(deks));
  const opened = await openSale(c, q);
  const { saleId, sale } = opened;
  const { sale: revealed, gasUsed: revealGas } = await revealSale(c, saleId, sale, q.kSale);
  assert.deepEqual(decodeSaleKeys(q.z, q.kSale), deks);
  const { logs, gasUsed: confirmGas } = await c.send(
    c.wallets.buyer,
    escrowTx(c, "confirm", [saleId, revealed]),
  );
  assert.equal(parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "Completed" }).length, 1);
  // The same calls as a dataset sale's (measured against one in the last test): a stream adds no storage.
  assert.ok(opened.gasUsed < 130_000n, `open() of a stream sale used ${opened.gasUsed} gas`);
  assert.ok(revealGas + confirmGas < 120_000n, `reveal() and confirm() used ${revealGas + confirmGas} gas`);
});

chainTest("open() rejects a stream quote that commits to no key", async (c, { streamListing }) => {
  const q = await makeQuote(c, { listingId: streamListing, dekCommit: ZERO });
  await approve(c, "buyer", c.addresses.escrow, q.quote.price);
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature])),
    "DekCommitMismatch",
    [streamListing],
  );
});

chainTest("complain() refunds a stream sale whose Z yields other keys than committed", async (
  c,
  { streamListing },
) => {
  const deks = await deriveEpochKeys(secret, 5, 6);
  const q = await makeQuote(c, { listingId: streamListing, deks, zDeks: [deks[0], randomBytes32()] });
  const { saleId, sale } = await openSale(c, q);
  const { sale: revealed } = await revealSale(c, saleId, sale, q.kSale);
  const before = await balanceOf(c, c.accounts.buyer);
  const { logs } = await c.send(c.wallets.buyer, escrowTx(c, "complain", [saleId, revealed, q.kSale, q.z]));
  const [refunded] = parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "Refunded" });
  assert.equal(refunded.args.reason, REFUND_WRONG_KEY);
  assert.equal(await balanceOf(c, c.accounts.buyer), before + q.quote.price);
});

chainTest("complain() against an honest stream sale reverts KeyIsValid", async (c, { streamListing }) => {
  const deks = await deriveEpochKeys(secret, 7, 9);
  const q = await makeQuote(c, { listingId: streamListing, deks });
  const { saleId, sale } = await openSale(c, q);
  const { sale: revealed } = await revealSale(c, saleId, sale, q.kSale);
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "complain", [saleId, revealed, q.kSale, q.z])),
    "KeyIsValid",
  );
});

chainTest("a dataset listing still requires the listed commitment", async (c) => {
  await approve(c, "seller", c.addresses.registry, 100n * ONE);
  const listed = randomBytes32();
  const { result } = await c.send(c.wallets.seller, {
    address: c.addresses.registry,
    abi: kosmosRegistryAbi,
    functionName: "list",
    args: [0, `0x01711220${keccak256("0x4453").slice(2)}`, computeDekCommit([listed]), 100n * ONE],
  });
  const listingId = result as bigint;
  const q = await makeQuote(c, { listingId, deks: [randomBytes32()] });
  await approve(c, "buyer", c.addresses.escrow, q.quote.price);
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature])),
    "DekCommitMismatch",
    [listingId],
  );
  const good = await makeQuote(c, { listingId, deks: [listed] });
  const { gasUsed } = await openSale(c, good);
  assert.ok(gasUsed < 130_000n, `open() of a dataset sale used ${gasUsed} gas`);
});
