import assert from "node:assert/strict";
import fc from "fast-check";
import { CID } from "multiformats/cid";
import * as Digest from "multiformats/hashes/digest";
import { compareDistance, datasetKey, xorDistance } from "./distance.ts";
import { commonPrefixLength, datasetKeyHex, Neighbourhood } from "./neighbourhood.ts";

const key = fc.uint8Array({ minLength: 32, maxLength: 32 });

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The rank by sorting every candidate by XOR distance, the way `rankHolders` does. */
function sortedRank(self: Uint8Array, others: Uint8Array[], target: Uint8Array): number {
  const mine = xorDistance(self, target);
  return others.filter((o) => compareDistance(xorDistance(o, target), mine) < 0).length;
}

Deno.test("datasetKeyHex() is datasetKey() in hex", async () => {
  const cid = CID.createV1(0x71, Digest.create(0x12, crypto.getRandomValues(new Uint8Array(32))));
  assert.equal(datasetKeyHex(cid.bytes), hex(await datasetKey(cid)));
});

Deno.test("commonPrefixLength() counts the leading bits two keys share", () => {
  assert.equal(commonPrefixLength(Uint8Array.of(0b1010_0000, 0), Uint8Array.of(0b1011_0000, 0)), 3);
  assert.equal(commonPrefixLength(Uint8Array.of(7, 0x80), Uint8Array.of(7, 0x00)), 8);
  assert.equal(commonPrefixLength(Uint8Array.of(7, 1), Uint8Array.of(7, 1)), 16);
});

Deno.test("Neighbourhood.rankOf() equals the rank found by sorting every candidate by distance", () => {
  fc.assert(
    fc.property(key, fc.array(key, { maxLength: 40 }), key, (self, others, target) => {
      const distinct = others.filter((o) => commonPrefixLength(o, self) < 256);
      // Near keys too: a target sharing a long prefix with this node or with a candidate.
      for (const t of [target, Uint8Array.from(self, (b, i) => i < 3 ? b : target[i])]) {
        assert.equal(new Neighbourhood(self, distinct).rankOf(t), sortedRank(self, distinct, t));
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("Neighbourhood.ranges(k) hold every key for which the node ranks below k", () => {
  fc.assert(
    fc.property(
      key,
      fc.array(key, { minLength: 0, maxLength: 64 }),
      fc.array(key, { minLength: 50, maxLength: 50 }),
      fc.integer({ min: 1, max: 8 }),
      (self, others, targets, k) => {
        const hood = new Neighbourhood(self, others.filter((o) => commonPrefixLength(o, self) < 256));
        const ranges = hood.ranges(k);
        const sorted = [...ranges].sort((a, b) => a[0] < b[0] ? -1 : 1);
        for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i - 1][1] < sorted[i][0], "ranges overlap");
        // Keys sharing 1 to 4 leading bytes with this node, where it often ranks below k.
        const near = targets.map((t, i) => Uint8Array.from(self, (b, j) => j < 1 + (i % 4) ? b : t[j]));
        for (const t of [...targets, ...near, self]) {
          const h = hex(t);
          const inside = ranges.some(([lo, hi]) => lo <= h && h <= hi);
          if (hood.rankOf(t) < k) assert.ok(inside, `key ${h}, rank ${hood.rankOf(t)}, k ${k}`);
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("Neighbourhood.ranges() cover a few times k/n of the key space among n candidates", () => {
  const rnd = () => crypto.getRandomValues(new Uint8Array(32));
  const self = rnd();
  const hood = new Neighbourhood(self, Array.from({ length: 199 }, rnd));
  const share = hood.ranges(6).reduce(
    (sum, [lo, hi]) => sum + (BigInt(`0x${hi}`) - BigInt(`0x${lo}`) + 1n),
    0n,
  );
  const fraction = Number((share * 1_000_000n) >> 256n) / 1_000_000;
  // 6 of 200 would be 3 %; the level structure keeps it within a small factor of that.
  assert.ok(fraction > 0.005 && fraction < 0.15, `the ranges cover ${fraction} of the key space`);
});
