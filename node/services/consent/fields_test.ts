import assert from "node:assert/strict";
import fc from "fast-check";
import { getAddress, recoverTypedDataAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { SOURCE_KINDS } from "../../../protocol/sources.ts";
import { toPurposeId, toSourceId } from "../chain/mod.ts";
import {
  buildGrantTypedData,
  checkAddress,
  checkDeadline,
  checkExpiresAt,
  checkGrantFields,
  checkKind,
  checkPurpose,
  MAX_CONSENT_DURATION,
  MAX_GRANT_DEADLINE,
  MIN_CONSENT_DURATION,
} from "./fields.ts";

const NOW = Date.UTC(2026, 5, 1);

Deno.test("checkGrantFields() derives the contract's source, purpose and expiry in whole seconds", () => {
  const grant = checkGrantFields(
    { kind: "spotify", purpose: "music research", expiresAt: NOW + 86_400_123 },
    NOW,
  );
  assert.equal(grant.source, toSourceId("spotify"));
  assert.equal(grant.purposeId, toPurposeId("music research"));
  assert.equal(grant.expiry, BigInt((NOW + 86_400_000) / 1000));
  assert.equal(grant.expiresAt, NOW + 86_400_000);
  assert.equal(new Set(SOURCE_KINDS.map(toSourceId)).size, SOURCE_KINDS.length, "one source id per kind");
});

Deno.test("checkKind() and checkPurpose() accept what a person writes and refuse the rest", () => {
  for (const kind of SOURCE_KINDS) assert.equal(checkKind(kind), kind);
  for (const bad of ["", "Spotify", "myspace", 3, null]) assert.throws(() => checkKind(bad), TypeError);
  for (const good of ["abc", "Étude des trajets", "研究目的", "p".repeat(200), "music — research 2026"]) {
    assert.equal(checkPurpose(good), good);
  }
  for (const bad of ["ab", "p".repeat(201), "a\nb", "tab\there", "zero\u200bwidth", " lead", "trail ", 7]) {
    assert.throws(
      () => checkPurpose(bad),
      (err: Error) => err instanceof TypeError || err instanceof RangeError,
    );
  }
  // Length counts characters, not UTF-16 units: 200 emoji pass, 201 do not.
  assert.equal(checkPurpose("😀".repeat(200)).length, 400);
  assert.throws(() => checkPurpose("😀".repeat(201)), RangeError);
});

Deno.test("checkExpiresAt() keeps a consent between a minute and five years from now", () => {
  assert.equal(checkExpiresAt(NOW + MIN_CONSENT_DURATION, NOW), NOW + MIN_CONSENT_DURATION);
  assert.equal(checkExpiresAt(NOW + MAX_CONSENT_DURATION, NOW), NOW + MAX_CONSENT_DURATION);
  fc.assert(
    fc.property(fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null)), (value) => {
      const ok = typeof value === "number" && Number.isSafeInteger(value) &&
        value >= NOW + MIN_CONSENT_DURATION && value <= NOW + MAX_CONSENT_DURATION;
      if (ok) assert.equal(checkExpiresAt(value, NOW), value);
      else assert.throws(() => checkExpiresAt(value, NOW));
    }),
  );
});

Deno.test("checkDeadline() and checkAddress() refuse a passed or far deadline and a malformed address", () => {
  assert.equal(checkDeadline(1001, 1000), 1001n);
  assert.throws(() => checkDeadline(1000, 1000), /has passed/);
  assert.throws(() => checkDeadline(1000 + MAX_GRANT_DEADLINE + 1, 1000), /at most/);
  assert.throws(() => checkDeadline(1.5, 1000), TypeError);
  const address = privateKeyToAccount(generatePrivateKey()).address;
  assert.equal(checkAddress("contributor", address.toLowerCase()), getAddress(address));
  for (const bad of ["0x12", "", null, `${address}00`]) {
    assert.throws(() => checkAddress("contributor", bad), TypeError);
  }
});

Deno.test("buildGrantTypedData() is what the contributor signs and what recovers to them", async () => {
  const contributor = privateKeyToAccount(generatePrivateKey());
  const grant = checkGrantFields(
    { kind: "bank", purpose: "budget research", expiresAt: NOW + 86_400_000 },
    NOW,
  );
  const consent = "0x5FbDB2315678afecb367f032d93F642f64180aa3" as const;
  const typed = buildGrantTypedData({
    chainId: 31337,
    consent,
    contributor: contributor.address,
    source: grant.source,
    purposeId: grant.purposeId,
    expiry: grant.expiry,
    nonce: 3n,
    deadline: 2_000_000_000n,
  });
  assert.deepEqual(typed.domain, {
    name: "Kosmos Consent",
    version: "1",
    chainId: 31337,
    verifyingContract: consent,
  });
  const signature = await contributor.signTypedData(typed);
  assert.equal(await recoverTypedDataAddress({ ...typed, signature }), contributor.address);
  const other = buildGrantTypedData({
    ...typed.message,
    chainId: 31337,
    consent,
    purposeId: typed.message.purpose,
    nonce: 4n,
  });
  assert.notEqual(
    await recoverTypedDataAddress({ ...other, signature }),
    contributor.address,
    "the nonce is signed",
  );
});
