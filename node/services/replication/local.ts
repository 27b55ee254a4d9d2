/**
 * What the local block store holds of a dataset: its manifest (else one
 * from a provider), and whether every chunk is there (a node announces a
 * dataset only when it is).
 */
import type { CID } from "multiformats/cid";
import { decodeManifest, type Manifest } from "../../../protocol/manifest.ts";
import type { BlockStore } from "../blocks/mod.ts";
import type { Transfer } from "../transfer/mod.ts";
import type { Logger } from "../../log.ts";
import { timeoutSignal } from "../../signals.ts";

/** The dataset's manifest from the local store, or `undefined` when it is absent or corrupt. */
export async function localManifest(blocks: BlockStore, cid: CID): Promise<Manifest | undefined> {
  try {
    return (await decodeManifest(await blocks.get(cid), cid)).manifest;
  } catch (err) {
    const name = (err as Error).name;
    if (name === "NotFoundError" || name === "CorruptBlockError") return undefined;
    throw err;
  }
}

/** The first chunk of `manifest` missing from the local store, or `undefined` when it is whole. */
export async function missingChunk(blocks: BlockStore, manifest: Manifest): Promise<CID | undefined> {
  for (const chunk of manifest.chunks) if (!(await blocks.has(chunk))) return chunk;
  return undefined;
}

/**
 * The dataset's manifest from the local store, else from the first of
 * `providers` that serves one matching `cid` (not stored), each given
 * `timeout` ms; `undefined` when none does.
 */
export async function findManifest(
  c: { blocks: BlockStore; transfer: Transfer; log: Logger },
  cid: CID,
  options: { providers: string[]; timeout: number; signal: AbortSignal },
): Promise<Manifest | undefined> {
  const local = await localManifest(c.blocks, cid);
  if (local) return local;
  for (const peerId of options.providers) {
    using t = timeoutSignal(options.timeout, options.signal);
    try {
      const session = await c.transfer.openSession(peerId, { signal: t.signal });
      try {
        return (await decodeManifest(await session.get(cid, { signal: t.signal }), cid)).manifest;
      } finally {
        await session.close({ signal: t.signal });
      }
    } catch (err) {
      c.log.debug("failed to get manifest", { peerId, error: err });
    }
  }
  return undefined;
}
