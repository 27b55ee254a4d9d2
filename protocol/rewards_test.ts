import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeAbiParameters, keccak256 } from "viem";
import { addressArb } from "./arbitraries_test.ts";
import { verifyMerkleProof } from "./merkle.ts";
import {
  buildDistribution,
  epochLeaves,
  hashRewardLeaf,
  poolSaleLeaves,
  type RowShare,
  splitProRata,
} from "./rewards.ts";

const A: `0x${string}` = "0x00000000000000000000000000000000000000aa";
const B: `0x${string}` = "0x00000000000000000000000000000000000000bb";
const C: `0x${string}` = "0x00000000000000000000000000000000000000cc";

const sharesArb = fc.array(
  fc.record({ account: addressArb, rows: fc.bigInt({ min: 0n, max: 10n ** 9n }) }),
  { maxLength: 40 },
);
const totalArb = fc.bigInt({ min: 0n, max: 10n ** 30n });

Deno.test("splitProRata() gives the leftover units to the largest remainders, ties to the lower address", () => {
  // 10 over rows 1:1:1 → 3.33 each: floors 3+3+3, one unit left, all remainders equal → lowest address.
  const thirds = splitProRata(10n, [{ account: C, rows: 1n }, { account: A, rows: 1n }, {
    account: B,
    rows: 1n,
  }]);
  assert.deepEqual(thirds.map((s) => [s.account.toLowerCase(), s.amount]), [[A, 4n], [B, 3n], [C, 3n]]);
  // 100 over rows 1:2:4 → 14.28, 28.57, 57.14: floors 14+28+57 = 99; the largest remainder (4/7, B) gets 1.
  const split = splitProRata(100n, [{ account: A, rows: 1n }, { account: B, rows: 2n }, {
    account: C,
    rows: 4n,
  }]);
  assert.deepEqual(split.map((s) => s.amount), [14n, 29n, 57n]);
});

Deno.test("splitProRata() omits accounts without rows, adds up repeated accounts and returns [] with no rows", () => {
  assert.deepEqual(splitProRata(7n, []), []);
  assert.deepEqual(splitProRata(7n, [{ account: A, rows: 0n }]), []);
  const split = splitProRata(9n, [{ account: A, rows: 1n }, { account: B, rows: 0n }, {
    account: A.toUpperCase().replace("0X", "0x") as `0x${string}`,
    rows: 2n,
  }]);
  assert.equal(split.length, 1);
  assert.equal(split[0].amount, 9n);
  assert.deepEqual(splitProRata(0n, [{ account: A, rows: 5n }]), []);
  assert.throws(() => splitProRata(-1n, []), RangeError);
  assert.throws(() => splitProRata(1n, [{ account: A, rows: -1n }]), RangeError);
  assert.throws(() => splitProRata(1n, [{ account: "0x12", rows: 1n }]), TypeError);
});

Deno.test("splitProRata() sums to the total to the wei, is fair to within one unit and ignores input order", () => {
  fc.assert(
    fc.property(totalArb, sharesArb, fc.integer(), (total, shares, seed) => {
      const split = splitProRata(total, shares);
      const rowsOf = new Map<string, bigint>();
      for (const s of shares) {
        rowsOf.set(s.account.toLowerCase(), (rowsOf.get(s.account.toLowerCase()) ?? 0n) + s.rows);
      }
      const sumRows = [...rowsOf.values()].reduce((a, b) => a + b, 0n);
      const sum = split.reduce((a, s) => a + s.amount, 0n);
      assert.equal(sum, sumRows === 0n ? 0n : total);
      for (const s of split) {
        const exact = (total * rowsOf.get(s.account.toLowerCase())!) / sumRows;
        assert.ok(s.amount === exact || s.amount === exact + 1n);
        assert.ok(s.amount > 0n);
      }
      const sorted = split.map((s) => s.account.toLowerCase());
      assert.deepEqual(sorted, [...sorted].sort());
      const shuffled: RowShare[] = [...shares].sort((x, y) =>
        ((shares.indexOf(x) * 7919 + seed) % 97) - ((shares.indexOf(y) * 7919 + seed) % 97)
      );
      assert.deepEqual(splitProRata(total, shuffled), split);
    }),
    { numRuns: 200 },
  );
});

Deno.test("hashRewardLeaf() hashes abi.encode(index, account, amount) twice, as KosmosRewards.claim does", () => {
  const encoded = encodeAbiParameters([{ type: "uint256" }, { type: "address" }, { type: "uint256" }], [
    3n,
    A,
    5n,
  ]);
  assert.equal(hashRewardLeaf(3n, A, 5n), keccak256(keccak256(encoded)));
});

