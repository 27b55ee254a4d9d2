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
 * as a {@link CorruptBlockError}, so the caller can fetch it anew. Chunks
 * are read, hashed and (through {@link BlockStore.putChecked}) written on
 * worker threads ({@link BlockIo}), off the event loop that serves and
 * fetches them; the steps and their order are the same.
 */
import { CID } from "multiformats/cid";
import * as Digest from "multiformats/hashes/digest";
import { DAG_CBOR_CODE, RAW_CODE, SHA2_256_CODE } from "../../../protocol/ids.ts";
import { MAX_CHUNK_SIZE, MAX_MANIFEST_BYTES } from "../../../protocol/manifest.ts";
import { NotFoundError } from "../../errors.ts";
import { createLogger, type Logger } from "../../log.ts";
import { CHUNK_OVERHEAD } from "./chunker.ts";
import { CorruptBlockError } from "./errors.ts";
import { sameBytes, writeDurably } from "./durable.ts";
import { BlockIo, MIN_WORKER_BYTES, ownsBuffer, type ReadResult, type WriteStatus } from "./block_io.ts";

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

/** sha2-256 of `bytes` through WebCrypto (on the calling thread). */
async function digestOf(bytes: Uint8Array): Promise<Digest.Digest<typeof SHA2_256_CODE, number>> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Digest.create(SHA2_256_CODE, hash);
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

export interface CheckBlockOptions {
  /**
   * The caller owns `bytes.buffer` and hands it over (it is detached while
   * hashing); use the bytes returned. @default false
   */
  transfer?: boolean;
}

export class BlockStore {
  readonly root: string;
  readonly #log: Logger;
  readonly #io: BlockIo;
  /** Fan-out directories known to exist, so a put skips the `mkdir`. */
  readonly #dirs = new Set<string>();

  constructor(root: string, log: Logger) {
    this.root = root;
    this.#log = log;
    this.#io = new BlockIo(log);
  }

