/**
 * Anchoring end to end on one node with its embedded chain: a published dataset's manifest and a stream
 * epoch file are anchored in one batch, `GET /api/v1/proofs/:cid` serves their proofs to anyone (no token),
 * and `kosmos verify FILE PROOF` checks a file against the chain: the anchored file verifies (proof from a
 * file or asked by CID), a tampered file and a proof whose root was never anchored do not.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { keccak256 } from "viem";
import { CID } from "multiformats/cid";
import type { AnchorProofView } from "../protocol/api/streams.ts";
import { contentCidOf, encodeEpochFile } from "../protocol/streams.ts";
import { kosmos } from "./cli.ts";
import { tempDir } from "./helpers.ts";
import { publishStations, startAppNode } from "./node_app.ts";

Deno.test({
  name: "anchored proofs are public and `kosmos verify` checks files against the chain",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using started = await startAppNode("kosmos-anchor-");
    await using dir = await tempDir("kosmos-anchor-files-");
    const { node } = started;
    const anchor = node.components.anchor;
    const [dataset] = await publishStations(node, "1000");
    assert.equal(anchor.statusOf(dataset.manifestCid), "pending", "publishing queues the manifest");

    const epoch = encodeEpochFile([
      { sensorId: "roof-1", ts: 1_800_000_000_000, values: { celsius: 21.5 } },
      { sensorId: "roof-2", ts: 1_800_000_000_100, values: { celsius: 19 } },
    ]);
    const contentCid = contentCidOf(epoch);
    anchor.add(contentCid);
    const get = (cid: string) => fetch(new URL(`/api/v1/proofs/${cid}`, node.url));

    const pending = await get(contentCid);
    assert.equal(pending.status, 404);
    assert.match((await pending.json()).error.message, /waits for the next anchoring batch/);
    await anchor.flush();

    const answer = await get(contentCid);
    assert.equal(answer.status, 200, "public: no token needed");
    const proof = await answer.json() as AnchorProofView;
    assert.equal(proof.cid, contentCid);
    assert.equal(proof.leaf, keccak256(CID.parse(contentCid).bytes));
    assert.equal(proof.chainId, 31337);
    const manifestProof = await (await get(dataset.manifestCid)).json() as AnchorProofView;
    assert.equal(manifestProof.root, proof.root, "one batch");
    assert.equal((await get(contentCidOf(new Uint8Array([1])))).status, 404);
    const bad = await get("not-a-cid");
    assert.equal(bad.status, 400);
    await bad.body?.cancel();

    const file = join(dir.path, "epoch.ndjson");
    const proofFile = join(dir.path, "proof.json");
    await Deno.writeFile(file, epoch);
    await Deno.writeTextFile(proofFile, JSON.stringify(proof));
    const ok = await kosmos(node, ["verify", file, proofFile]);
    assert.equal(ok.code, 0, ok.stderr);
    const at = new Date(proof.anchoredAt * 1000).toISOString();
    assert.equal(ok.stdout.trim(), `anchored at ${at} in block ${proof.blockNumber} (tx ${proof.txHash})`);
    const byCid = await kosmos(node, ["verify", file, contentCid, "--json"]);
    assert.equal(byCid.code, 0, byCid.stderr);
    assert.equal(byCid.json().txHash, proof.txHash);

    const manifestFile = join(dir.path, "manifest.cbor");
    await Deno.writeFile(manifestFile, await node.components.blocks.get(CID.parse(dataset.manifestCid)));
    const manifestOk = await kosmos(node, ["verify", manifestFile, dataset.manifestCid]);
    assert.equal(manifestOk.code, 0, manifestOk.stderr);

    const tampered = join(dir.path, "tampered.ndjson");
    const changed = epoch.slice();
    changed[changed.indexOf("1".charCodeAt(0))] = "2".charCodeAt(0);
    await Deno.writeFile(tampered, changed);
    const refused = await kosmos(node, ["verify", tampered, proofFile]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is not the anchored content/);

    // A well-formed proof of a file nobody anchored: a one-leaf tree whose root is the leaf.
    const other = new TextEncoder().encode('{"sensorId":"x","ts":1,"values":{}}\n');
    const otherFile = join(dir.path, "other.ndjson");
    await Deno.writeFile(otherFile, other);
    const leaf = keccak256(CID.parse(contentCidOf(other)).bytes);
    const forged = { ...proof, cid: contentCidOf(other), leaf, root: leaf, proof: [] };
    const forgedFile = join(dir.path, "forged.json");
    await Deno.writeTextFile(forgedFile, JSON.stringify(forged));
    const never = await kosmos(node, ["verify", otherFile, forgedFile]);
    assert.equal(never.code, 1);
    assert.match(never.stderr, /was never anchored/);

    const wrongPath = join(dir.path, "wrong-path.json");
    await Deno.writeTextFile(wrongPath, JSON.stringify({ ...proof, proof: [manifestProof.leaf] }));
    const broken = await kosmos(node, ["verify", file, wrongPath]);
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /Merkle path does not lead/);
  },
});
