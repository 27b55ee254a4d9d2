import assert from "node:assert/strict";
import { formatEther, formatShare, shortenId } from "./format.ts";

Deno.test("formatEther() formats wei as ETH, rounded down to six decimals", () => {
  assert.equal(formatEther("0"), "0");
  assert.equal(formatEther("1500000000000000000"), "1.5");
  assert.equal(formatEther("100000000000000000000"), "100");
  assert.equal(formatEther("1234567000000000000000000"), "1,234,567");
  assert.equal(formatEther("1"), "0");
  assert.equal(formatEther("123456789012345678"), "0.123456");
  assert.equal(formatEther("123456789012345678", 18), "0.123456789012345678");
  assert.equal(formatEther(-2500000000000000000n), "-2.5");
});

Deno.test("formatEther() rejects amounts that are not whole wei", () => {
  assert.throws(() => formatEther("1.5"), TypeError);
  assert.throws(() => formatEther("0x10"), TypeError);
});

Deno.test("shortenId() keeps short ids and elides the middle of long ones", () => {
  assert.equal(shortenId("abc"), "abc");
  assert.equal(shortenId("12D3KooWGRbkTYcMwh17hc5s9pgJdLjPiw"), "12D3KooW…jPiw");
});

Deno.test("formatShare() gives a part of a price as a percentage, as the Buy island labels the split", () => {
  const price = 10n * 10n ** 18n;
  assert.equal(formatShare(8n * 10n ** 18n, price), " (80 %)");
  assert.equal(formatShare("0", price.toString()), " (0 %)"); // no gateway
  assert.equal(formatShare(2n * 10n ** 18n, price), " (20 %)"); // the treasury then
  assert.equal(formatShare(1n, 3n), " (33.3 %)");
  assert.equal(formatShare(0n, 0n), ""); // a free listing
});
