/**
 * Datasets end to end on one node: {@link prepareDataset} streams a file
 * through the analyzer and the chunker into the block store and writes its
 * manifest; {@link decryptDataset} streams it back out as plaintext, checking
 * every chunk CID, every chunk's authentication tag, the lengths and the
 * plaintext Merkle root.
 */
import { CID } from "multiformats/cid";
import { keccak256 } from "viem";
import { type Address, type ManifestCid, toAddress } from "../../../protocol/ids.ts";
import {
  type Category,
  decodeManifest,
  DEFAULT_CHUNK_SIZE,
  encodeManifest,
  type Licence,
  type Manifest,
  MAX_CHUNKS,
  type PrivacyReport,
} from "../../../protocol/manifest.ts";
import { type Hash, merkleRoot } from "../../../protocol/merkle.ts";
import { DatasetAnalyzer } from "./analyze.ts";
import { chunkStream, decryptChunk, generateDek, hashChunkLeaf, importDek } from "./chunker.ts";
import { DatasetFormatError, DatasetIntegrityError } from "./errors.ts";
import { type BlockStore, matchesCid } from "./store.ts";

/** Anything that returns a block's bytes by CID: the local store or a network fetcher. */
export interface BlockGetter {
  get(cid: CID, options?: { signal?: AbortSignal }): Promise<Uint8Array>;
}

const DEFAULT_CONTENT_TYPES = {
  csv: "text/csv",
  ndjson: "application/x-ndjson",
  json: "application/json",
} as const;

export interface PrepareDatasetOptions {
  title: string;
  /** @default "" */
  description?: string;
  category: Category;
  seller: Address | string;
  /** Gateway operator credited with 10 % of sales. @default the seller */
  gateway?: Address | string;
  /** Token base units. */
  price: bigint | string;
  /** A licence, or just its id. */
  licence: Licence | string;
  /** Kept in the manifest and used to detect the format. */
  filename?: string;
  /** Used to detect the format. @default from the format, e.g. "text/csv" */
  contentType?: string;
  /** Skips detection. @default detected */
  format?: Manifest["format"];
  /** 32-byte dataset key. @default a fresh random key */
  dek?: Uint8Array;
  /** @default 1 MiB */
  chunkSize?: number;
  /** @default {} */
  privacy?: PrivacyReport;
  /** @default [] */
  consent?: string[];
  /** ms since the epoch. @default Date.now() */
  createdAt?: number;
  signal?: AbortSignal;
}

export interface PreparedDataset {
  manifest: Manifest;
  manifestCid: ManifestCid;
  cid: CID;
  /** The dataset key: keep it secret, it is what a sale delivers. */
  dek: Uint8Array;
}

/**
 * Encrypts `stream` into chunks in `store` while analyzing it, then stores the
 * manifest. Memory stays bounded by a few chunks whatever the input size. On
 * failure the chunks written so far are removed again.
 */
export async function prepareDataset(
  store: BlockStore,
  stream: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  options: PrepareDatasetOptions,
): Promise<PreparedDataset> {
  const seller = toAddress(options.seller);
  const gateway = options.gateway === undefined ? seller : toAddress(options.gateway);
  const dek = options.dek ?? generateDek();
  const key = await importDek(dek);
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const analyzer = new DatasetAnalyzer({
    format: options.format,
    filename: options.filename,
    contentType: options.contentType,
  });
  const decoder = new TextDecoder("utf-8");
  let byteLength = 0;
  async function* analyzed(): AsyncGenerator<Uint8Array> {
    for await (const piece of stream) {
      byteLength += piece.byteLength;
      if (Math.ceil(byteLength / chunkSize) > MAX_CHUNKS) {
        throw new RangeError(`Cannot prepare dataset: more than ${MAX_CHUNKS} chunks of ${chunkSize} bytes`);
      }
      analyzer.push(decoder.decode(piece, { stream: true }));
      yield piece;
    }
    analyzer.push(decoder.decode());
  }

  const chunks: CID[] = [];
  const leaves: Hash[] = [];
  try {
    for await (const chunk of chunkStream(analyzed(), key, { chunkSize, signal: options.signal })) {
      await store.put(chunk.bytes, { cid: chunk.cid, verified: true }); // the chunker just hashed them
      chunks.push(chunk.cid);
      leaves.push(chunk.leaf);
    }
    if (byteLength === 0) throw new DatasetFormatError("Cannot prepare dataset: the input is empty");
    const analysis = analyzer.finish();
    const manifest: Manifest = {
      v: 1,
      title: options.title,
      description: options.description ?? "",
      category: options.category,
      createdAt: options.createdAt ?? Date.now(),
      seller,
      gateway,
      price: options.price.toString(),
      licence: typeof options.licence === "string" ? { id: options.licence } : options.licence,
      format: analysis.format,
      contentType: options.contentType ?? DEFAULT_CONTENT_TYPES[analysis.format],
      chunkSize,
      byteLength,
      chunks,
      merkleRoot: merkleRoot(leaves),
      dekCommit: keccak256(dek),
      rowCount: analysis.rowCount,
      schema: analysis.schema,
      preview: analysis.preview,
      privacy: options.privacy ?? {},
      consent: options.consent ?? [],
    };
    if (options.filename !== undefined) manifest.filename = options.filename;
    if (analysis.timeRange !== undefined) manifest.timeRange = analysis.timeRange;
    const encoded = await encodeManifest(manifest);
    await store.put(encoded.bytes, { cid: encoded.cid });
    return { manifest: (await decodeManifest(encoded.bytes, encoded.cid)).manifest, ...encoded, dek };
  } catch (err) {
    for (const cid of chunks) await store.delete(cid).catch(() => {});
    throw err;
  }
}

