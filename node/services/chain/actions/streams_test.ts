import assert from "node:assert/strict";
import { keccak256, toBytes } from "viem";
import { merkleProof, merkleRoot } from "../../../../protocol/merkle.ts";
import { ContractRevertError } from "../client.ts";
import { makeManifestCid, ONE, startTestChain } from "../testing.ts";
import {
  anchorRoot,
  getAnchorCall,
  getAnchoredAt,
  getListing,
  getListStreamCall,
  getTransferListingCall,
  listDataset,
  listStream,
  transferListing,
  verifyAnchorProof,
} from "./mod.ts";

const chain = await startTestChain();
const { clients, addresses } = chain;
const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn: () => chain.isolate(fn) });

test("listStream() lists a stream with no key commitment; transferListing() hands it over", async () => {
  const streamId = await makeManifestCid("a stream");
  const { listingId, txHash, gasUsed } = await listStream(clients.alice, { streamId, stake: 100n * ONE });
  assert.match(txHash, /^0x[0-9a-f]{64}$/);
  assert.ok(gasUsed > 0n);
  const listing = await getListing(clients.alice, { listingId });
  assert.equal(listing?.kind, "stream");
  assert.equal(listing?.manifestCid, streamId);
  assert.equal(listing?.dekCommit, `0x${"0".repeat(64)}`);
  assert.equal(listing?.owner, addresses.alice);
  await transferListing(clients.alice, { listingId, to: addresses.bob });
  assert.equal((await getListing(clients.bob, { listingId }))?.owner, addresses.bob);
  const err = await transferListing(clients.alice, { listingId, to: addresses.carol }).catch((e) => e);
  assert.ok(err instanceof ContractRevertError, String(err));
  assert.equal(err.revert, "ERC721InsufficientApproval");
});

test("the stream write builders check their input and estimate", async () => {
  await assert.rejects(getListStreamCall(clients.alice, { streamId: "nope", stake: ONE }), /not a stream id/);
  await assert.rejects(
    getListStreamCall(clients.alice, { streamId: await makeManifestCid("x"), stake: 0n }),
    RangeError,
  );
  assert.throws(
    () => getTransferListingCall(clients.alice, { listingId: 1n, to: "0x12" as `0x${string}` }),
    TypeError,
  );
  const call = await getListStreamCall(clients.alice, {
    streamId: await makeManifestCid("y"),
    stake: 100n * ONE,
  });
  const gas = await clients.alice.publicClient.estimateContractGas(
    { ...call, account: clients.alice.walletClient.account } as never,
  );
  assert.ok(gas > 50_000n, `listing gas ${gas}`);
  // A dataset listing still needs its commitment: listDataset() refuses a stream-style zero.
  const err = await listDataset(clients.alice, {
    manifestCid: await makeManifestCid("z"),
    dekCommit: `0x${"0".repeat(64)}`,
    stake: 100n * ONE,
  }).catch((e) => e);
  assert.ok(err instanceof TypeError);
});

test("anchorRoot() stamps a root once; verifyAnchorProof() checks leaves against it", async () => {
  const leaves = ["a", "b", "c"].map((s) => keccak256(toBytes(s)));
  const root = merkleRoot(leaves);
  assert.equal(await getAnchoredAt(clients.bob, root), 0);
  const { anchoredAt, blockNumber } = await anchorRoot(clients.bob, { root, label: "test batch" });
  assert.ok(anchoredAt > 0 && blockNumber > 0n);
  assert.equal(await getAnchoredAt(clients.alice, root), anchoredAt);
  for (let i = 0; i < leaves.length; i++) {
    assert.deepEqual(
      await verifyAnchorProof(clients.alice, { root, leaf: leaves[i], proof: merkleProof(leaves, i) }),
      { ok: true, anchoredAt },
    );
  }
  const other = keccak256(toBytes("d"));
  assert.equal(
    (await verifyAnchorProof(clients.alice, { root, leaf: other, proof: merkleProof(leaves, 0) })).ok,
    false,
  );
  const never = merkleRoot([other]);
  assert.deepEqual(await verifyAnchorProof(clients.alice, { root: never, leaf: other, proof: [] }), {
    ok: false,
    anchoredAt: 0,
  });
  const again = await anchorRoot(clients.alice, { root, label: "again" }).catch((e) => e);
  assert.ok(again instanceof ContractRevertError);
  assert.equal(again.revert, "AlreadyAnchored");
  assert.throws(() => getAnchorCall(clients.alice, { root: `0x${"0".repeat(64)}`, label: "" }), /zero root/);
  assert.throws(() => getAnchorCall(clients.alice, { root, label: "x".repeat(201) }), /label/);
});
