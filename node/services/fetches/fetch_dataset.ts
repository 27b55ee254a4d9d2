/**
 * {@link fetchDataset}: downloads a dataset's manifest and chunks from the
 * peers that provide it, several requests in flight at once, spread across
 * providers and pipelined on one stream per provider (see
 * {@link SessionPool}). Providers are found by the dataset's manifest CID
 * (the only provider record a holder puts into the DHT) and asked for every
 * chunk. Every block is checked against its CID before it is stored; a
 * provider that serves a wrong block is banned and the block is taken from
 * another. Chunks already in the local store are never requested again, so a
 * fetch that was interrupted simply runs again to finish.
 */
import { CID } from "multiformats/cid";
import { type ManifestCid, toManifestCid } from "../../../protocol/ids.ts";
import { decodeManifest, type Manifest } from "../../../protocol/manifest.ts";
import { type BlockStore, CHUNK_OVERHEAD } from "../blocks/mod.ts";
import type { P2P } from "../p2p/mod.ts";
import type { Logger } from "../../log.ts";
import { KosmosError } from "../../errors.ts";
import { second } from "../../constants.ts";
import { timeoutSignal } from "../../signals.ts";
import type { ChunkSession, Transfer } from "../transfer/mod.ts";
import type { ProviderScores } from "./scores.ts";
import { SessionPool } from "./sessions.ts";

/** Local chunk lookups run at once when a fetch starts. */
const HAS_BATCH = 64;
/**
 * Known providers (from `providers`) under which a fetch also looks the
 * dataset up in the DHT from the start; with as many, it looks up only once
 * they all fail.
 */
const ENOUGH_PROVIDERS = 3;

/** No reachable provider has a block the dataset needs. */
export class NoProviderError extends KosmosError {
  override name = "NoProviderError";
}

export interface FetchDatasetComponents {
  transfer: Transfer;
  blocks: BlockStore;
  p2p: P2P;
  scores: ProviderScores;
  log: Logger;
}

export interface DatasetProgress {
  chunksVerified: number;
  chunksTotal: number;
  /** Ciphertext bytes of the verified chunks held locally. */
  bytes: number;
  /** Peers that served verified blocks during this fetch, sorted. */
  providers: string[];
  /** Peers penalised during this fetch (corrupt, missing or failed), sorted. */
  penalised: string[];
}

export interface FetchDatasetOptions {
  signal?: AbortSignal;
  /** Called after the manifest and after every verified chunk. */
  onProgress?: (progress: DatasetProgress) => void;
  /**
   * Peer ids known to provide the dataset, tried alongside the DHT's answers;
   * with three or more, the DHT is asked only once they all fail. @default []
   */
  providers?: string[];
  /** Chunk requests in flight at once, spread across providers. @default 16 */
  concurrency?: number;
  /** ms one DHT provider lookup may take. @default 10 s */
  findTimeout?: number;
  /** Providers taken from one DHT lookup. @default 20 */
  maxProviders?: number;
}

export interface FetchedDataset {
  manifest: Manifest;
  progress: DatasetProgress;
}

/** Ciphertext length of chunk `index` of `manifest`. */
export function chunkBytes(manifest: Manifest, index: number): number {
  const last = manifest.chunks.length - 1;
  const plain = index < last ? manifest.chunkSize : manifest.byteLength - manifest.chunkSize * last;
  return plain + CHUNK_OVERHEAD;
}

/** Known providers of a dataset, filled from hints and DHT lookups running in the background. */
class ProviderPool {
  readonly known = new Set<string>();
  #searching = 0;
  #waiters: (() => void)[] = [];

  constructor(
    readonly c: FetchDatasetComponents,
    readonly selfId: string,
    readonly options: { findTimeout: number; maxProviders: number; signal?: AbortSignal },
  ) {}

  get searching(): boolean {
    return this.#searching > 0;
  }

  add(peerId: string): void {
    if (peerId === this.selfId || this.known.has(peerId)) return;
    this.known.add(peerId);
    this.#notify();
  }

  search(cid: CID): void {
    this.#searching++;
    void (async () => {
      using t = timeoutSignal(this.options.findTimeout, this.options.signal);
      let found = 0;
      try {
        for await (
          const provider of this.c.p2p.libp2p.contentRouting.findProviders(cid, { signal: t.signal })
        ) {
          this.add(provider.id.toString());
          if (++found >= this.options.maxProviders) break;
        }
      } catch (err) {
        if (!this.options.signal?.aborted) {
          this.c.log.debug("failed to find providers", { cid: cid.toString(), error: err });
        }
      } finally {
        this.#searching--;
        this.#notify();
      }
    })();
  }

