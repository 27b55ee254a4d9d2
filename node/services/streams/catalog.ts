/**
 * The stream catalog: every stream this node knows and the sealed epochs of each. It listens on the
 * `streams` gossip topic (network-prefixed) for signed stream announcements (manifest verified: the owner's
 * signature and every sensor's attestation by the gateway) and signed `EpochSealed` records (signed by the
 * stream's gateway), checks each before gossipsub forwards it, and keeps them in SQLite
 * (`catalog_store.ts`): a size-capped table of streams, and the epochs of every known stream — so a buyer
 * finds history on any node, replicas included, with the gateway offline. The dataset of every sealed epoch
 * it learns it hands to `replication.watch`, so epochs get replicas like datasets.
 *
 * For the streams this node publishes (it is their gateway) it holds the stream secret (32 random bytes,
 * never logged) and derives epoch keys from it: `DEK_e = HMAC-SHA256(secret, "kosmos.stream.epoch" ‖ e)`.
 *
 * ```ts
 * const catalog = new StreamCatalog({ db, p2p, identity, chain, replication, log });
 * await catalog.start();
 * catalog.registerOwnStream(manifestBytes);                  // this node is the gateway
 * await catalog.publishAnnouncement(await signStreamAnnouncement(owner, body));
 * await catalog.epochKey(streamId, epochOf(Date.now(), 3600)); // own streams only
 * catalog.knownStream(streamId);                               // { manifest, listingId } | undefined
 * catalog.addEventListener("sealed", (e) => e.detail.epoch);
 * ```
 */
import type { Hex } from "viem";
import {
  decodeStreamManifest,
  decodeStreamsTopicMessage,
  deriveEpochKey,
  encodeEpochSealed,
  encodeStreamAnnouncement,
  epochEnd,
  type EpochSealed,
  type StreamAnnouncement,
  type StreamManifest,
  STREAMS_TOPIC,
  verifyEpochSealed,
  verifyStreamAnnouncement,
} from "../../../protocol/streams.ts";
import type { Database } from "../db/mod.ts";
import type { P2P, ValidationResult } from "../p2p/mod.ts";
import type { Logger } from "../../log.ts";
import { NotFoundError } from "../../errors.ts";
import { minute } from "../../constants.ts";
import { type SealedEpochRow, StreamCatalogStore, type StreamRow } from "./catalog_store.ts";

export type { SealedEpochRow, StreamRow } from "./catalog_store.ts";

export interface StreamCatalogComponents {
  db: Database;
  p2p: Pick<P2P, "subscribe" | "setTopicValidator" | "publish" | "peerId">;
  identity: { account: { address: `0x${string}` } };
  /** Manifests' attestations are verified on this chain. */
  chain: { readonly chainId: number };
  /** Every sealed epoch's dataset is watched, so it gets replicas. */
  replication?: { watch(manifestCid: string): void };
  log: Logger;
}

export interface StreamCatalogInit {
  /** Most streams of other nodes kept. @default 10_000 */
  maxStreams?: number;
  /** Largest accepted distance of a timestamp into the future, ms. @default 5 minutes */
  maxClockSkew?: number;
  /** How often this node's stream announcements are gossiped again (for nodes that joined since), ms. @default 5 minutes */
  reannounceInterval?: number;
  /** New streams one gossip peer may bring at once (its bucket refills at `newStreamsPerMinute`). @default 60 */
  newStreamBurst?: number;
  /** New streams one gossip peer may bring per minute, sustained. @default 20 */
  newStreamsPerMinute?: number;
}

/** A stream as a subscription needs it. */
export interface KnownStream {
  manifest: StreamManifest;
  listingId: bigint | null;
}

/** Detail of the `"stream"` event. */
export interface StreamKnownDetail {
  streamId: string;
  /** `"gossip"` also for an announcement a peer answered a stream list with. */
  source: "local" | "gossip";
}

/** Detail of the `"sealed"` event: a verified EpochSealed was stored. */
export type EpochSealedDetail = SealedEpochRow;

/**
 * Dispatches `"stream"` ({@link StreamKnownDetail}) for a new or newer announcement and `"sealed"`
 * ({@link EpochSealedDetail}) for each newly stored sealed epoch.
 */
