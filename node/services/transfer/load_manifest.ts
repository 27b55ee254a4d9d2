/**
 * The manifest of a dataset for a sale: from the local block store, or else
 * from `peerId` over the chunk protocol, decoded against its CID and kept.
 *
 * ```ts
 * const manifest = await loadManifest({ blocks, transfer }, manifestCid, { peerId, signal });
 * ```
 */
import { CID } from "multiformats/cid";
import { decodeManifest, type Manifest } from "../../../protocol/manifest.ts";
import { type BlockStore, getManifest } from "../blocks/mod.ts";
import type { Transfer } from "./transfer.ts";

export async function loadManifest(
  components: { blocks: BlockStore; transfer: Transfer },
  manifestCid: string,
  options: { peerId: string; signal?: AbortSignal },
): Promise<Manifest> {
  const { blocks, transfer } = components;
  const { peerId, signal } = options;
  const cid = CID.parse(manifestCid);
  if (await blocks.has(cid)) return await getManifest(blocks, cid);
  const session = await transfer.openSession(peerId, { signal });
  try {
    const bytes = await session.get(cid, { signal });
    const { manifest } = await decodeManifest(bytes, cid);
    await blocks.put(bytes, { cid });
    return manifest;
  } finally {
    await session.close().catch(() => {});
  }
}
