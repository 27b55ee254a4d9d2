import assert from "node:assert/strict";
import { keccak256, parseEventLogs, toHex } from "viem";
import { kosmosConsentAbi, kosmosOwnershipAbi } from "../../protocol/contracts_generated.ts";
import { type AccountName, contractCalls, createChainTest, expectRevert, type TestChain } from "./chain.ts";

const SOURCE = keccak256(toHex("kosmos/source/spotify"));
const PURPOSE = keccak256(toHex("music research"));
const YEAR = 365n * 86_400n;
const DIGEST = keccak256(toHex("a manifest's multihash digest"));
const chainTest = createChainTest();

const { tx: consentTx } = contractCalls("consent", kosmosConsentAbi);
const { tx: ownershipTx, read } = contractCalls("ownership", kosmosOwnershipAbi);

/** Grants a consent from `who`, valid for `seconds`, and returns its id. */
async function grant(c: TestChain, who: AccountName, seconds = YEAR): Promise<bigint> {
  const { result } = await c.send(
    c.wallets[who],
    consentTx(c, "grant", [SOURCE, PURPOSE, (await c.now()) + seconds]),
  );
  return result as bigint;
}

interface OwnershipRecord {
  owner: string;
  recordedAt: bigint;
  manifestDigest: string;
  consentIds: readonly bigint[];
}

chainTest("record() mints a record to the caller naming the manifest and its valid consents", async (c) => {
  const ids = [await grant(c, "alice"), await grant(c, "alice")];
  const { result, logs, gasUsed } = await c.send(c.wallets.alice, ownershipTx(c, "record", [DIGEST, ids]));
  const tokenId = result as bigint;
  assert.equal(tokenId, 1n);
  assert.equal(await read(c, "ownerOf", [tokenId]), c.accounts.alice);
  assert.equal(await read(c, "name"), "Kosmos Data Ownership");
  assert.equal(await read(c, "symbol"), "KOWN");
  assert.equal(await read(c, "consent"), c.addresses.consent);
  const record = await read<OwnershipRecord>(c, "getRecord", [tokenId]);
  assert.equal(record.owner, c.accounts.alice);
  assert.equal(record.manifestDigest, DIGEST);
  assert.deepEqual(record.consentIds, ids);
  assert.equal(BigInt(record.recordedAt), await c.now());
  assert.equal(await read(c, "recordOf", [c.accounts.alice, DIGEST]), tokenId);
  const [event] = parseEventLogs({ abi: kosmosOwnershipAbi, logs, eventName: "Recorded" });
  assert.equal(event.args.tokenId, tokenId);
  assert.equal(event.args.owner, c.accounts.alice);
  assert.equal(event.args.manifestDigest, DIGEST);
  assert.deepEqual(event.args.consentIds, ids);
  assert.ok(gasUsed > 0n && gasUsed < 300_000n, `record() used ${gasUsed} gas`);
  await expectRevert(read(c, "getRecord", [2n]), "UnknownRecord", [2n]);
});

chainTest("record() refuses a revoked consent, an expired one and one never granted", async (c) => {
  const revoked = await grant(c, "alice");
  await c.send(c.wallets.alice, consentTx(c, "revoke", [revoked]));
  await expectRevert(
    c.send(c.wallets.alice, ownershipTx(c, "record", [DIGEST, [revoked]])),
    "ConsentNotValid",
    [revoked],
  );
  const expiring = await grant(c, "alice", 60n);
  await c.warp(61);
  await expectRevert(
    c.send(c.wallets.alice, ownershipTx(c, "record", [DIGEST, [expiring]])),
    "ConsentNotValid",
    [expiring],
  );
  const valid = await grant(c, "alice");
  await expectRevert(
    c.send(c.wallets.alice, ownershipTx(c, "record", [DIGEST, [valid, 999n]])),
    "ConsentNotValid",
    [999n],
  );
  assert.equal(await read(c, "recordCount"), 0n);
});

