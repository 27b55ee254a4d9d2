import assert from "node:assert/strict";
import { base36 } from "multiformats/bases/base36";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256, sha512 } from "multiformats/hashes/sha2";
import * as dagCbor from "@ipld/dag-cbor";
import { openBlockStore } from "../services/blocks/mod.ts";
import { createIpfsApi } from "./ipfs.ts";

const caller = { remoteAddress: "203.0.113.9" };

/** A real block store in a temp dir, with every read it does recorded. */
async function openStore() {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-ipfs-api-" });
  const blocks = await openBlockStore(dir);
  const reads: string[] = [];
  const get = blocks.get.bind(blocks);
  blocks.get = (cid) => {
    reads.push(cid.toString());
    return get(cid);
  };
  return {
    blocks,
    reads,
    dir,
    async [Symbol.asyncDispose]() {
      blocks.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("getIpfsBlock() answers a stored chunk and a stored DAG-CBOR block, in any multibase", async () => {
  await using store = await openStore();
  const chunk = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 31 + (i >> 8)) & 0xff);
  const chunkCid = await store.blocks.put(chunk);
  const node = dagCbor.encode({ chunks: [chunkCid], title: "x" });
  const nodeCid = await store.blocks.put(node, {
    cid: CID.createV1(dagCbor.code, await sha256.digest(node)),
  });
  const api = createIpfsApi({ blocks: store.blocks, config: { trustedProxies: [] } });
  assert.deepEqual(await api.getIpfsBlock(chunkCid.toString(), { caller }), chunk);
  assert.deepEqual(await api.getIpfsBlock(nodeCid.toString(), { caller }), node);
  assert.deepEqual(await api.getIpfsBlock(chunkCid.toString(base36), { caller }), chunk);
});

Deno.test("getIpfsBlock() refuses what is not a CID and answers CIDs the store never holds, reading nothing", async () => {
  await using store = await openStore();
  const api = createIpfsApi({ blocks: store.blocks, config: { trustedProxies: [] } });
  for (const text of ["", "x", "../../etc/passwd", "bafy!!", `b${"a".repeat(300)}`]) {
    await assert.rejects(api.getIpfsBlock(text, { caller }), { name: "TypeError" }, JSON.stringify(text));
  }
  const bytes = new TextEncoder().encode("never stored");
  const unstorable = [
    "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", // CIDv0 (dag-pb)
    CID.createV1(raw.code, await sha512.digest(bytes)).toString(), // sha2-512
    CID.createV1(0x70, await sha256.digest(bytes)).toString(), // dag-pb v1
    CID.createV1(0x0129, await sha256.digest(bytes)).toString(), // dag-json
  ];
  for (const text of unstorable) {
    await assert.rejects(api.getIpfsBlock(text, { caller }), { name: "NotFoundError" }, text);
  }
  assert.deepEqual(store.reads, [], "the store was not read");
  // An identity CID is its own block.
  assert.deepEqual(await api.getIpfsBlock("bafkqaaa", { caller }), new Uint8Array());
  assert.deepEqual(store.reads, []);
});

Deno.test("getIpfsBlock() answers NotFoundError for a block not held, and for one whose file no longer matches", async () => {
  await using store = await openStore();
  const api = createIpfsApi({ blocks: store.blocks, config: { trustedProxies: [] } });
  const absent = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode("absent")));
  await assert.rejects(api.getIpfsBlock(absent.toString(), { caller }), { name: "NotFoundError" });
  const bytes = new TextEncoder().encode("a block that rots on disk");
  const cid = await store.blocks.put(bytes);
  const key = cid.toString();
  const path = `${store.blocks.root}/${key.slice(-3, -1)}/${key}`;
  await Deno.writeFile(path, new TextEncoder().encode("a block that rots on disc"));
  await assert.rejects(api.getIpfsBlock(key, { caller }), { name: "NotFoundError" });
  assert.equal(await store.blocks.has(cid), false, "the corrupt file was removed");
});

Deno.test("getIpfsBlock() limits each caller (an IPv6 client by its /64) and everyone together", async () => {
  await using store = await openStore();
  let now = 1_000_000;
  const api = createIpfsApi({ blocks: store.blocks, config: { trustedProxies: [] } }, {
    perCallerBurst: 3,
    perCallerRate: 1,
    allBurst: 8,
    allRate: 1,
    now: () => now,
  });
  const ask = (remoteAddress: string) => api.getIpfsBlock("bafkqaaa", { caller: { remoteAddress } });
  for (let i = 0; i < 3; i++) await ask("203.0.113.9");
  await assert.rejects(ask("203.0.113.9"), (err: Error & { retryAfter?: number }) => {
    assert.equal(err.name, "IpfsRateLimitError");
    assert.match(err.message, /from you/);
    assert.equal(err.retryAfter, 1);
    return true;
  });
  // One IPv6 /64 is one caller, whichever address of it asks.
  for (let i = 0; i < 3; i++) await ask(`2001:db8:1:2::${i + 1}`);
  await assert.rejects(ask("2001:db8:1:2:ffff::9"), { name: "IpfsRateLimitError" });
  // Everyone together: 6 served so far, 2 more, then the gateway is busy for a new caller too.
  await ask("198.51.100.1");
  await ask("198.51.100.2");
  await assert.rejects(ask("198.51.100.3"), (err: Error) => /busy/.test(err.message));
  now += 2_000;
  await ask("203.0.113.9");
});

Deno.test("getIpfsBlock() takes the client from X-Forwarded-For only behind a trusted proxy", async () => {
  await using store = await openStore();
  const api = createIpfsApi({ blocks: store.blocks, config: { trustedProxies: ["10.0.0.1"] } }, {
    perCallerBurst: 1,
    perCallerRate: 0.001,
  });
  const ask = (remoteAddress: string, forwardedFor: string) =>
    api.getIpfsBlock("bafkqaaa", { caller: { remoteAddress, forwardedFor } });
  // Behind the trusted proxy, each client it names has its own allowance.
  await ask("10.0.0.1", "203.0.113.5");
  await ask("10.0.0.1", "203.0.113.6");
  await assert.rejects(ask("10.0.0.1", "203.0.113.5"), { name: "IpfsRateLimitError" });
  // Anyone else naming clients is one caller: the header is not believed.
  await ask("198.51.100.1", "203.0.113.7");
  await assert.rejects(ask("198.51.100.1", "203.0.113.8"), { name: "IpfsRateLimitError" });
});
