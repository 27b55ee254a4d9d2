import assert from "node:assert/strict";
import fc from "fast-check";
import { concat, keccak256 } from "viem";
import { hashArb } from "./arbitraries_test.ts";
import { type Hash, hashLeaf, merkleProof, merkleRoot, verifyMerkleProof } from "./merkle.ts";

function pair(a: Hash, b: Hash): Hash {
  return keccak256(a < b ? concat([a, b]) : concat([b, a]));
}

Deno.test("merkleRoot() hashes sorted pairs bottom-up and carries an odd node up unchanged", () => {
  const leaves = ["a", "b", "c"].map((s) => hashLeaf(new TextEncoder().encode(s)));
  // sha256("a") is the well-known ca9781…48bb; the leaf is keccak256 of those 32 bytes.
  assert.equal(leaves[0], keccak256("0xca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"));
  assert.equal(merkleRoot([leaves[0]]), leaves[0]);
  assert.deepEqual(merkleProof([leaves[0]], 0), []);
  assert.equal(merkleRoot(leaves), pair(pair(leaves[0], leaves[1]), leaves[2]));
  assert.deepEqual(merkleProof(leaves, 2), [pair(leaves[0], leaves[1])]);
  assert.deepEqual(merkleProof(leaves, 0), [leaves[1], leaves[2]]);
  assert.throws(() => merkleRoot([]), RangeError);
  assert.throws(() => merkleProof(leaves, 3), RangeError);
  assert.throws(() => merkleRoot(["0x12" as Hash]), TypeError);
});

Deno.test("merkleProof() verifies for every leaf and fails for any other leaf or root", () => {
  fc.assert(
    fc.property(fc.array(hashArb, { minLength: 1, maxLength: 33 }), hashArb, (leaves, other) => {
      const root = merkleRoot(leaves);
      leaves.forEach((leaf, i) => {
        const proof = merkleProof(leaves, i);
        assert.ok(verifyMerkleProof({ leaf, proof, root }));
        if (!leaves.includes(other)) assert.ok(!verifyMerkleProof({ leaf: other, proof, root }));
        if (other !== root) assert.ok(!verifyMerkleProof({ leaf, proof, root: other }));
      });
    }),
    { numRuns: 50 },
  );
});