Deno.test("buildDistribution() orders leaves by address, and every proof verifies only its own leaf", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.record({ account: addressArb, amount: fc.bigInt({ min: 0n, max: 10n ** 24n }) }), {
        minLength: 1,
        maxLength: 40,
        selector: (e) => e.account.toLowerCase(),
      }),
      (amounts) => {
        const d = buildDistribution(amounts);
        assert.equal(d.total, amounts.reduce((a, e) => a + e.amount, 0n));
        assert.deepEqual(buildDistribution([...amounts].reverse()), d);
        const accounts = d.leaves.map((l) => l.account.toLowerCase());
        assert.deepEqual(accounts, [...accounts].sort());
        for (const [i, l] of d.leaves.entries()) {
          assert.equal(l.index, BigInt(i));
          const leaf = hashRewardLeaf(l.index, l.account, l.amount);
          assert.ok(verifyMerkleProof({ leaf, proof: l.proof, root: d.root }));
          const forged = hashRewardLeaf(l.index, l.account, l.amount + 1n);
          assert.ok(!verifyMerkleProof({ leaf: forged, proof: l.proof, root: d.root }));
          if (d.leaves.length > 1) {
            const moved = hashRewardLeaf(l.index ^ 1n, l.account, l.amount);
            assert.ok(!verifyMerkleProof({ leaf: moved, proof: l.proof, root: d.root }));
          }
        }
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("buildDistribution() refuses no leaves, a repeated account and a bad amount", () => {
  assert.throws(() => buildDistribution([]), RangeError);
  assert.throws(() => buildDistribution([{ account: A, amount: 1n }, { account: A, amount: 2n }]), TypeError);
  assert.throws(() => buildDistribution([{ account: A, amount: -1n }]), RangeError);
  assert.throws(() => buildDistribution([{ account: A, amount: 2n ** 256n }]), RangeError);
  const single = buildDistribution([{ account: B, amount: 4n }]);
  assert.equal(single.root, hashRewardLeaf(0n, B, 4n));
  assert.deepEqual(single.leaves[0].proof, []);
});

Deno.test("poolSaleLeaves() takes the fee rounded down and splits the rest exactly", () => {
  const s = poolSaleLeaves({ toSeller: 1001n, feeBps: 500, contributors: [A, B], rows: [1n, 3n] });
  assert.equal(s.fee, 50n);
  assert.equal(s.total, 951n);
  assert.deepEqual(s.leaves.map((l) => l.amount), [238n, 713n]);
  assert.throws(() => poolSaleLeaves({ toSeller: 1n, feeBps: 5001, contributors: [], rows: [] }), RangeError);
  assert.throws(() => poolSaleLeaves({ toSeller: 1n, feeBps: 1.5, contributors: [], rows: [] }), RangeError);
  assert.throws(() => poolSaleLeaves({ toSeller: 1n, feeBps: 0, contributors: [A], rows: [] }), RangeError);
  fc.assert(
    fc.property(totalArb, fc.integer({ min: 0, max: 5000 }), sharesArb, (toSeller, feeBps, shares) => {
      const { fee, total, leaves } = poolSaleLeaves({
        toSeller,
        feeBps,
        contributors: shares.map((s) => s.account),
        rows: shares.map((s) => s.rows),
      });
      assert.equal(fee + total, toSeller);
      assert.equal(fee, (toSeller * BigInt(feeBps)) / 10000n);
      const paid = leaves.reduce((a, l) => a + l.amount, 0n);
      assert.equal(paid, shares.some((s) => s.rows > 0n) ? total : 0n);
    }),
    { numRuns: 100 },
  );
});

Deno.test("epochLeaves() pays the reward pro rata to the rows sold, counting each sale of a version", () => {
  const version = { contributors: [A, B], rows: [1n, 1n] };
  const other = { contributors: [B, C], rows: [2n, 0n] };
  const e = epochLeaves({ reward: 8n, sales: [version, version, other] });
  // A: 2 rows, B: 4 rows, C: 0 → 8 * 2/6 = 2.67, 8 * 4/6 = 5.33 → 3 and 5.
  assert.equal(e.total, 8n);
  assert.deepEqual(e.leaves.map((l) => [l.account.toLowerCase(), l.amount]), [[A, 3n], [B, 5n]]);
  assert.deepEqual(epochLeaves({ reward: 8n, sales: [] }), { total: 0n, leaves: [] });
  assert.throws(() => epochLeaves({ reward: 8n, sales: [{ contributors: [A], rows: [] }] }), RangeError);
});
