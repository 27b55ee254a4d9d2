/**
 * What the decoder fuzz suites share: the clock they sign at, small
 * arbitraries, signed announcements, and the two checks every suite runs
 * (`fuzz`: hostile input reaches the decoder and is refused cleanly;
 * `assertRefusesOversized`).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { bytesToHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { type Announcement, signAnnouncement } from "../../protocol/announcement.ts";
import { announcementBodyArb } from "../../protocol/arbitraries_test.ts";
import { toAddress } from "../../protocol/ids.ts";
import { expectClean, fuzzParams, hostileBytes } from "./mod.ts";

export const NOW = Date.parse("2026-01-01T00:00:00Z");

export const bytesArb = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
export const hexArb = (n: number) => bytesArb(n).map((b) => bytesToHex(b));
export const domainArb = fc.stringMatching(/^[a-z][a-z0-9-]{0,12}[a-z0-9]\.(com|org|example)$/);
export const uintArb = fc.bigInt({ min: 0n, max: 2n ** 256n - 1n });

/**
 * Runs the three kinds of hostile input (and some valid ones) through
 * `check`, `runs` in all; `check` says whether the decoder accepted. Both
 * outcomes must occur, or the generators are not reaching the decoder.
 */
export async function fuzz(
  runs: number,
  valid: fc.Arbitrary<Uint8Array>,
  structured: fc.Arbitrary<Uint8Array>,
  check: (bytes: Uint8Array) => Promise<boolean>,
): Promise<void> {
  const seen = { accepted: 0, rejected: 0 };
  await fc.assert(
    fc.asyncProperty(hostileBytes(valid, structured), async (bytes) => {
      seen[await check(bytes) ? "accepted" : "rejected"]++;
    }),
    fuzzParams(runs),
  );
  assert.ok(seen.accepted > 0 && seen.rejected > 0, `expected both outcomes, got ${JSON.stringify(seen)}`);
}

/** Oversized input is refused quickly, by size, before it is parsed. */
export async function assertRefusesOversized(what: string, max: number, decode: (b: Uint8Array) => unknown) {
  const bytes = new Uint8Array(max + 1).fill(0x61);
  const value = await expectClean(what, () => decode(bytes), { maxMs: 50 });
  assert.equal(value, undefined, `${what} accepted ${max + 1} bytes`);
}

export const seller = privateKeyToAccount(generatePrivateKey());
export const signedAnnouncements: Announcement[] = await Promise.all(
  fc.sample(announcementBodyArb(NOW), { numRuns: 12, seed: 42 }).map((body) =>
    signAnnouncement(seller, { ...body, seller: toAddress(seller.address) }, { now: NOW })
  ),
);
export const announcementArb = fc.constantFrom(...signedAnnouncements);