  /** Resolves when a provider is added or a search ends. */
  changed(signal?: AbortSignal): Promise<void> {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const onAbort = () => reject(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#waiters.push(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    return promise;
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/**
 * Fetches the dataset named by `manifestCid` into the local block store and
 * returns its manifest. Throws {@link NoProviderError} when some block cannot
 * be had from any reachable provider, or the signal's reason when aborted.
 */
export async function fetchDataset(
  c: FetchDatasetComponents,
  manifestCid: ManifestCid | string,
  options: FetchDatasetOptions = {},
): Promise<FetchedDataset> {
  const cid = CID.parse(toManifestCid(manifestCid));
  const { onProgress } = options;
  // Aborted by the caller, or by the first worker that cannot get its chunk (the others stop too).
  const failed = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, failed.signal]) : failed.signal;
  const concurrency = options.concurrency ?? 16;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(
      `Cannot fetch dataset "${cid}": concurrency ${concurrency} must be a positive integer`,
    );
  }
  const { blocks, transfer, scores, log } = c;
  const selfId = c.p2p.peerId.toString();
  const pool = new ProviderPool(c, selfId, {
    findTimeout: options.findTimeout ?? 10 * second,
    maxProviders: options.maxProviders ?? 20,
    signal,
  });
  for (const peerId of options.providers ?? []) pool.add(peerId);
  const excluded = new Set<string>();
  const errors = new Map<string, number>();
  const active = new Map<string, number>();
  const served = new Set<string>();
  const penalised = new Set<string>();
  let searchedDataset = false;
  /** Looks the dataset's providers up in the DHT, once per fetch. */
  const searchDataset = () => {
    if (searchedDataset) return;
    searchedDataset = true;
    pool.search(cid);
  };

  const penalise = (peerId: string, penalty: "corrupt" | "error" | "missing") => {
    scores.penalise(peerId, penalty);
    penalised.add(peerId);
    if (penalty === "corrupt") excluded.add(peerId);
    if (penalty === "error") {
      const n = (errors.get(peerId) ?? 0) + 1;
      errors.set(peerId, n);
      if (n >= 3) excluded.add(peerId);
    }
  };

  const pick = (tried: Set<string>): string | undefined => {
    let best: string | undefined;
    let bestKey: [number, number] = [Infinity, -Infinity];
    for (const peerId of pool.known) {
      if (tried.has(peerId) || excluded.has(peerId) || scores.isBanned(peerId)) continue;
      const key: [number, number] = [active.get(peerId) ?? 0, scores.getScore(peerId)];
      if (key[0] < bestKey[0] || (key[0] === bestKey[0] && key[1] > bestKey[1])) {
        best = peerId;
        bestKey = key;
      }
    }
    return best;
  };

  /**
   * Gets one block from some provider, checked by `verify` (which returns the
   * bytes to keep, or `undefined` when they are not the block, and may store
   * them); tries the others on failure.
   */
  const getBlock = async (
    blockCid: CID,
    sessions: SessionPool,
    verify: (bytes: Uint8Array<ArrayBuffer>) => Promise<Uint8Array<ArrayBuffer> | undefined>,
    alloc?: (byteLength: number) => Uint8Array<ArrayBuffer>,
  ): Promise<Uint8Array<ArrayBuffer>> => {
    const tried = new Set<string>();
    while (true) {
      signal?.throwIfAborted();
      const peerId = pick(tried);
      if (peerId === undefined) {
        if (pool.searching) {
          await pool.changed(signal);
          continue;
        }
        if (!searchedDataset) {
          searchDataset();
          continue;
        }
        throw new NoProviderError(
          `Cannot fetch "${blockCid}" of dataset "${cid}": no reachable provider has it`,
          {
            details: { manifestCid: cid.toString(), cid: blockCid.toString(), tried: [...tried] },
          },
        );
      }
      active.set(peerId, (active.get(peerId) ?? 0) + 1);
      try {
        let session: ChunkSession;
        try {
          session = await sessions.take(peerId, { signal });
        } catch (err) {
          if (signal?.aborted) throw signal.reason;
          log.debug("failed to reach provider", { peerId, error: err });
          scores.penalise(peerId, "error");
          penalised.add(peerId);
          excluded.add(peerId);
          continue;
        }
        let bytes: Uint8Array<ArrayBuffer>;
        try {
          bytes = await session.get(blockCid, { signal, alloc });
        } catch (err) {
          if (signal?.aborted) throw signal.reason;
          // An earlier request on the shared session failed, and was blamed for it: ask again.
          if ((err as Error).name === "SessionClosedError") continue;
          tried.add(peerId);
          if ((err as Error).name === "BlockNotFoundError") {
            penalise(peerId, "missing");
          } else {
            log.debug("failed to get block from provider", { peerId, cid: blockCid.toString(), error: err });
            penalise(peerId, "error");
          }
          continue;
        } finally {
          // Free for the next request (a failed session is closed, and dropped) while this block is checked.
          sessions.give(session);
        }
        // Errors here are this node's (e.g. a full disk), not the provider's: they end the fetch.
        const checked = await verify(bytes);
        if (checked === undefined) {
          log.warn("rejected corrupt block from provider", { peerId, cid: blockCid.toString() });
          tried.add(peerId);
          penalise(peerId, "corrupt");
          sessions.abortIdle(peerId, new Error("served a corrupt block"));
          continue;
        }
        scores.reward(peerId);
        served.add(peerId);
        return checked;
      } finally {
        active.set(peerId, active.get(peerId)! - 1);
      }
    }
  };