export class StreamCatalog extends EventTarget {
  readonly #c: StreamCatalogComponents;
  readonly #init: Required<StreamCatalogInit>;
  #store?: StreamCatalogStore;
  #unsubscribe?: () => void;
  #timer?: ReturnType<typeof setInterval>;
  #running = false;
  /** Parsed manifests by stream id (they never change). */
  #manifests = new Map<string, StreamManifest>();
  /** New-stream tokens left per gossip peer, and when they were counted. */
  #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(components: StreamCatalogComponents, init: StreamCatalogInit = {}) {
    super();
    this.#c = components;
    this.#init = {
      maxStreams: init.maxStreams ?? 10_000,
      maxClockSkew: init.maxClockSkew ?? 5 * minute,
      reannounceInterval: init.reannounceInterval ?? 5 * minute,
      newStreamBurst: init.newStreamBurst ?? 60,
      newStreamsPerMinute: init.newStreamsPerMinute ?? 20,
    };
  }

  /** The tables, opened (and migrated) on first use, so a catalog can be read before `start()`. */
  get store(): StreamCatalogStore {
    return this.#store ??= new StreamCatalogStore(this.#c.db, { maxStreams: this.#init.maxStreams });
  }

  start(): Promise<void> {
    void this.store;
    const { p2p } = this.#c;
    p2p.setTopicValidator(STREAMS_TOPIC, (from, data) => this.#validate(from, data));
    // Accepted messages are stored by the validator; delivery needs no more work.
    this.#unsubscribe = p2p.subscribe(STREAMS_TOPIC, () => {});
    this.#timer = setInterval(() => void this.#reannounce(), this.#init.reannounceInterval);
    this.#running = true;
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.#running = false;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    return Promise.resolve();
  }

  /**
   * Records a stream this node is the gateway of (its manifest's `gateway` is this node's wallet and its
   * `publisherPeer` this node's peer id) and creates its secret. Idempotent. Throws a `TypeError` for a
   * manifest of another gateway.
   */
  registerOwnStream(manifestBytes: Uint8Array, options: { listingId?: string | null } = {}): string {
    const { manifest, streamId } = decodeStreamManifest(manifestBytes);
    const own = this.#c.identity.account.address.toLowerCase();
    if (manifest.gateway.toLowerCase() !== own || manifest.publisherPeer !== this.#c.p2p.peerId.toString()) {
      throw new TypeError(`Cannot publish stream ${streamId}: this node is not its gateway`);
    }
    this.store.putStream(
      this.#row(streamId, manifestBytes, manifest, {
        announcementBytes: null,
        listingId: options.listingId ?? null,
        announcedAt: 0,
        mine: true,
      }),
      manifest.sensors.map((s) => s.sensorId),
    );
    this.store.ensureSecret(streamId, crypto.getRandomValues(new Uint8Array(32)));
    this.#manifests.set(streamId, manifest);
    this.#c.log.info("registered own stream", { streamId, sensors: manifest.sensors.length });
    return streamId;
  }

  /**
   * Verifies a signed announcement (by the stream's owner or gateway), stores it and gossips it on the
   * `streams` topic. Throws a `StreamProtocolError` for an invalid one.
   */
  async publishAnnouncement(announcement: StreamAnnouncement): Promise<void> {
    const bytes = encodeStreamAnnouncement(announcement);
    const { manifest } = await verifyStreamAnnouncement(announcement, this.#c.chain.chainId);
    this.#putAnnouncement(announcement, manifest, bytes);
    this.dispatchEvent(
      new CustomEvent<StreamKnownDetail>("stream", {
        detail: { streamId: announcement.streamId, source: "local" },
      }),
    );
    await this.#publish(bytes, "stream announcement");
  }

  /** Stores this node's own sealed epoch (already signed) and gossips it on the `streams` topic. */
  async publishSealed(sealed: EpochSealed): Promise<SealedEpochRow> {
    const bytes = encodeEpochSealed(sealed);
    const row = this.#putSealed(sealed, bytes);
    await this.#publish(bytes, "epoch sealed");
    return row;
  }

  /**
   * Checks a signed EpochSealed (from gossip or an epoch query) against the stream's gateway and stores
   * it. `"ignore"` when the stream is unknown or the epoch is stored already.
   */
  async ingestSealed(value: unknown): Promise<{ result: ValidationResult; reason?: string }> {
    const streamId = (value as { streamId?: unknown })?.streamId;
    const manifest = typeof streamId === "string" ? this.manifestOf(streamId) : undefined;
    if (!manifest) return { result: "ignore", reason: "unknown stream" };
    let sealed: EpochSealed;
    try {
      sealed = await verifyEpochSealed(value, manifest.gateway);
    } catch (err) {
      return { result: "reject", reason: (err as Error).message };
    }
    if (epochEnd(sealed.epoch, manifest.epochSeconds) > Date.now() + this.#init.maxClockSkew) {
      return { result: "reject", reason: "epoch not over yet" };
    }
    if (this.store.getEpoch(sealed.streamId, sealed.epoch)) return { result: "ignore", reason: "known" };
    this.#putSealed(sealed, encodeEpochSealed(sealed));
    return { result: "accept" };
  }

  /**
   * Checks a signed announcement a peer sent outside gossip (a stream list answer) exactly like a gossiped
   * one (timestamp, new streams rate limited per peer, manifest, attestations and signature) and stores it.
   */
  async ingestAnnouncement(
    announcement: StreamAnnouncement,
    from: string,
  ): Promise<{ result: ValidationResult; reason?: string }> {
    let bytes: Uint8Array;
    try {
      bytes = encodeStreamAnnouncement(announcement);
    } catch (err) {
      return { result: "reject", reason: (err as Error).message };
    }
    return await this.#ingestAnnouncement(announcement, bytes, from);
  }

  /** Records a verified EpochOpened's key commitment (the first one of an epoch stays). */
  recordOpened(streamId: string, epoch: number, dekCommit: Hex): void {
    this.store.putOpened(streamId, epoch, dekCommit.toLowerCase() as Hex);
  }

  /** The gateway's signed commitment to an epoch's key (sealed, else opened), when known here. */
  commitOf(streamId: string, epoch: number): Hex | undefined {
    return this.store.getEpoch(streamId, epoch)?.dekCommit ?? this.store.getOpened(streamId, epoch);
  }

  /** The manifest of a known stream. */
  manifestOf(streamId: string): StreamManifest | undefined {
    const cached = this.#manifests.get(streamId);
    if (cached) return cached;
    const row = this.store.getStream(streamId);
    if (!row) return undefined;
    const { manifest } = decodeStreamManifest(row.manifestBytes, streamId);
    this.#manifests.set(streamId, manifest);
    return manifest;
  }

  /** A known stream with its listing id, or `undefined`. */
  knownStream(streamId: string): KnownStream | undefined {
    const row = this.store.getStream(streamId);
    const manifest = row && this.manifestOf(streamId);
    if (!row || !manifest) return undefined;
    return { manifest, listingId: row.listingId === null ? null : BigInt(row.listingId) };
  }

  /** A known stream's row; throws `NotFoundError` when unknown. */
  getStream(streamId: string): StreamRow {
    const row = this.store.getStream(streamId);
    if (!row) throw new NotFoundError(`No stream "${streamId}" is known here`, { details: { streamId } });
    return row;
  }

  /** Known streams, newest first (`mine` filters by who publishes them). */
  listStreams(options: { mine?: boolean; limit?: number } = {}): StreamRow[] {
    return this.store.listStreams(options);
  }

  /** The own stream whose manifest lists `sensorId` (the newest when several do). */
  streamOfSensor(sensorId: string): string | undefined {
    return this.store.streamOfSensor(sensorId);
  }

  /** Whether this node is the gateway of the stream and holds its secret. */
  isOwn(streamId: string): boolean {
    return this.store.getStream(streamId)?.mine === true && this.store.getSecret(streamId) !== undefined;
  }

  /** The key of an epoch of an own stream (hex, 32 bytes). Never log it. Throws `NotFoundError` otherwise. */
  async epochKey(streamId: string, epoch: number): Promise<Hex> {
    const secret = this.store.getSecret(streamId);
    if (!secret) {
      throw new NotFoundError(`Cannot derive an epoch key of "${streamId}": not a stream of this node`);
    }
    return await deriveEpochKey(secret, epoch);
  }

  /** The sealed epoch stored here, or `undefined`. */
  getEpoch(streamId: string, epoch: number): SealedEpochRow | undefined {
    return this.store.getEpoch(streamId, epoch);
  }

  /** Sealed epochs of a stream in `[from, to]`, ascending. @default limit 1000 */
  listEpochs(streamId: string, from: number, to: number, limit = 1000): SealedEpochRow[] {
    return this.store.listEpochs(streamId, { from, to, limit });
  }

  async #validate(from: string, data: Uint8Array): Promise<ValidationResult> {
    if (!this.#running) return "ignore";

    let message: StreamAnnouncement | EpochSealed;
    try {
      message = decodeStreamsTopicMessage(data);
    } catch (err) {
      this.#c.log.debug("rejected streams message", { from, error: err });
      return "reject";
    }
    try {
      const check = message.type === "stream"
        ? await this.#ingestAnnouncement(message, data, from)
        : await this.ingestSealed(message);
      if (check.result === "reject") {
        this.#c.log.debug("rejected streams message", { from, type: message.type, reason: check.reason });
      }
      return check.result;
    } catch (err) {
      // A store failure is ours, not the sender's: drop the message without blame.
      this.#c.log.warn("failed to store streams message", { from, type: message.type, error: err });
      return "ignore";
    }
  }

  async #ingestAnnouncement(
    announcement: StreamAnnouncement,
    bytes: Uint8Array,
    from: string,
  ): Promise<{ result: ValidationResult; reason?: string }> {
    if (announcement.timestamp > Date.now() + this.#init.maxClockSkew) {
      return { result: "reject", reason: "timestamp in the future" };
    }
    const known = this.store.getStream(announcement.streamId);
    if (known && known.announcedAt >= announcement.timestamp) return { result: "ignore", reason: "known" };
    // Anyone may be a gateway, so a valid stream costs nothing to make: new ones are rate limited per peer,
    // so no peer can flush the size-capped table.
    if (!known && !this.#takeNewStreamToken(from)) return { result: "ignore", reason: "rate limited" };
    let manifest: StreamManifest;
    try {
      ({ manifest } = await verifyStreamAnnouncement(announcement, this.#c.chain.chainId));
    } catch (err) {
      return { result: "reject", reason: (err as Error).message };
    }
    this.#putAnnouncement(announcement, manifest, bytes);
    this.dispatchEvent(
      new CustomEvent<StreamKnownDetail>("stream", {
        detail: { streamId: announcement.streamId, source: "gossip" },
      }),
    );
    return { result: "accept" };
  }

  #putAnnouncement(announcement: StreamAnnouncement, manifest: StreamManifest, bytes: Uint8Array): void {
    const known = this.store.getStream(announcement.streamId);
    this.store.putStream(
      this.#row(announcement.streamId, announcement.manifest, manifest, {
        announcementBytes: bytes,
        listingId: announcement.listingId,
        announcedAt: announcement.timestamp,
        mine: known?.mine ?? false,
      }),
      manifest.sensors.map((s) => s.sensorId),
    );
    this.#manifests.set(announcement.streamId, manifest);
  }

  #putSealed(sealed: EpochSealed, bytes: Uint8Array): SealedEpochRow {
    const row: SealedEpochRow = {
      streamId: sealed.streamId,
      epoch: sealed.epoch,
      manifestCid: sealed.manifestCid,
      contentCid: sealed.contentCid,
      rows: sealed.rows,
      dekCommit: sealed.dekCommit.toLowerCase() as Hex,
      sealedBytes: bytes,
    };
    if (!this.store.putEpoch(row)) return this.store.getEpoch(sealed.streamId, sealed.epoch)!;
    if (row.manifestCid !== null && !this.isOwn(row.streamId)) {
      try {
        this.#c.replication?.watch(row.manifestCid);
      } catch (err) {
        this.#c.log.warn("failed to watch epoch dataset", {
          streamId: row.streamId,
          epoch: row.epoch,
          error: err,
        });
      }
    }
    this.dispatchEvent(new CustomEvent<EpochSealedDetail>("sealed", { detail: row }));
    return row;
  }

  #row(
    streamId: string,
    manifestBytes: Uint8Array,
    manifest: StreamManifest,
    extra: Pick<StreamRow, "announcementBytes" | "listingId" | "announcedAt" | "mine">,
  ): StreamRow {
    return {
      streamId,
      manifestBytes,
      title: manifest.title,
      owner: manifest.owner,
      gateway: manifest.gateway,
      publisherPeer: manifest.publisherPeer,
      epochMs: manifest.epochSeconds * 1000,
      createdAt: manifest.createdAt,
      ...extra,
    };
  }

  async #publish(bytes: Uint8Array, what: string): Promise<void> {
    try {
      await this.#c.p2p.publish(STREAMS_TOPIC, bytes);
    } catch (err) {
      // No peer yet: the announcement is gossiped again on the next tick; epochs are also served on request.
      this.#c.log.debug(`failed to gossip ${what}`, { error: err });
    }
  }

  #takeNewStreamToken(peerId: string): boolean {
    const { newStreamBurst: burst, newStreamsPerMinute: rate } = this.#init;
    const now = Date.now();
    let bucket = this.#buckets.get(peerId);
    if (!bucket) {
      if (this.#buckets.size >= 10_000) this.#buckets.clear();
      this.#buckets.set(peerId, bucket = { tokens: burst, at: now });
    }
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) * rate) / minute);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  async #reannounce(): Promise<void> {
    for (const row of this.store.listStreams({ mine: true })) {
      if (row.announcementBytes) await this.#publish(row.announcementBytes, "stream announcement");
    }
  }
}
