import assert from "node:assert/strict";
import { interleave, median, sameBytes, summarize } from "./fair.ts";

Deno.test("interleave() rotates which side goes first every round and drops the warm-up round", async () => {
  const order: string[] = [];
  const rounds: number[] = [];
  const out = await interleave(3, {
    a: (round) => {
      order.push(`a${round}`);
      return Promise.resolve(round * 10);
    },
    b: (round) => {
      order.push(`b${round}`);
      return Promise.resolve(`b${round}`);
    },
  }, {
    onRound: (round) => {
      rounds.push(round);
    },
    before: () => {
      order.push("settle");
      return Promise.resolve();
    },
  });
  assert.deepEqual(rounds, [-1, 0, 1, 2]);
  assert.deepEqual(
    order.filter((o) => o !== "settle"),
    ["b-1", "a-1", "a0", "b0", "b1", "a1", "a2", "b2"],
  );
  assert.equal(order.filter((o) => o === "settle").length, 8);
  assert.deepEqual(out, { a: [0, 10, 20], b: ["b0", "b1", "b2"] });
});

Deno.test("summarize() gives the median (mean of the middle two when even), min, max and the samples in order", () => {
  assert.deepEqual(summarize([3, 1, 2]), { median: 2, min: 1, max: 3, samples: [3, 1, 2] });
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]), RangeError);
});

Deno.test("sameBytes() finds a single changed byte anywhere and a difference in length", () => {
  const a = crypto.getRandomValues(new Uint8Array(4096));
  assert.equal(sameBytes(a, a.slice()), true);
  for (const i of [0, 2048, 4095]) {
    const b = a.slice();
    b[i] ^= 1;
    assert.equal(sameBytes(a, b), false);
  }
  assert.equal(sameBytes(a, a.subarray(0, 4095)), false);
});
