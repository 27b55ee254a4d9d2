/**
 * The blocks service: a content-addressed store of encrypted dataset chunks
 * (CIDv1 raw, sha2-256) and their manifests (CIDv1 dag-cbor) under
 * `<dataDir>/blocks/`, and the streaming pipeline that turns a file into
 * them and back.
 *
 * A dataset is split into 1 MiB chunks, each sealed with AES-256-GCM under
 * the dataset key (DEK); the manifest lists the chunk CIDs, the plaintext
 * Merkle root and `keccak256(DEK)`. Replication and fetching over libp2p
 * build on {@link BlockStore} and the {@link BlockGetter} interface.
 *
 * ```ts
 * const store = await openBlockStore(dataDir, { log: logger.forComponent("kosmos:blocks") });
 * const file = await Deno.open("trips.csv");
 * const { manifestCid, manifest, dek } = await prepareDataset(store, file.readable, {
 *   filename: "trips.csv", title: "Taxi trips, May", category: "mobility",
 *   seller: wallet.address, price: 10n ** 18n, licence: "kosmos-research-1",
 * });
 * // … later, a buyer holding the key:
 * const plaintext = decryptDataset(store, await getManifest(store, manifestCid), { dek });
 * await plaintext.pipeTo((await Deno.create("trips.csv")).writable);
 * ```
 *
 * As a node component: `blocks()` in `nodeServices()` opens the store when the
 * node is composed; `close()` ends its worker when the node stops.
 */
import { defineService } from "../../service.ts";
import type { Logger } from "../../log.ts";
import { openBlockStore } from "./store.ts";

export {
  CHUNK_OVERHEAD,
  chunkCid,
  chunkStream,
  type ChunkStreamOptions,
  decryptChunk,
  type DecryptChunkOptions,
  DEK_LENGTH,
  encryptChunk,
  type EncryptChunkOptions,
  type EncryptedChunk,
  generateDek,
  hashChunkLeaf,
  importDek,
  splitStream,
} from "./chunker.ts";
export {
  type DatasetAnalysis,
  DatasetAnalyzer,
  type DatasetAnalyzerInit,
  isIdentifyingColumn,
  isIdentifyingValue,
} from "./analyze.ts";
export {
  type BlockGetter,
  decryptDataset,
  type DecryptDatasetOptions,
  getManifest,
  prepareDataset,
  type PrepareDatasetOptions,
  type PreparedDataset,
} from "./dataset.ts";
export { ChunkDecryptError, CorruptBlockError, DatasetFormatError, DatasetIntegrityError } from "./errors.ts";
export { CsvReader, JsonArrayReader, MAX_RECORD_LENGTH, NdjsonReader } from "./readers.ts";
export {
  BlockStore,
  type BlockStoreInit,
  type BlockStoreUsage,
  matchesCid,
  MAX_BLOCK_SIZE,
  openBlockStore,
  type PutOptions,
} from "./store.ts";

/** The config field the `blocks` factory reads. */
export interface BlocksComponents {
  config: { dataDir: string };
  log: Logger;
}

/** The `blocks` component: the block store under `<dataDir>/blocks/`. */
export function blocks() {
  return defineService(
    "blocks",
    ["config"],
    (c: BlocksComponents) => openBlockStore(c.config.dataDir, { log: c.log }),
  );
}