  #dir(key: string): string {
    return `${this.root}/${key.slice(-3, -1)}`;
  }

  #path(cid: CID): string {
    const key = cid.toString();
    return `${this.#dir(key)}/${key}`;
  }

  #tmp(): string {
    return `${this.root}/${TMP_DIR}/${crypto.randomUUID()}`;
  }

  /** Whether a block of this size goes to the block workers. */
  #offload(byteLength: number): boolean {
    return byteLength >= MIN_WORKER_BYTES && this.#io.available;
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
   * `bytes` when they hash to `cid` (sha2-256), else `undefined`. Large
   * blocks are hashed off the event loop; with `transfer`, the returned bytes
   * replace the input.
   */
  async check(
    cid: CID,
    bytes: Uint8Array,
    options: CheckBlockOptions = {},
  ): Promise<Uint8Array<ArrayBuffer> | undefined> {
    const expect = checkCid(cid, "check block").multihash.digest;
    if (this.#offload(bytes.byteLength)) {
      const handOver = options.transfer === true && ownsBuffer(bytes);
      try {
        // A view on a larger buffer, or bytes the caller keeps: copy just the range.
        const { digest, bytes: back } = await this.#io.digest(handOver ? bytes : bytes.slice());
        if (!sameBytes(digest, expect)) return undefined;
        return handOver ? back : bytes as Uint8Array<ArrayBuffer>;
      } catch (err) {
        if (handOver) throw err;
        this.#log.debug("failed to hash in a block worker; hashing inline", { error: err });
      }
    }
    return sameBytes((await digestOf(bytes)).digest, expect) ? bytes as Uint8Array<ArrayBuffer> : undefined;
  }

  /** Stops the block workers (a later call starts them again). */
  close(): void {
    this.#io.close();
  }

  /**
   * Reads a block and checks it against its CID. Throws `NotFoundError` when
   * absent and `CorruptBlockError` (after deleting the file) when it no
   * longer matches.
   */
  async get(cid: CID): Promise<Uint8Array<ArrayBuffer>> {
    const path = this.#path(checkCid(cid, "get block"));
    // Chunks (raw) are large: read and hash them in a block worker; manifests inline.
    if (cid.code === RAW_CODE && this.#io.available) {
      let result: ReadResult | undefined;
      try {
        result = await this.#io.read(path, cid.multihash.digest);
      } catch (err) {
        this.#log.debug("failed to read in a block worker; reading inline", { error: err });
      }
      if (result?.status === "ok") return result.bytes;
      if (result?.status === "missing") throw new NotFoundError(`Cannot get block "${cid}": not stored`);
      if (result?.status === "corrupt") return await this.#corrupt(cid, path, result.size);
    }
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = await Deno.readFile(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new NotFoundError(`Cannot get block "${cid}": not stored`);
      }
      throw err;
    }
    if (!(await matchesCid(cid, bytes))) return await this.#corrupt(cid, path, bytes.byteLength);
    return bytes;
  }

  async #corrupt(cid: CID, path: string, size: number): Promise<never> {
    await Deno.remove(path).catch(() => {});
    this.#log.warn("removed corrupt block", { cid: cid.toString(), bytes: size });
    throw new CorruptBlockError(`Cannot get block "${cid}": stored bytes do not match the CID`, {
      details: { cid: cid.toString() },
    });
  }

  /** Stores `bytes` atomically and returns their CID; storing a block twice is a no-op. */
  async put(bytes: Uint8Array, options: PutOptions = {}): Promise<CID> {
    if (!(bytes instanceof Uint8Array)) throw new TypeError("Cannot put block: expected bytes");
    if (bytes.byteLength > MAX_BLOCK_SIZE) {
      throw new RangeError(`Cannot put block: ${bytes.byteLength} bytes is over ${MAX_BLOCK_SIZE}`);
    }
    if (options.verified && options.cid === undefined) {
      throw new TypeError("Cannot put block: verified needs its cid");
    }
    if (options.cid !== undefined && this.#offload(bytes.byteLength)) {
      // The caller keeps `bytes`: the worker gets a copy (cheaper than hashing here).
      const cid = checkCid(options.cid, "put block");
      try {
        const { status } = await this.#write(cid, bytes.slice(), options.verified === true);
        if (status !== "mismatch") return cid;
        const digest = await digestOf(bytes);
        throw new TypeError(`Cannot put block "${cid}": bytes hash to ${CID.createV1(cid.code, digest)}`);
      } catch (err) {
        if (err instanceof TypeError || this.#io.available) throw err;
        this.#log.debug("failed to write in a block worker; writing inline", { error: err });
      }
    }
    let cid: CID;
    if (options.verified) {
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
    await writeDurably(this.#tmp(), path, dir, bytes);
    return cid;
  }

  /**
   * Checks `bytes` against `cid` and, when they match, stores them durably
   * (as {@link put} does) before resolving, in one step off the event loop
   * for large blocks. The store takes over `bytes.buffer` and hands back the
   * bytes on the same memory, for the caller to reuse; `undefined` means they
   * are not the block and nothing was written. Throws on storage failures.
   */
  async putChecked(cid: CID, bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer> | undefined> {
    if (!(bytes instanceof Uint8Array)) throw new TypeError("Cannot put block: expected bytes");
    if (bytes.byteLength > MAX_BLOCK_SIZE) {
      throw new RangeError(`Cannot put block: ${bytes.byteLength} bytes is over ${MAX_BLOCK_SIZE}`);
    }
    cid = checkCid(cid, "put block");
    if (this.#offload(bytes.byteLength) && ownsBuffer(bytes)) {
      const { status, bytes: back } = await this.#write(cid, bytes, false);
      return status === "mismatch" ? undefined : back;
    }
    const checked = await this.check(cid, bytes);
    if (checked === undefined) return undefined;
    await this.put(checked, { cid, verified: true });
    return checked;
  }

  /** Checks (unless `verified`) and durably writes `bytes`, handed over, in a block worker. */
  async #write(
    cid: CID,
    bytes: Uint8Array<ArrayBuffer>,
    verified: boolean,
  ): Promise<{ status: WriteStatus; bytes: Uint8Array<ArrayBuffer> }> {
    const dir = this.#dir(cid.toString());
    const result = await this.#io.write(bytes, {
      path: this.#path(cid),
      dir,
      tmp: this.#tmp(),
      expect: verified ? undefined : cid.multihash.digest,
    });
    if (result.status !== "mismatch") this.#dirs.add(dir);
    return result;
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
