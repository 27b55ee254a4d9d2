import assert from "node:assert/strict";
import { keccak256, parseEventLogs, toHex } from "viem";
import { kosmosConsentAbi } from "../../protocol/contracts_generated.ts";
import { consentGrantTypes, getConsentDomain } from "../../protocol/quote.ts";
import {
  type AccountName,
  contractCalls,
  createChainTest,
  expectedDomainSeparator,
  expectRevert,
  type TestChain,
} from "./chain.ts";

const SOURCE = keccak256(toHex("example.com"));
const PURPOSE = keccak256(toHex("analytics"));
const YEAR = 365n * 86_400n;
const chainTest = createChainTest();

const { tx: consentTx, read } = contractCalls("consent", kosmosConsentAbi);

async function signGrant(
  c: TestChain,
  signer: AccountName,
  grant: { contributor: `0x${string}`; expiry: bigint; deadline: bigint; nonce?: bigint; chainId?: number },
) {
  const nonce = grant.nonce ?? await read<bigint>(c, "nonces", [grant.contributor]);
  return await c.wallets[signer].signTypedData({
    domain: getConsentDomain(grant.chainId ?? 31337, c.addresses.consent),
    types: consentGrantTypes,
    primaryType: "Grant",
    message: {
      contributor: grant.contributor,
      source: SOURCE,
      purpose: PURPOSE,
      expiry: grant.expiry,
      nonce,
      deadline: grant.deadline,
    },
  });
}

chainTest("grant() mints a consent token to the contributor that is valid until expiry", async (c) => {
  const expiry = (await c.now()) + 100n;
  const { result, logs } = await c.send(c.wallets.alice, consentTx(c, "grant", [SOURCE, PURPOSE, expiry]));
  const id = result as bigint;
  assert.equal(await read(c, "ownerOf", [id]), c.accounts.alice);
  assert.equal(await read(c, "isValid", [id]), true);
  const record = await read<{ contributor: string; source: string; purpose: string; expiry: number }>(
    c,
    "getConsent",
    [id],
  );
  assert.equal(record.contributor, c.accounts.alice);
  assert.equal(record.source, SOURCE);
  assert.equal(record.purpose, PURPOSE);
  assert.equal(BigInt(record.expiry), expiry);
  assert.equal(parseEventLogs({ abi: kosmosConsentAbi, logs, eventName: "Granted" })[0].args.expiry, expiry);
  await c.warp(101);
  assert.equal(await read(c, "isValid", [id]), false);
  assert.equal(await read(c, "isValid", [999n]), false);
});

chainTest("grant() rejects an expiry that is not in the future", async (c) => {
  const now = await c.now();
  await expectRevert(c.send(c.wallets.alice, consentTx(c, "grant", [SOURCE, PURPOSE, now])), "ExpiryInPast");
});

chainTest(
  "revoke() burns the token, keeps the record and emits a receipt; only the contributor may",
  async (c) => {
    const { result } = await c.send(
      c.wallets.alice,
      consentTx(c, "grant", [SOURCE, PURPOSE, (await c.now()) + YEAR]),
    );
    const id = result as bigint;
    await expectRevert(c.send(c.wallets.bob, consentTx(c, "revoke", [id])), "NotContributor", [
      id,
      c.accounts.bob,
    ]);
    const { logs } = await c.send(c.wallets.alice, consentTx(c, "revoke", [id]));
    const [receipt] = parseEventLogs({ abi: kosmosConsentAbi, logs, eventName: "Revoked" });
    assert.equal(receipt.args.contributor, c.accounts.alice);
    assert.equal(receipt.args.revokedAt, await c.now());
    assert.equal(await read(c, "isValid", [id]), false);
    const record = await read<{ revokedAt: number; contributor: string }>(c, "getConsent", [id]);
    assert.equal(BigInt(record.revokedAt), await c.now());
    assert.equal(record.contributor, c.accounts.alice);
    await expectRevert(c.send(c.wallets.alice, consentTx(c, "revoke", [id])), "UnknownConsent", [id]);
  },
);

chainTest("consent tokens cannot be transferred", async (c) => {
  const { result } = await c.send(
    c.wallets.alice,
    consentTx(c, "grant", [SOURCE, PURPOSE, (await c.now()) + YEAR]),
  );
  await expectRevert(
    c.send(c.wallets.alice, consentTx(c, "transferFrom", [c.accounts.alice, c.accounts.bob, result])),
    "ConsentNotTransferable",
    [result],
  );
});

chainTest("grantBySig() grants for a contributor who signed, relayed by anyone, once", async (c) => {
  const expiry = (await c.now()) + YEAR;
  const deadline = (await c.now()) + 600n;
  const signature = await signGrant(c, "alice", { contributor: c.accounts.alice, expiry, deadline });
  const args = [c.accounts.alice, SOURCE, PURPOSE, expiry, deadline, signature];
  const { result } = await c.send(c.wallets.bob, consentTx(c, "grantBySig", args));
  assert.equal(await read(c, "ownerOf", [result]), c.accounts.alice);
  assert.equal(await read(c, "nonces", [c.accounts.alice]), 1n);
  assert.equal(await read(c, "consentCount"), 1n);
  assert.equal(
    await read(c, "DOMAIN_SEPARATOR"),
    expectedDomainSeparator(getConsentDomain(31337, c.addresses.consent)),
  );
  await expectRevert(c.send(c.wallets.bob, consentTx(c, "grantBySig", args)), "InvalidSigner", [
    c.accounts.alice,
  ]);
});

chainTest("grantBySig() rejects another signer, another chain and an expired deadline", async (c) => {
  const expiry = (await c.now()) + YEAR;
  const deadline = (await c.now()) + 600n;
  const byBob = await signGrant(c, "bob", { contributor: c.accounts.alice, expiry, deadline });
  await expectRevert(
    c.send(
      c.wallets.bob,
      consentTx(c, "grantBySig", [c.accounts.alice, SOURCE, PURPOSE, expiry, deadline, byBob]),
    ),
    "InvalidSigner",
  );
  const otherChain = await signGrant(c, "alice", {
    contributor: c.accounts.alice,
    expiry,
    deadline,
    chainId: 10,
  });
  await expectRevert(
    c.send(
      c.wallets.bob,
      consentTx(c, "grantBySig", [c.accounts.alice, SOURCE, PURPOSE, expiry, deadline, otherChain]),
    ),
    "InvalidSigner",
  );
  const soon = (await c.now()) + 5n;
  const late = await signGrant(c, "alice", { contributor: c.accounts.alice, expiry, deadline: soon });
  await c.warp(10);
  await expectRevert(
    c.send(
      c.wallets.bob,
      consentTx(c, "grantBySig", [c.accounts.alice, SOURCE, PURPOSE, expiry, soon, late]),
    ),
    "SignatureExpired",
    [soon],
  );
});
