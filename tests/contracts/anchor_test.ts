import assert from "node:assert/strict";
import { type Hex, keccak256, parseEventLogs, toHex } from "viem";
import { kosmosAnchorAbi } from "../../protocol/contracts_generated.ts";
import { contractCalls, createChainTest, expectRevert, type TestChain } from "./chain.ts";
import { buildTree } from "./merkle.ts";

const chainTest = createChainTest();
const leaves = ["a", "b", "c", "d", "e"].map((s) => keccak256(keccak256(toHex(s))));
const { root, proofs } = buildTree(leaves);

const { tx: anchorTx } = contractCalls("anchor", kosmosAnchorAbi);

async function verify(c: TestChain, r: Hex, leaf: Hex, proof: Hex[]) {
  return await c.publicClient.readContract({
    address: c.addresses.anchor,
    abi: kosmosAnchorAbi,
    functionName: "verify",
    args: [r, leaf, proof],
  });
}

chainTest("anchor() stores the timestamp once and verify() checks proofs against it", async (c) => {
  assert.deepEqual(await verify(c, root, leaves[0], proofs[0]), [false, 0n]);
  const { logs } = await c.send(c.wallets.alice, anchorTx(c, "anchor", [root, "dataset 1"]));
  const at = await c.now();
  const [anchored] = parseEventLogs({ abi: kosmosAnchorAbi, logs, eventName: "Anchored" });
  assert.equal(anchored.args.label, "dataset 1");
  assert.equal(anchored.args.anchoredAt, at);
  for (const [i, leaf] of leaves.entries()) {
    assert.deepEqual(await verify(c, root, leaf, proofs[i]), [true, at]);
  }
  assert.deepEqual(await verify(c, root, leaves[1], proofs[0]), [false, at]);
  assert.deepEqual(await verify(c, root, keccak256(toHex("z")), proofs[0]), [false, at]);
  await c.warp(100);
  await expectRevert(c.send(c.wallets.bob, anchorTx(c, "anchor", [root, "again"])), "AlreadyAnchored", [
    root,
    at,
  ]);
  assert.equal(
    await c.publicClient.readContract({
      address: c.addresses.anchor,
      abi: kosmosAnchorAbi,
      functionName: "anchoredAt",
      args: [root],
    }),
    at,
  );
});

chainTest("anchor() rejects the zero root", async (c) => {
  await expectRevert(
    c.send(c.wallets.alice, anchorTx(c, "anchor", [`0x${"0".repeat(64)}`, ""])),
    "EmptyRoot",
  );
});
