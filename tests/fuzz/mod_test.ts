/**
 * The fuzz harness itself: `expectClean()` passes clean rejections and
 * values, and fails on every other outcome, so a decoder that broke the
 * property would fail the suite.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { SaleProtocolError } from "../../protocol/wire_fields.ts";
import { assertCleanError, expectClean, FUZZ_RUNS, fuzzTotal, mutatedBytes } from "./mod.ts";

Deno.test("expectClean() passes values and clean TypeErrors, RangeErrors and KosmosErrors", async () => {
  assert.equal(await expectClean("ok", () => 1), 1);
  assert.equal(await expectClean("async ok", () => Promise.resolve("x")), "x");
  assert.equal(
    await expectClean("type", () => {
      throw new TypeError('Invalid field "a"');
    }),
    undefined,
  );
  assert.equal(
    await expectClean("range", () => {
      throw new RangeError("too large");
    }),
    undefined,
  );
  assert.equal(
    await expectClean("domain", () => Promise.reject(new SaleProtocolError("bad fields"))),
    undefined,
  );
});

Deno.test("expectClean() fails on other throwables, bad messages and slow decoders", async () => {
  const fails = async (what: string, decode: () => unknown, maxMs?: number) =>
    await assert.rejects(() => expectClean(what, decode, { maxMs }), assert.AssertionError, what);
  await fails("plain Error", () => {
    throw new Error("boom");
  });
  await fails("SyntaxError", () => JSON.parse("{"));
  await fails("a string", () => {
    throw "boom";
  });
  await fails("undefined", () => {
    throw undefined;
  });
  await fails("empty message", () => {
    throw new TypeError("");
  });
  await fails("huge message", () => {
    throw new TypeError("x".repeat(5000));
  });
  await fails("stack in message", () => {
    throw new TypeError("bad\n    at decode (file.ts:1:1)");
  });
  await fails("slow sync", () => {
    const end = performance.now() + 80;
    while (performance.now() < end);
  }, 20);
  await fails("hanging async", () => new Promise(() => {}), 20);
  assert.throws(() => assertCleanError(new Error("x"), "plain"), assert.AssertionError);
});

Deno.test("mutatedBytes() always changes its input", () => {
  const valid = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
  let changed = 0;
  for (const bytes of fc.sample(mutatedBytes(fc.constant(valid)), 500)) {
    if (bytes.byteLength !== valid.byteLength || bytes.some((b, i) => b !== valid[i])) changed++;
  }
  assert.ok(changed > 450, `only ${changed} of 500 mutations changed the bytes`);
});

Deno.test("FUZZ_RUNS adds up to thousands of inputs", () => {
  const total = fuzzTotal();
  assert.ok(total.decoder >= 10_000 && total.stream >= 1_000, JSON.stringify(total));
  assert.ok(Object.values(FUZZ_RUNS).every((r) => r.decoder + r.stream > 0));
});
