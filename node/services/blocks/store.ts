/**
 * On-disk content-addressed block store: encrypted chunks (raw) and manifests
 * (dag-cbor), each a file named by its CID under `<dataDir>/blocks/`, fanned
 * out into subdirectories by the two characters before the CID's last one
 * (like IPFS flatfs `next-to-last/2`; the last character carries few bits).
 *
 * Writes are atomic: a temp file in `blocks/.tmp/`, fsync, rename, fsync of
 * the directory. A write killed half way leaves only a temp file, which no
 * read or listing ever sees and the next open removes. Every read hashes the
 * bytes again: a block that no longer matches its CID is deleted and reported
 * as a {@link CorruptBlockError}, so the caller can fetch it anew.
 */
import { CID } from "multiformats/cid";
import * as Digest from "multiformats/hashes/digest";
import { DAG_CBOR_CODE, RAW_CODE, SHA2_256_CODE } from "../../../protocol/ids.ts";
import { MAX_CHUNK_SIZE, MAX_MANIFEST_BYTES } from "../../../protocol/manifest.ts";
import { NotFoundError } from "../../errors.ts";
import { createLogger, type Logger } from "../../log.ts";
import { CHUNK_OVERHEAD } from "./chunker.ts";
import { CorruptBlockError } from "./errors.ts";

/** Largest block accepted: a maximal chunk with its nonce and tag. */
export const MAX_BLOCK_SIZE = Math.max(MAX_CHUNK_SIZE + CHUNK_OVERHEAD, MAX_MANIFEST_BYTES);
const CODECS = [RAW_CODE, DAG_CBOR_CODE];
const TMP_DIR = ".tmp";

export interface BlockStoreInit {
  /** @default a silent logger */
  log?: Logger;
}

export interface PutOptions {
  /**
   * CID the bytes must have (raw or dag-cbor codec, sha2-256); a mismatch
   * throws a `TypeError`. @default the raw CID of the bytes
   */
  cid?: CID;
  /**
   * The caller has just checked `bytes` against `cid` (as a fetch does with
   * what a peer sent), so they are not hashed again; requires `cid`.
   * @default false
   */
  verified?: boolean;
}

export interface BlockStoreUsage {
  blocks: number;
  bytes: number;
}

/** sha2-256 of `bytes` through WebCrypto (off the main thread). */
async function digestOf(bytes: Uint8Array): Promise<Digest.Digest<typeof SHA2_256_CODE, number>> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Digest.create(SHA2_256_CODE, hash);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function checkCid(cid: unknown, what: string): CID {
  const parsed = CID.asCID(cid);
  if (parsed === null) throw new TypeError(`Cannot ${what}: expected a CID`);
  if (parsed.version !== 1 || !CODECS.includes(parsed.code) || parsed.multihash.code !== SHA2_256_CODE) {
    throw new TypeError(`Cannot ${what} "${parsed}": only CIDv1 raw or dag-cbor with sha2-256 are stored`);
  }
  return parsed;
}

/** True when `bytes` hash to `cid` (sha2-256). */
export async function matchesCid(cid: CID, bytes: Uint8Array): Promise<boolean> {
  return sameBytes((await digestOf(bytes)).digest, cid.multihash.digest);
}

export class BlockStore {
  readonly root: string;
  readonly #log: Logger;
  /** Fan-out directories known to exist, so a put skips the `mkdir`. */
  readonly #dirs = new Set<string>();

  constructor(root: string, log: Logger) {
    this.root = root;
    this.#log = log;
  }

