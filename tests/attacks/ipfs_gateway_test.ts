/**
 * Attack: an outsider uses a public node's IPFS gateway (`GET /ipfs/{cid}`, public, no token) to get
 * more than encrypted blocks. It asks for the CIDs of the node's key files, its API token, the
 * dataset key (DEK) and the plaintext of the chunks it published, walks out of `/ipfs/` with dot
 * segments, reflects a script through an identity CID, and forges `X-Forwarded-For` to escape the
 * rate limit. It must obtain only what the chunk protocol gives any peer: the blocks in the store.
 */
import assert from "node:assert/strict";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { identity } from "multiformats/hashes/identity";
import { sha256 } from "multiformats/hashes/sha2";
import { getManifest } from "../../node/services/blocks/mod.ts";
import { makeCsv, tempDir } from "../helpers.ts";
import { startPublicNodeWithDataset } from "../nodes.ts";

const DAG_CBOR = 0x71;

/** The CIDs (raw and DAG-CBOR, sha2-256) a block of `bytes` would have. */
async function cidsOf(bytes: Uint8Array): Promise<CID[]> {
  const digest = await sha256.digest(bytes);
  return [CID.createV1(raw.code, digest), CID.createV1(DAG_CBOR, digest)];
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...await filesUnder(path));
    else if (entry.isFile) out.push(path);
  }
  return out;
}

Deno.test({
  name:
    "attack: through a public node's IPFS gateway an outsider gets the stored blocks and nothing else: no key, no plaintext, no owner route",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using dir = await tempDir("kosmos-attack-ipfs-");
    const csv = makeCsv(1.5 * 1024 * 1024);
    const { node, manifestCid } = await startPublicNodeWithDataset(dir.path, csv);
    try {
      const { blocks, datasets } = node.components;
      const manifest = await getManifest(blocks, CID.parse(manifestCid));
      const get = (path: string, init: RequestInit = {}) => fetch(`${node.url}${path}`, init);

      // What it guesses: every secret's bytes hashed as a block would be.
      const secrets: [string, Uint8Array][] = [
        ["the dataset key", datasets.getDatasetKey(manifestCid)!],
        ["the whole plaintext", csv],
        ["the API token", new TextEncoder().encode(node.apiToken)],
      ];
      for (let i = 0; i < manifest.chunks.length; i++) {
        secrets.push([
          `plaintext chunk ${i}`,
          csv.subarray(i * manifest.chunkSize, (i + 1) * manifest.chunkSize),
        ]);
      }
      for (const path of await filesUnder(`${dir.path}/keys`)) {
        secrets.push([path, await Deno.readFile(path)]);
      }
      assert.ok(secrets.length >= 6 && secrets.every(([, bytes]) => bytes.length > 0));
      for (const [what, bytes] of secrets) {
        for (const cid of await cidsOf(bytes)) {
          const response = await get(`/ipfs/${cid}?format=raw`);
          assert.equal(response.status, 404, `${what} as ${cid}`);
          await response.body?.cancel();
          const car = await get(`/ipfs/${cid}?format=car`);
          assert.equal(car.status, 404, `${what} as a CAR`);
          await car.body?.cancel();
        }
      }

      // What it does get: exactly the store's blocks, byte for byte (ciphertext and the manifest).
      let served = 0;
      for await (const cid of blocks.list()) {
        const response = await get(`/ipfs/${cid}?format=raw`);
        assert.equal(response.status, 200);
        assert.deepEqual(new Uint8Array(await response.arrayBuffer()), await blocks.get(cid));
        served++;
      }
      assert.equal(served, manifest.chunks.length + 1);

      // Out of /ipfs/ with dot segments, raw or encoded: never the owner's wallet.
      for (
        const path of [
          "/ipfs/../api/v1/wallet",
          "/ipfs/%2e%2e/api/v1/wallet",
          "/ipfs/..%2fapi%2fv1%2fwallet",
          `/ipfs/${manifest.chunks[0]}/../../api/v1/wallet?format=raw`,
          `/ipfs/${manifest.chunks[0]}%2f..%2f..%2fapi%2fv1%2fwallet?format=raw`,
        ]
      ) {
        const response = await get(path, { headers: { Accept: "application/vnd.ipld.raw" } });
        assert.ok([400, 401, 404].includes(response.status), `${path} answered ${response.status}`);
        assert.equal((await response.text()).includes(node.address.slice(2)), false, path);
      }

      // A script in an identity CID comes back as an inert download.
      const script = new TextEncoder().encode("<script>alert(1)</script>");
      const reflected = CID.createV1(raw.code, identity.digest(script));
      const reflection = await get(`/ipfs/${reflected}?format=raw`);
      assert.equal(reflection.status, 200);
      assert.equal(reflection.headers.get("content-type"), "application/vnd.ipld.raw");
      assert.equal(reflection.headers.get("x-content-type-options"), "nosniff");
      assert.match(reflection.headers.get("content-disposition") ?? "", /^attachment;/);
      assert.equal(reflection.headers.get("content-security-policy"), "sandbox");
      await reflection.body?.cancel();

      // A forged X-Forwarded-For (no trusted proxy is configured) buys no extra requests.
      let limited = false;
      for (let i = 0; i < 3_000 && !limited; i++) {
        const response = await get("/ipfs/bafkqaaa?format=raw", {
          headers: { "X-Forwarded-For": `198.51.${i >> 8}.${i & 255}` },
        });
        limited = response.status === 429;
        await response.body?.cancel();
      }
      assert.ok(limited, "one caller was held to its rate whatever it claimed to be");
    } finally {
      await node.stop();
    }
  },
});
