/**
 * Checks, as a person would, that a file a node anchored verifies against the chain and a tampered copy
 * does not: waits for the node's proof (`GET /api/v1/proofs/:cid`), then runs `kosmos verify FILE PROOF`
 * on the file and on a copy with one byte changed.
 *
 * ```ts
 * await anchorCheck(gateway, contentCid, fileBytes);
 * ```
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { KosmosNode } from "../node/node.ts";
import { kosmos } from "./cli.ts";
import { ownerFetch, tempDir, waitFor } from "./helpers.ts";

export async function anchorCheck(node: KosmosNode, cid: string, bytes: Uint8Array): Promise<void> {
  const proof = await waitFor("the file's anchored proof", async () => {
    const res = await ownerFetch(node, `/api/v1/proofs/${cid}`);
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    assert.equal(res.status, 200);
    return await res.json() as { cid: string; root: string; blockNumber: string };
  }, { timeout: 30_000, interval: 250 });
  assert.equal(proof.cid, cid);
  await using dir = await tempDir("kosmos-anchor-check-");
  const file = join(dir.path, "epoch.ndjson");
  const proofFile = join(dir.path, "proof.json");
  await Deno.writeFile(file, bytes);
  await Deno.writeTextFile(proofFile, JSON.stringify(proof));
  const ok = await kosmos(node, ["verify", file, proofFile]);
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  assert.match(ok.stdout, /anchored at .* in block \d+/);
  const tampered = bytes.slice();
  tampered[Math.floor(tampered.length / 2)] ^= 0x01;
  await Deno.writeFile(file, tampered);
  const bad = await kosmos(node, ["verify", file, proofFile]);
  assert.equal(bad.code, 1, "a tampered file verified");
}
