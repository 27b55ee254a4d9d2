/**
 * Kademlia-style XOR distance between a dataset and the nodes that may hold
 * it: a dataset's key is sha256 of its manifest CID bytes, a node's key is
 * sha256 of its peer id multihash (as in kad-dht). The nodes closest to a
 * dataset's key are responsible for keeping a replica.
 */
import { peerIdFromString } from "@libp2p/peer-id";
import type { CID } from "multiformats/cid";

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

/** The 32-byte key of a dataset: sha256 of its manifest CID bytes. */
export function datasetKey(cid: CID): Promise<Uint8Array> {
  return sha256(cid.bytes);
}

/** The 32-byte key of a peer: sha256 of its peer id multihash bytes. */
export function peerKey(peerId: string): Promise<Uint8Array> {
  return sha256(peerIdFromString(peerId).toMultihash().bytes);
}

/** `a XOR b`, byte by byte; both must have the same length. */
export function xorDistance(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.byteLength !== b.byteLength) {
    throw new RangeError(`Cannot XOR keys of ${a.byteLength} and ${b.byteLength} bytes`);
  }
  return a.map((x, i) => x ^ b[i]);
}

/** Orders two distances as big-endian unsigned integers. */
export function compareDistance(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** `peerIds` sorted from closest to farthest from `key` (ties broken by peer id). */
export async function sortByDistance(key: Uint8Array, peerIds: Iterable<string>): Promise<string[]> {
  const withDistance = await Promise.all(
    [...new Set(peerIds)].map(async (peerId) => ({ peerId, d: xorDistance(key, await peerKey(peerId)) })),
  );
  withDistance.sort((x, y) => compareDistance(x.d, y.d) || (x.peerId < y.peerId ? -1 : 1));
  return withDistance.map((x) => x.peerId);
}
