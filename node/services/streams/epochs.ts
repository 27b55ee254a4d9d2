/**
 * The gateway's epochs. For every stream this node publishes, {@link EpochWriter}:
 * - hands the readings the gateway accepted to the live publisher (`live.ts`);
 * - at the start of each epoch gossips `EpochOpened { streamId, epoch, dekCommit: keccak256(DEK_e) }`, signed
 *   by the gateway's wallet, on the stream's topic (again every `reopenInterval`, for late subscribers);
 * - once an epoch's end plus `sealGraceMs` has passed (from then the gateway refuses its readings,
 *   `epoch-sealed`), seals it: the epoch file (NDJSON of its readings sorted by (ts, sensorId)) is
 *   encrypted under `DEK_e` into a small dataset in the block store (not listed, not in the catalog; its
 *   public manifest keeps no preview rows), which is provided in the DHT (replicas follow: every node that
 *   stores the EpochSealed watches it); the signed `EpochSealed { manifestCid, contentCid, rows, dekCommit }`
 *   is stored and gossiped on the `streams` topic; the file's `contentCid` goes to the anchor. An empty epoch is sealed too (rows 0, no dataset),
 *   so a buyer can tell "no data" from "missing".
 *
 * Sealing is durable: an epoch counts as sealed once its EpochSealed is stored, and after a restart the
 * writer seals every epoch it missed, in order, from the stream's first one. Only then (the dataset in the
 * local block store, the record in SQLite) are the gateway's raw readings of the epoch deleted
 * (`pruneReadings`); a restart between the two deletes them on the first check after it.
 *
 * ```ts
 * const writer = new EpochWriter({ catalog, blocks, replication, p2p, identity, log,
 *   readEpoch: (id, e) => readings.listEpoch(id, e), pruneReadings: (id, e) => readings.deleteThrough(id, e),
 *   anchor });
 * await writer.start();
 * writer.onAccepted(streamId, readings); // the gateway's callback, after commit
 * writer.sealedBefore(streamId);         // ms: readings before it are in a sealed epoch
 * await writer.sealedReadings(streamId, e); // a sealed epoch's readings, from its local dataset
 * ```
 */
import { type Hex, hexToBytes } from "viem";
import type { LocalAccount } from "viem/accounts";
import {
  contentCidOf,
  decodeEpochFile,
  encodeEpochFile,
  epochDekCommit,
  epochEnd,
  epochOf,
  signEpochOpened,
  signEpochSealed,
  type StreamReading,
} from "../../../protocol/streams.ts";
import { CID } from "multiformats/cid";
import { encodeManifest, type Manifest } from "../../../protocol/manifest.ts";
import { type BlockStore, decryptDataset, getManifest, prepareDataset } from "../blocks/mod.ts";
import type { P2P } from "../p2p/mod.ts";
import type { Logger } from "../../log.ts";
import { second } from "../../constants.ts";
import type { SealedEpochRow, StreamCatalog } from "./catalog.ts";
import { LivePublisher, type LivePublisherInit } from "./live.ts";

export interface EpochWriterComponents {
  catalog: Pick<
    StreamCatalog,
    "listStreams" | "manifestOf" | "epochKey" | "publishSealed" | "getEpoch" | "isOwn" | "store"
  >;
  blocks: BlockStore;
  /** Sealed epoch datasets are provided in the DHT. */
  replication: { provideDataset(manifestCid: string, options?: { signal?: AbortSignal }): Promise<void> };
  p2p: Pick<P2P, "publish">;
  identity: { account: Pick<LocalAccount, "address" | "signMessage"> };
  log: Logger;
  /** The gateway's committed readings of an epoch of a stream (any order). */
  readEpoch(streamId: string, epoch: number): StreamReading[];
  /** Deletes the gateway's raw readings of a stream's epochs up to `epoch` (all sealed). @default none */
  pruneReadings?(streamId: string, epoch: number): unknown;
  /** Takes every sealed epoch file's content CID into the next anchored batch. */
  anchor?: { add(cid: string): unknown };
}

export interface EpochWriterInit extends LivePublisherInit {
  /** ms after an epoch's end before it is sealed (the gateway refuses its readings from then). @default 2000 */
  sealGraceMs?: number;
  /** ms between checks for epochs to open and seal. @default 250 */
  tickInterval?: number;
  /** ms between repeats of the current epoch's EpochOpened. @default 30 s */
  reopenInterval?: number;
  /** Most epochs sealed per check (a restart after a long stop catches up over several). @default 8 */
  maxSealsPerTick?: number;
}