chainTest("record() refuses a consent held by someone else", async (c) => {
  const own = await grant(c, "alice");
  const bobs = await grant(c, "bob");
  await expectRevert(
    c.send(c.wallets.alice, ownershipTx(c, "record", [DIGEST, [own, bobs]])),
    "ConsentNotHeld",
    [bobs, c.accounts.bob, c.accounts.alice],
  );
  assert.equal(await read(c, "balanceOf", [c.accounts.alice]), 0n);
});

chainTest(
  "record() refuses no consent, a duplicate, more than 64, the zero digest and a second record",
  async (c) => {
    const id = await grant(c, "alice");
    await expectRevert(c.send(c.wallets.alice, ownershipTx(c, "record", [DIGEST, []])), "NoConsents");
    await expectRevert(
      c.send(c.wallets.alice, ownershipTx(c, "record", [DIGEST, [id, id]])),
      "DuplicateConsent",
      [id],
    );
    const many = Array.from({ length: 65 }, (_, i) => BigInt(i + 1));
    await expectRevert(
      c.send(c.wallets.alice, ownershipTx(c, "record", [DIGEST, many])),
      "TooManyConsents",
      [65n, 64n],
    );
    await expectRevert(
      c.send(c.wallets.alice, ownershipTx(c, "record", [toHex(0, { size: 32 }), [id]])),
      "EmptyManifest",
    );
    const { result } = await c.send(c.wallets.alice, ownershipTx(c, "record", [DIGEST, [id]]));
    await expectRevert(
      c.send(c.wallets.alice, ownershipTx(c, "record", [DIGEST, [id]])),
      "AlreadyRecorded",
      [DIGEST, c.accounts.alice, result],
    );
    // Another person may record the same manifest under their own consent.
    const bobs = await grant(c, "bob");
    const { result: bobsToken } = await c.send(c.wallets.bob, ownershipTx(c, "record", [DIGEST, [bobs]]));
    assert.equal(bobsToken, 2n);
  },
);

chainTest("record() accepts exactly 64 distinct valid consents", async (c) => {
  const ids: bigint[] = [];
  for (let i = 0; i < 64; i++) ids.push(await grant(c, "carol"));
  const { result, gasUsed } = await c.send(c.wallets.carol, ownershipTx(c, "record", [DIGEST, ids]));
  assert.equal(result, 1n);
  assert.equal((await read<OwnershipRecord>(c, "getRecord", [1n])).consentIds.length, 64);
  assert.ok(gasUsed < 5_000_000n, `record() of 64 consents used ${gasUsed} gas`);
});

chainTest("ownership records cannot be transferred or approved away", async (c) => {
  const id = await grant(c, "alice");
  const { result } = await c.send(c.wallets.alice, ownershipTx(c, "record", [DIGEST, [id]]));
  await expectRevert(
    c.send(c.wallets.alice, ownershipTx(c, "transferFrom", [c.accounts.alice, c.accounts.bob, result])),
    "OwnershipNotTransferable",
    [result],
  );
  await c.send(c.wallets.alice, ownershipTx(c, "approve", [c.accounts.bob, result]));
  await expectRevert(
    c.send(c.wallets.bob, ownershipTx(c, "transferFrom", [c.accounts.alice, c.accounts.bob, result])),
    "OwnershipNotTransferable",
    [result],
  );
  assert.equal(await read(c, "ownerOf", [result]), c.accounts.alice);
});

chainTest("a record outlives the revocation of its consents", async (c) => {
  const id = await grant(c, "alice");
  const { result } = await c.send(c.wallets.alice, ownershipTx(c, "record", [DIGEST, [id]]));
  await c.send(c.wallets.alice, consentTx(c, "revoke", [id]));
  const record = await read<OwnershipRecord>(c, "getRecord", [result]);
  assert.deepEqual(record.consentIds, [id]);
  assert.equal(await read(c, "ownerOf", [result]), c.accounts.alice);
});