  #dir(key: string): string {
    return `${this.root}/${key.slice(-3, -1)}`;
  }

  #path(cid: CID): string {
    const key = cid.toString();
    return `${this.#dir(key)}/${key}`;
  }

  async has(cid: CID): Promise<boolean> {
    try {
      return (await Deno.stat(this.#path(checkCid(cid, "look up block")))).isFile;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return false;
      throw err;
    }
  }

  /**
   * Reads a block and checks it against its CID. Throws `NotFoundError` when
   * absent and `CorruptBlockError` (after deleting the file) when it no
   * longer matches.
   */
  async get(cid: CID): Promise<Uint8Array<ArrayBuffer>> {
    const path = this.#path(checkCid(cid, "get block"));
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = await Deno.readFile(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new NotFoundError(`Cannot get block "${cid}": not stored`);
      }
      throw err;
    }
    if (!(await matchesCid(cid, bytes))) {
      await Deno.remove(path).catch(() => {});
      this.#log.warn("removed corrupt block", { cid: cid.toString(), bytes: bytes.byteLength });
      throw new CorruptBlockError(`Cannot get block "${cid}": stored bytes do not match the CID`, {
        details: { cid: cid.toString() },
      });
    }
    return bytes;
  }

  /** Stores `bytes` atomically and returns their CID; storing a block twice is a no-op. */
  async put(bytes: Uint8Array, options: PutOptions = {}): Promise<CID> {
    if (!(bytes instanceof Uint8Array)) throw new TypeError("Cannot put block: expected bytes");
    if (bytes.byteLength > MAX_BLOCK_SIZE) {
      throw new RangeError(`Cannot put block: ${bytes.byteLength} bytes is over ${MAX_BLOCK_SIZE}`);
    }
    let cid: CID;
    if (options.verified) {
      if (options.cid === undefined) throw new TypeError("Cannot put block: verified needs its cid");
      cid = checkCid(options.cid, "put block");
    } else if (options.cid === undefined) {
      const digest = await digestOf(bytes);
      cid = CID.createV1(RAW_CODE, digest);
    } else {
      cid = checkCid(options.cid, "put block");
      const digest = await digestOf(bytes);
      if (!sameBytes(digest.digest, cid.multihash.digest)) {
        throw new TypeError(`Cannot put block "${cid}": bytes hash to ${CID.createV1(cid.code, digest)}`);
      }
    }
    const path = this.#path(cid);
    if (await this.has(cid)) return cid;
    const dir = this.#dir(cid.toString());
    if (!this.#dirs.has(dir)) {
      await Deno.mkdir(dir, { recursive: true });
      this.#dirs.add(dir);
    }
    const tmp = `${this.root}/${TMP_DIR}/${crypto.randomUUID()}`;
    try {
      const file = await Deno.open(tmp, { write: true, createNew: true });
      try {
        let written = 0;
        while (written < bytes.byteLength) written += await file.write(bytes.subarray(written));
        await file.sync();
      } finally {
        file.close();
      }
      try {
        await Deno.rename(tmp, path);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
        // The directory went away since it was made (e.g. removed by hand): make it again.
        await Deno.mkdir(dir, { recursive: true });
        await Deno.rename(tmp, path);
      }
    } catch (err) {
      await Deno.remove(tmp).catch(() => {});
      throw err;
    }
    await syncDir(dir);
    return cid;
  }

  /** Removes a block; returns whether it was there. */
  async delete(cid: CID): Promise<boolean> {
    try {
      await Deno.remove(this.#path(checkCid(cid, "delete block")));
      return true;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return false;
      throw err;
    }
  }

  /** Every stored CID, in no particular order; temp files and strays are skipped. */
  async *list(): AsyncGenerator<CID> {
    for (const { path } of await this.#files()) yield CID.parse(path.slice(path.lastIndexOf("/") + 1));
  }

  /** Number of blocks and their total size in bytes (walks the directory). */
  async usage(): Promise<BlockStoreUsage> {
    const files = await this.#files();
    return { blocks: files.length, bytes: files.reduce((sum, f) => sum + f.size, 0) };
  }

  async #files(): Promise<{ path: string; size: number }[]> {
    const files: { path: string; size: number }[] = [];
    for await (const dir of Deno.readDir(this.root)) {
      if (!dir.isDirectory || dir.name.length !== 2) continue;
      for await (const entry of Deno.readDir(`${this.root}/${dir.name}`)) {
        if (!entry.isFile || entry.name.slice(-3, -1) !== dir.name) continue;
        try {
          checkCid(CID.parse(entry.name), "list block");
        } catch {
          continue;
        }
        const path = `${this.root}/${dir.name}/${entry.name}`;
        try {
          files.push({ path, size: (await Deno.stat(path)).size });
        } catch (err) {
          if (!(err instanceof Deno.errors.NotFound)) throw err; // deleted meanwhile
        }
      }
    }
    return files;
  }
}

async function syncDir(path: string): Promise<void> {
  try {
    const dir = await Deno.open(path, { read: true });
    try {
      await dir.sync();
    } finally {
      dir.close();
    }
  } catch {
    // Not every platform can fsync a directory; the rename is still atomic.
  }
}

/**
 * Opens (creating when needed) the block store under `<dataDir>/blocks/` and
 * removes temp files left by writes that never finished.
 */
export async function openBlockStore(dataDir: string, init: BlockStoreInit = {}): Promise<BlockStore> {
  if (typeof dataDir !== "string" || dataDir === "") {
    throw new TypeError("Cannot open block store: dataDir is empty");
  }
  const log = init.log ?? createLogger({ level: "silent" }).forComponent("kosmos:blocks");
  const root = `${dataDir.replace(/\/+$/, "")}/blocks`;
  await Deno.mkdir(`${root}/${TMP_DIR}`, { recursive: true });
  let stale = 0;
  for await (const entry of Deno.readDir(`${root}/${TMP_DIR}`)) {
    await Deno.remove(`${root}/${TMP_DIR}/${entry.name}`, { recursive: true }).catch(() => {});
    stale++;
  }
  if (stale > 0) log.info("removed unfinished block writes", { count: stale });
  return new BlockStore(root, log);
}
