/**
 * Moving encrypted blocks between nodes: the chunk protocol
 * (`/kosmos/chunks/1.0.0`, one CID per request, status and bytes per
 * response, served from the block store which re-checks every CID; codecs in
 * `protocol/chunks.ts`), and {@link loadManifest}, a dataset's manifest from
 * the local store or one peer. Downloading whole datasets is `fetches/`.
 *
 * ```ts
 * const transfer = createTransfer({ p2p, blocks, log });
 * await transfer.start();
 * const session = await transfer.openSession(peerId, { signal });
 * const bytes = await session.get(cid, { signal });
 * ```
 */
import { defineService, type ServiceFactory } from "../../service.ts";
import { createTransfer, type Transfer, type TransferComponents, type TransferInit } from "./transfer.ts";

export { loadManifest } from "./load_manifest.ts";
export {
  BlockNotFoundError,
  type ChunkGetOptions,
  ChunkSession,
  createTransfer,
  type OpenSessionOptions,
  ProviderError,
  type ServedDetail,
  SessionClosedError,
  Transfer,
  type TransferComponents,
  type TransferInit,
} from "./transfer.ts";
export {
  decodeRequest,
  encodeRequest,
  MAX_REQUEST_BYTES,
  OP_GET,
  OP_HAS,
  Status,
} from "../../../protocol/chunks.ts";

/** The `transfer` service: serves and opens chunk protocol streams. */
export function transfer(
  init: TransferInit = {},
): ServiceFactory<"transfer", TransferFactoryComponents, Transfer> {
  return defineService<"transfer", TransferFactoryComponents, Transfer>(
    "transfer",
    ["p2p", "blocks"],
    (c) => createTransfer(c, init),
  );
}

type TransferFactoryComponents = Omit<TransferComponents, "log">;