/** Opens, batches live readings of, and seals the epochs of the streams this node is the gateway of. */
export class EpochWriter {
  readonly #c: EpochWriterComponents;
  readonly #init: Required<Omit<EpochWriterInit, keyof LivePublisherInit>>;
  readonly live: LivePublisher;
  #timer?: ReturnType<typeof setInterval>;
  #ticking?: Promise<void>;
  #opened = new Map<string, { epoch: number; at: number }>();
  /** Streams whose readings of the epochs sealed before this start were pruned. */
  #pruned = new Set<string>();
  #background = new Set<Promise<void>>();
  #running = false;
  /** Epochs sealed and opened since start. */
  readonly stats = { sealed: 0, opened: 0 };

  constructor(components: EpochWriterComponents, init: EpochWriterInit = {}) {
    this.#c = components;
    this.#init = {
      sealGraceMs: init.sealGraceMs ?? 2 * second,
      tickInterval: init.tickInterval ?? 250,
      reopenInterval: init.reopenInterval ?? 30 * second,
      maxSealsPerTick: init.maxSealsPerTick ?? 8,
    };
    this.live = new LivePublisher({
      p2p: components.p2p,
      log: components.log,
      epochKey: (streamId, epoch) => components.catalog.epochKey(streamId, epoch),
      epochSeconds: (streamId) => this.#manifest(streamId).epochSeconds,
    }, { flushInterval: init.flushInterval, maxBatch: init.maxBatch });
  }

  get sealGraceMs(): number {
    return this.#init.sealGraceMs;
  }

  start(): Promise<void> {
    this.#running = true;
    this.#pruned.clear();
    this.#timer = setInterval(() => void this.tick(), this.#init.tickInterval);
    void this.tick();
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.#running = false;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#ticking;
    await this.live.stop();
    await Promise.allSettled([...this.#background]);
  }

  /** The gateway's callback: readings of an own stream, committed, sorted by ts. */
  onAccepted(streamId: string, readings: StreamReading[]): void {
    if (this.#running) this.live.push(streamId, readings);
  }

  /** First ms not in a sealed epoch of the stream (readings before it are refused), or null when none is. */
  sealedBefore(streamId: string): number | null {
    const last = this.#c.catalog.store.lastSealedEpoch(streamId);
    if (last === undefined) return null;
    return epochEnd(last, this.#manifest(streamId).epochSeconds);
  }

  /** Opens the current epochs and seals the ended ones, once; a check already running is joined. */
  tick(): Promise<void> {
    if (this.#ticking) return this.#ticking;
    this.#ticking = this.#tick().finally(() => this.#ticking = undefined);
    return this.#ticking;
  }

  async #tick(): Promise<void> {
    const { catalog, log } = this.#c;
    for (const row of catalog.listStreams({ mine: true, limit: 10_000 })) {
      if (!this.#running) return;
      if (!catalog.isOwn(row.streamId)) continue;
      try {
        this.#pruneOnce(row.streamId);
        await this.#open(row.streamId);
        await this.#sealDue(row.streamId);
      } catch (err) {
        log.warn("failed to open or seal epochs", { streamId: row.streamId, error: err });
      }
    }
  }

  async #open(streamId: string): Promise<void> {
    const now = Date.now();
    const epoch = epochOf(now, this.#manifest(streamId).epochSeconds);
    const last = this.#opened.get(streamId);
    if (last?.epoch === epoch && now - last.at < this.#init.reopenInterval) return;
    this.#opened.set(streamId, { epoch, at: now });
    const key = await this.#c.catalog.epochKey(streamId, epoch);
    const opened = await signEpochOpened(this.#c.identity.account, {
      v: 1,
      type: "epoch-opened",
      streamId,
      epoch,
      dekCommit: epochDekCommit(key),
    });
    try {
      await this.live.publishOpened(opened);
      if (last?.epoch !== epoch) this.stats.opened++;
    } catch (err) {
      this.#c.log.debug("failed to gossip epoch opened", { streamId, epoch, error: err });
    }
  }

  async #sealDue(streamId: string): Promise<void> {
    const manifest = this.#manifest(streamId);
    const last = this.#c.catalog.store.lastSealedEpoch(streamId);
    let epoch = last === undefined ? epochOf(manifest.createdAt, manifest.epochSeconds) : last + 1;
    for (let n = 0; n < this.#init.maxSealsPerTick && this.#running; n++, epoch++) {
      if (epochEnd(epoch, manifest.epochSeconds) + this.#init.sealGraceMs > Date.now()) return;
      await this.sealEpoch(streamId, epoch);
    }
  }

  /**
   * Seals one epoch of an own stream (see the module doc) and returns its stored record; an epoch sealed
   * already returns the stored one. Call only for an epoch whose end plus the grace has passed.
   */
  async sealEpoch(streamId: string, epoch: number): Promise<SealedEpochRow> {
    const { catalog, blocks, identity, log } = this.#c;
    const known = catalog.getEpoch(streamId, epoch);
    if (known) return known;
    const manifest = this.#manifest(streamId);
    const readings = this.#c.readEpoch(streamId, epoch);
    const bytes = encodeEpochFile(readings);
    const contentCid = contentCidOf(bytes);
    const key: Hex = await catalog.epochKey(streamId, epoch);
    let manifestCid: string | null = null;
    if (readings.length > 0) {
      const prepared = await prepareDataset(blocks, ReadableStream.from([bytes]), {
        dek: hexToBytes(key),
        format: "ndjson",
        contentType: "application/x-ndjson",
        filename: `epoch-${epoch}.ndjson`,
        title: `${manifest.title} epoch ${epoch}`.slice(0, 200),
        category: "sensors",
        seller: manifest.owner,
        gateway: manifest.gateway,
        price: "0",
        licence: manifest.licence,
        createdAt: epochEnd(epoch, manifest.epochSeconds),
      });
      manifestCid = await this.#withoutPreview(prepared.manifest, prepared.cid);
    }
    const sealed = await signEpochSealed(identity.account, {
      v: 1,
      type: "epoch-sealed",
      streamId,
      epoch,
      manifestCid,
      contentCid,
      rows: readings.length,
      dekCommit: epochDekCommit(key),
      gateway: identity.account.address,
    });
    const row = await catalog.publishSealed(sealed);
    this.stats.sealed++;
    log.info("sealed epoch", {
      streamId,
      epoch,
      rows: readings.length,
      bytes: bytes.byteLength,
      manifestCid,
    });
    this.#prune(streamId, epoch);
    if (manifestCid !== null) this.#provide(streamId, epoch, manifestCid);
    try {
      await this.#c.anchor?.add(contentCid);
    } catch (err) {
      log.warn("failed to queue epoch for anchoring", { streamId, epoch, error: err });
    }
    return row;
  }

  /**
   * The readings of a sealed epoch of an own stream, from its dataset in the local block store (the raw
   * readings are deleted once it is sealed). Throws a `RangeError` for an epoch not sealed here.
   */
  async sealedReadings(
    streamId: string,
    epoch: number,
    options: { signal?: AbortSignal } = {},
  ): Promise<StreamReading[]> {
    const row = this.#c.catalog.getEpoch(streamId, epoch);
    if (!row) throw new RangeError(`Cannot read epoch ${epoch} of "${streamId}": it is not sealed here`);
    if (row.manifestCid === null) return [];
    const key = await this.#c.catalog.epochKey(streamId, epoch);
    const dataset = await getManifest(this.#c.blocks, CID.parse(row.manifestCid));
    const plain = decryptDataset(this.#c.blocks, dataset, { dek: hexToBytes(key), signal: options.signal });
    const bytes = new Uint8Array(await new Response(plain).arrayBuffer());
    return decodeEpochFile(bytes, this.#manifest(streamId).schema);
  }

  /** Deletes the raw readings of the epochs sealed before this start (a restart after a seal, before its prune). */
  #pruneOnce(streamId: string): void {
    if (this.#pruned.has(streamId)) return;
    this.#pruned.add(streamId);
    const last = this.#c.catalog.store.lastSealedEpoch(streamId);
    if (last !== undefined) this.#prune(streamId, last);
  }

  /** Deletes the raw readings through a sealed epoch; a failure leaves them for the next seal. */
  #prune(streamId: string, epoch: number): void {
    try {
      this.#c.pruneReadings?.(streamId, epoch);
    } catch (err) {
      this.#c.log.warn("failed to delete sealed readings", { streamId, epoch, error: err });
    }
  }

  /**
   * Replaces the prepared manifest by one without the plaintext preview rows and time range the analyzer
   * put in (a manifest is public: anyone may fetch it, while the readings are what is sold). Returns the
   * new manifest CID.
   */
  async #withoutPreview(manifest: Manifest, cid: CID): Promise<string> {
    const { preview: _preview, timeRange: _range, ...rest } = manifest;
    const encoded = await encodeManifest({ ...rest, preview: [] });
    await this.#c.blocks.put(encoded.bytes, { cid: encoded.cid });
    if (!encoded.cid.equals(cid)) await this.#c.blocks.delete(cid);
    return encoded.manifestCid;
  }

  /** Provides a sealed epoch's dataset in the background (a DHT announcement may take a while). */
  #provide(streamId: string, epoch: number, manifestCid: string): void {
    const job = this.#c.replication.provideDataset(manifestCid).catch((err) => {
      this.#c.log.warn("failed to provide sealed epoch", { streamId, epoch, manifestCid, error: err });
    }).finally(() => this.#background.delete(job));
    this.#background.add(job);
  }

  #manifest(streamId: string) {
    const manifest = this.#c.catalog.manifestOf(streamId);
    if (!manifest) throw new RangeError(`Cannot seal epochs of "${streamId}": the stream is not known here`);
    return manifest;
  }
}
