import assert from "node:assert/strict";
import { CID } from "multiformats/cid";
import * as Digest from "multiformats/hashes/digest";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { compareDistance, datasetKey, peerKey, sortByDistance, xorDistance } from "./distance.ts";

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

function toBigInt(bytes: Uint8Array): bigint {
  return bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

Deno.test("datasetKey() and peerKey() hash the CID bytes and the peer id multihash with sha256", async () => {
  const cid = CID.createV1(0x71, Digest.create(0x12, crypto.getRandomValues(new Uint8Array(32))));
  assert.deepEqual(await datasetKey(cid), await sha256(cid.bytes));
  const peerId = peerIdFromPrivateKey(await generateKeyPair("Ed25519"));
  assert.deepEqual(await peerKey(peerId.toString()), await sha256(peerId.toMultihash().bytes));
});

Deno.test("xorDistance() and compareDistance() order keys as big-endian XOR distances", () => {
  assert.deepEqual(xorDistance(Uint8Array.of(0b1010, 1), Uint8Array.of(0b0110, 1)), Uint8Array.of(0b1100, 0));
  assert.ok(compareDistance(Uint8Array.of(0, 255), Uint8Array.of(1, 0)) < 0);
  assert.equal(compareDistance(Uint8Array.of(3, 3), Uint8Array.of(3, 3)), 0);
  assert.throws(() => xorDistance(new Uint8Array(2), new Uint8Array(3)), RangeError);
});

Deno.test("sortByDistance() puts peers in the order of their XOR distance to the key", async () => {
  const peers = await Promise.all(
    Array.from({ length: 12 }, async () => peerIdFromPrivateKey(await generateKeyPair("Ed25519")).toString()),
  );
  const key = crypto.getRandomValues(new Uint8Array(32));
  const sorted = await sortByDistance(key, [...peers, peers[0]]);
  assert.equal(sorted.length, peers.length);
  const distances = await Promise.all(sorted.map(async (p) => toBigInt(xorDistance(key, await peerKey(p)))));
  for (let i = 1; i < distances.length; i++) assert.ok(distances[i - 1] < distances[i]);
});