/** Reads and validates a stored manifest. */
export async function getManifest(blocks: BlockGetter, cid: CID | ManifestCid): Promise<Manifest> {
  const parsed = typeof cid === "string" ? CID.parse(cid) : cid;
  return (await decodeManifest(await blocks.get(parsed), parsed)).manifest;
}

export interface DecryptDatasetOptions {
  /** The 32-byte dataset key; must match the manifest's `dekCommit`. */
  dek: Uint8Array;
  /** Chunks fetched and decrypted ahead of the reader. @default 4 */
  concurrency?: number;
  signal?: AbortSignal;
}

/**
 * Plaintext of a dataset as a stream. Throws a {@link DatasetIntegrityError}
 * at once when the key does not match `manifest.dekCommit`; the stream errors
 * with one when a chunk does not match its CID or length, and before its last
 * bytes when the plaintext Merkle root differs from the manifest's.
 */
export function decryptDataset(
  blocks: BlockGetter,
  manifest: Manifest,
  options: DecryptDatasetOptions,
): ReadableStream<Uint8Array> {
  const { dek, signal } = options;
  if (!(dek instanceof Uint8Array) || keccak256(dek) !== manifest.dekCommit) {
    throw new DatasetIntegrityError(
      "Cannot decrypt dataset: the key does not match the manifest's dekCommit",
      {
        details: { dekCommit: manifest.dekCommit },
      },
    );
  }
  const concurrency = options.concurrency ?? 4;
  const total = manifest.chunks.length;
  const leaves: Hash[] = [];
  const pending: Promise<Uint8Array>[] = [];
  let keyPromise: Promise<CryptoKey> | undefined;
  let next = 0;

  async function open(index: number): Promise<Uint8Array> {
    const cid = manifest.chunks[index];
    const key = await (keyPromise ??= importDek(dek));
    const sealed = await blocks.get(cid, { signal });
    if (!(await matchesCid(cid, sealed))) {
      throw new DatasetIntegrityError(`Cannot decrypt dataset: chunk ${index} does not match "${cid}"`);
    }
    const plain = await decryptChunk(key, sealed, { index });
    const expected = index < total - 1
      ? manifest.chunkSize
      : manifest.byteLength - manifest.chunkSize * (total - 1);
    if (plain.byteLength !== expected) {
      throw new DatasetIntegrityError(
        `Cannot decrypt dataset: chunk ${index} has ${plain.byteLength} bytes, not ${expected}`,
      );
    }
    return plain;
  }

  function fill(): void {
    while (next < total && pending.length < concurrency) {
      const opening = open(next++);
      opening.catch(() => {}); // awaited in order by pull()
      pending.push(opening);
    }
  }

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      signal?.throwIfAborted();
      fill();
      const plain = await pending.shift()!;
      leaves.push(await hashChunkLeaf(plain));
      if (leaves.length === total) {
        const root = merkleRoot(leaves);
        if (root !== manifest.merkleRoot) {
          throw new DatasetIntegrityError(
            "Cannot decrypt dataset: the plaintext Merkle root differs from the manifest's",
            {
              details: { expected: manifest.merkleRoot, actual: root },
            },
          );
        }
        controller.enqueue(plain);
        controller.close();
        return;
      }
      controller.enqueue(plain);
    },
    cancel() {
      next = total;
      pending.length = 0;
    },
  }, { highWaterMark: 0 });
}