  try {
    return await fetchAll();
  } finally {
    // Ends the background provider lookups too.
    failed.abort(new NoProviderError("fetch finished"));
  }

  async function fetchAll(): Promise<FetchedDataset> {
    // The manifest: local when this is a resumed fetch, else from a provider.
    let manifest: Manifest;
    if (await blocks.has(cid)) {
      try {
        manifest = (await decodeManifest(await blocks.get(cid), cid)).manifest;
      } catch (err) {
        if ((err as Error).name !== "CorruptBlockError") throw err;
        manifest = await fetchManifest();
      }
    } else {
      manifest = await fetchManifest();
    }
    async function fetchManifest(): Promise<Manifest> {
      if (pool.known.size < ENOUGH_PROVIDERS) searchDataset();
      const sessions = new SessionPool(transfer);
      try {
        const bytes = await getBlock(cid, sessions, async (b) => {
          try {
            await decodeManifest(b, cid);
            return b;
          } catch {
            return undefined;
          }
        });
        await blocks.put(bytes, { cid, verified: true });
        return (await decodeManifest(bytes, cid)).manifest;
      } finally {
        await sessions.closeAll();
      }
    }

    const total = manifest.chunks.length;
    const queue: number[] = [];
    let verified = 0;
    let bytes = 0;
    // Which chunks are already here (a resumed fetch), looked up a batch at a time.
    for (let start = 0; start < total; start += HAS_BATCH) {
      const indexes = Array.from({ length: Math.min(HAS_BATCH, total - start) }, (_, k) => start + k);
      const present = await Promise.all(indexes.map((i) => blocks.has(manifest.chunks[i])));
      for (const [k, i] of indexes.entries()) {
        if (present[k]) {
          verified++;
          bytes += chunkBytes(manifest, i);
        } else {
          queue.push(i);
        }
      }
    }
    const progress = (): DatasetProgress => ({
      chunksVerified: verified,
      chunksTotal: total,
      bytes,
      providers: [...served].sort(),
      penalised: [...penalised].sort(),
    });
    onProgress?.(progress());
    if (queue.length > 0) {
      log.info("fetching dataset", { manifestCid: cid.toString(), missing: queue.length, total });
      if (pool.known.size < ENOUGH_PROVIDERS) searchDataset();
    }

    // Chunks are received into buffers recycled once stored: fresh 1 MiB
    // allocations cost page faults and zeroing on every chunk.
    const spare: Uint8Array<ArrayBuffer>[] = [];
    const alloc = (n: number) => {
      const i = spare.findIndex((b) => b.byteLength === n);
      return i >= 0 ? spare.splice(i, 1)[0] : new Uint8Array(n);
    };
    const sessions = new SessionPool(transfer);
    // A chunk nobody serves stops the fetch from starting more chunks, but the
    // ones already under way finish and are kept: a fetch that is retried (or
    // a dispute's evidence, which names the first chunk missing) then sees
    // every chunk that could be had, not those a quick refusal cut short.
    let unavailable: NoProviderError | undefined;
    const worker = async () => {
      try {
        while (queue.length > 0 && !unavailable) {
          const index = queue.shift()!;
          const chunkCid = manifest.chunks[index];
          // Checked against its CID and written durably in one step, off the
          // event loop; only then does the chunk count as verified.
          let data: Uint8Array<ArrayBuffer>;
          try {
            data = await getBlock(chunkCid, sessions, (b) => blocks.putChecked(chunkCid, b), alloc);
          } catch (err) {
            if (!(err instanceof NoProviderError) || signal.aborted) throw err;
            unavailable ??= err;
            return;
          }
          verified++;
          bytes += data.byteLength;
          if (spare.length < concurrency) spare.push(data);
          onProgress?.(progress());
        }
      } catch (err) {
        failed.abort(err);
        throw err;
      }
    };
    const workers = Array.from({ length: Math.min(concurrency, queue.length) }, worker);
    const results = await Promise.allSettled(workers);
    await sessions.closeAll();
    const failure = results.find((r) => r.status === "rejected");
    if (failure) throw (failure as PromiseRejectedResult).reason;
    if (unavailable) throw unavailable;
    return { manifest, progress: progress() };
  }
}
