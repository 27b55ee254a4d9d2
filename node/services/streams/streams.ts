/**
 * The streams service's class: it composes the gateway (`gateway.ts`: owners, sensors, ingest over HTTP and
 * MQTT), the stream catalog (`catalog.ts`), live batches (`live.ts`), the epochs' opening and sealing
 * (`epochs.ts`), the stream-sale server (`stream_sale.ts`) and the buyer's subscriptions
 * (`subscriptions.ts`, `subscription_feed.ts`), and wires their hooks to each other. See `mod.ts`.
 */
import { bytesToHex, type Hex } from "viem";
import {
  epochEnd,
  epochOf,
  epochStart,
  signStreamAnnouncement,
  type StoredReading,
  type StreamManifest,
} from "../../../protocol/streams.ts";
import { second } from "../../constants.ts";
import type { Logger } from "../../log.ts";
import type { BlockStore } from "../blocks/mod.ts";
import type { ChainService, FeeEstimate } from "../chain/mod.ts";
import type { Database } from "../db/mod.ts";
import type { Identity } from "../identity/mod.ts";
import type { Market } from "../market/mod.ts";
import type { P2P } from "../p2p/mod.ts";
import { StreamCatalog, type StreamCatalogInit, type StreamRow } from "./catalog.ts";
import { Gateway, type GatewayInit } from "./gateway.ts";
import type { SensorStream } from "./ingest.ts";
import { EpochWriter, type EpochWriterInit } from "./epochs.ts";
import { History } from "./history.ts";
import { StreamsProtocol } from "./protocol_handler.ts";
import { StreamListSync } from "./stream_list_sync.ts";
import { LiveChannel } from "./live.ts";
import {
  buildStreamManifest,
  estimatePublishFee,
  listStreamAsOwner,
  type PublishComponents,
  type PublishStreamFields,
} from "./publish.ts";
import { StreamSaleServer } from "./stream_sale.ts";
import {
  type ReadingsEvent,
  SubscriptionFeed,
  type SubscriptionFeedComponents,
} from "./subscription_feed.ts";
import { SubscriptionStore } from "./subscription_store.ts";
import {
  Subscriptions,
  type SubscriptionsInit,
  type SubscriptionState,
  SubscriptionStateError,
} from "./subscriptions.ts";

/** How long after an epoch ends its live topic is still followed (its last batches are in flight), ms. */
const LIVE_LINGER_MS = 3 * second;

export interface StreamsComponents {
  db: Database;
  identity: Identity;
  p2p: P2P;
  chain: ChainService;
  market: Market;
  blocks: BlockStore;
  /** Sealed epochs are provided in the DHT, and every node watches them so they get replicas. */
  replication: {
    watch(manifestCid: string): void;
    provideDataset(manifestCid: string, options?: { signal?: AbortSignal }): Promise<void>;
  };
  fetches: {
    startFetch(manifestCid: string, options?: { providers?: string[] }): unknown;
    waitForFetch(manifestCid: string, options?: { signal?: AbortSignal; timeout?: number }): Promise<unknown>;
  };
  /** Sealed epoch files go into the next anchored batch; `statusOf` says when one is. @default none */
  anchor?: { add(cid: string): unknown; statusOf(cid: string): string };
  connectors?: SubscriptionFeedComponents["connectors"] & {
    checkReadingsTargets?(targets: readonly string[]): Promise<void>;
  };
  dataDir: string;
  log: Logger;
}

export interface StreamsInit {
  gateway?: Omit<GatewayInit, "now" | "sealGraceMs">;
  catalog?: StreamCatalogInit;
  /** Live batching and sealing (`sealGraceMs` is the gateway's too). */
  epochs?: EpochWriterInit;
  subscriptions?: Omit<SubscriptionsInit, "now">;
  /** ms between checks of which live topics to follow and which sealed epochs to fetch. @default 1 s */
  channelInterval?: number;
}

/** A stream with what this node knows of its epochs. */
export interface StreamInfo {
  row: StreamRow;
  manifest: StreamManifest;
  epochs: EpochInfo[];
}

export interface EpochInfo {
  epoch: number;
  start: number;
  end: number;
  manifestCid: string | null;
  contentCid: string | null;
  rows: number;
  keyHeld: boolean;
  anchored: boolean;
}

export class Streams {
  readonly gateway: Gateway;
  readonly catalog: StreamCatalog;
  readonly epochs: EpochWriter;
  readonly subscriptions: Subscriptions;
  readonly #c: StreamsComponents;
  readonly #init: StreamsInit;
  readonly #store: SubscriptionStore;
  readonly #feed: SubscriptionFeed;
  readonly #sale: StreamSaleServer;
  readonly #protocol: StreamsProtocol;
  readonly #listSync: StreamListSync;
  readonly #history: History;
  #backfilling?: Promise<void>;
  #controller = new AbortController();
  readonly #channels = new Map<string, LiveChannel>();
  #sensorStreams = new Map<string, SensorStream | null>();
  #timer?: ReturnType<typeof setInterval>;
  #onSealed = () => {
    this.subscriptions.tick();
    this.#backfill();
  };

  constructor(components: StreamsComponents, init: StreamsInit = {}) {
    this.#c = components;
    this.#init = init;
    const { db, identity, p2p, chain, log, dataDir } = components;
    this.catalog = new StreamCatalog(
      { db, p2p, identity, chain, replication: components.replication, log },
      init.catalog,
    );
    this.gateway = new Gateway({ db, chain, identity, dataDir, log }, {
      streamOfSensor: (sensorId) => this.#streamOfSensor(sensorId),
      onAccepted: (streamId, readings) => this.epochs.onAccepted(streamId, readings),
      sealedBefore: (streamId) => this.epochs.sealedBefore(streamId),
    }, { ...init.gateway, sealGraceMs: init.epochs?.sealGraceMs });
    this.epochs = new EpochWriter({
      catalog: this.catalog,
      blocks: components.blocks,
      replication: components.replication,
      p2p,
      identity,
      log,
      readEpoch: (id, e) => this.gateway.readings.listEpoch(id, e),
      pruneReadings: (id, e) => this.gateway.readings.deleteThrough(id, e),
      anchor: components.anchor,
    }, init.epochs);
    this.#protocol = new StreamsProtocol({ p2p, catalog: this.catalog, log });
    this.#listSync = new StreamListSync({ p2p, protocol: this.#protocol, log });
    this.#history = new History({
      catalog: this.catalog,
      protocol: this.#protocol,
      fetches: components.fetches,
      blocks: components.blocks,
      log,
    });
    this.#store = new SubscriptionStore(db);
    this.#feed = new SubscriptionFeed({
      store: this.#store,
      connectors: components.connectors,
      log,
      schemaOf: (id) => this.catalog.manifestOf(id)?.schema,
    });
    this.subscriptions = new Subscriptions({
      store: this.#store,
      chain,
      identity,
      p2p,
      log,
      knownStream: (id) => this.catalog.knownStream(id),
      commitOf: (id, e) => this.catalog.commitOf(id, e),
      onKeys: () => this.#syncChannels(),
    }, init.subscriptions);
    this.#sale = new StreamSaleServer({
      p2p,
      chain,
      identity,
      market: components.market,
      log,
      ownStream: (id) => {
        const row = this.catalog.store.getStream(id);
        const secret = this.catalog.store.getSecret(id);
        const manifest = row?.mine ? this.catalog.manifestOf(id) : undefined;
        if (!row || !secret || !manifest) return undefined;
        return { manifest, listingId: row.listingId === null ? null : BigInt(row.listingId), secret };
      },
    });
  }

  async start(): Promise<void> {
    this.#controller = new AbortController();
    await this.catalog.start();
    await this.gateway.start();
    await this.epochs.start();
    await this.#protocol.start();
    this.#listSync.start();
    if (this.#c.chain.contracts) await this.#sale.start();
    this.subscriptions.start();
    this.catalog.addEventListener("sealed", this.#onSealed);
    this.#timer = setInterval(() => {
      this.#syncChannels();
      this.#backfill();
    }, this.#init.channelInterval ?? second);
    this.#syncChannels();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#controller.abort(new Error("streams stopping"));
    this.catalog.removeEventListener("sealed", this.#onSealed);
    for (const channel of this.#channels.values()) channel.close();
    this.#channels.clear();
    await this.gateway.stop();
    await this.epochs.stop();
    await this.subscriptions.stop();
    await this.#sale.stop();
    await this.#backfilling?.catch(() => {});
    await this.#listSync.stop();
    await this.#protocol.stop();
    await this.catalog.stop();
  }

  // ---------------------------------------------------------------- publishing (gateway)

  /**
   * Publishes a stream of sensors registered here: the manifest signed by their owner, recorded with a new
   * stream secret, listed on the registry by the owner (this node its delegate for a proxy), announced.
   */
  async publishStream(
    fields: PublishStreamFields,
    options: { signal?: AbortSignal } = {},
  ): Promise<StreamInfo> {
    const x = this.#publishComponents();
    const built = await buildStreamManifest(x, fields);
    // Listed first: a stream this node opens epochs of, takes readings for and sells is always listed.
    const { listingId } = await listStreamAsOwner(x, built, { stake: fields.stake, signal: options.signal });
    this.catalog.registerOwnStream(built.bytes, { listingId: listingId.toString() });
    this.#sensorStreams.clear();
    const announcement = await signStreamAnnouncement(this.#c.identity.account, {
      v: 1,
      type: "stream",
      streamId: built.streamId,
      manifest: built.bytes,
      listingId: listingId.toString(),
      timestamp: Date.now(),
    });
    await this.catalog.publishAnnouncement(announcement);
    this.#c.log.info("published a stream", { streamId: built.streamId, listingId: listingId.toString() });
    return this.getStream(built.streamId);
  }

  /** Checks the fields as publishing does (signs the manifest off chain) and estimates the fee. */
  async previewPublishStream(fields: PublishStreamFields): Promise<{ fee: FeeEstimate }> {
    const x = this.#publishComponents();
    await buildStreamManifest(x, fields);
    return { fee: await estimatePublishFee(x) };
  }

  #publishComponents(): PublishComponents {
    const { chain, identity, p2p, log } = this.#c;
    return { chain, identity, p2p, log, sensors: this.gateway.sensors, owners: this.gateway.owners };
  }

  #streamOfSensor(sensorId: string): SensorStream | undefined {
    const cached = this.#sensorStreams.get(sensorId);
    if (cached !== undefined) return cached ?? undefined;
    const streamId = this.catalog.streamOfSensor(sensorId);
    const manifest = streamId ? this.catalog.manifestOf(streamId) : undefined;
    const found = streamId && manifest
      ? { streamId, schema: manifest.schema, epochSeconds: manifest.epochSeconds }
      : null;
    if (this.#sensorStreams.size > 10_000) this.#sensorStreams.clear();
    this.#sensorStreams.set(sensorId, found);
    return found ?? undefined;
  }

  // ---------------------------------------------------------------- streams known here

  listStreams(): StreamInfo[] {
    return this.catalog.listStreams().flatMap((row) => {
      const manifest = this.catalog.manifestOf(row.streamId);
      return manifest ? [this.#info(row, manifest)] : [];
    });
  }

  getStream(streamId: string): StreamInfo {
    const row = this.catalog.getStream(streamId);
    const manifest = this.catalog.manifestOf(streamId)!;
    return this.#info(row, manifest);
  }

  #info(row: StreamRow, manifest: StreamManifest): StreamInfo {
    const e = manifest.epochSeconds;
    const current = epochOf(Date.now(), e);
    const epochs: EpochInfo[] = [];
    for (let epoch = current; epoch >= Math.max(0, current - 47); epoch--) {
      if (epochEnd(epoch, e) <= manifest.createdAt) break;
      const sealed = this.catalog.getEpoch(row.streamId, epoch);
      epochs.push({
        epoch,
        start: epochStart(epoch, e),
        end: epochEnd(epoch, e),
        manifestCid: sealed?.manifestCid || null,
        contentCid: sealed?.contentCid ?? null,
        rows: sealed?.rows ?? 0,
        keyHeld: row.mine || this.#store.keyFor(row.streamId, epoch) !== undefined,
        anchored: sealed !== undefined && this.#c.anchor?.statusOf(sealed.contentCid) === "anchored",
      });
    }
    return { row, manifest, epochs };
  }

  // ---------------------------------------------------------------- subscriptions (buyer)

  async subscribe(
    fields: { streamId: string; seconds: number; targets?: string[] },
    options: { signal?: AbortSignal } = {},
  ): Promise<SubscriptionState> {
    if (fields.targets?.length) await this.#c.connectors?.checkReadingsTargets?.(fields.targets);
    return await this.subscriptions.subscribe(fields, options);
  }

  /** The subscription's readings as they are decrypted (`NotFoundError` first for an unknown one). */
  watchReadings(subscriptionId: string, signal: AbortSignal): AsyncIterable<ReadingsEvent> {
    this.subscriptions.describe(subscriptionId);
    return this.#feed.watch(subscriptionId, signal);
  }

  /** Readings this node stored for a subscription, in `(ts, sensorId)` order. */
  listReadings(subscriptionId: string, options: { epoch?: number; limit?: number } = {}): StoredReading[] {
    this.subscriptions.describe(subscriptionId);
    return this.#store.listReadings(subscriptionId, options);
  }

  /**
   * The decrypted file of a sealed epoch of the subscription's span (exactly the bytes the gateway sealed),
   * fetched from any provider. `SubscriptionStateError` when the subscription does not hold its key.
   */
  async readEpoch(
    subscriptionId: string,
    epoch: number,
    options: { signal?: AbortSignal } = {},
  ): Promise<Uint8Array> {
    const { record } = this.subscriptions.describe(subscriptionId);
    const held = this.#store.holdsKey(subscriptionId, epoch);
    const key = held ? this.keyFor(record.streamId, epoch) : undefined;
    if (!key) {
      throw new SubscriptionStateError(`Subscription ${subscriptionId} holds no key of epoch ${epoch}`, {
        details: { subscriptionId, epoch },
      });
    }
    const { bytes } = await this.#history.fetchEpoch(record.streamId, epoch, key, options);
    return bytes;
  }

  /**
   * Fetches the sealed file of each epoch this node holds the key of and did not receive whole live, once,
   * and hands its readings on like live ones (a reading already received is not handed on twice): what
   * live delivery missed (readings before the keys came, a restart, a lost batch) reaches the store and the
   * connectors all the same.
   */
  #backfill(): void {
    if (this.#backfilling || this.#controller.signal.aborted) return;
    const signal = this.#controller.signal;
    this.#backfilling = (async () => {
      const now = Date.now();
      for (const held of this.#store.listUnfetched(20)) {
        if (signal.aborted) return;
        const manifest = this.catalog.manifestOf(held.streamId);
        if (!manifest || epochEnd(held.epoch, manifest.epochSeconds) > now) continue;
        const sealed = this.catalog.getEpoch(held.streamId, held.epoch);
        if (!sealed) {
          // Sealed a grace period after its end; then peers are asked (the gateway may be gone).
          if (epochEnd(held.epoch, manifest.epochSeconds) + 10 * second > now) continue;
        } else if (this.#store.countReadings(held.subscriptionId, held.epoch) >= sealed.rows) {
          this.#store.setFetched(held.subscriptionId, held.epoch); // every reading came live
          continue;
        }
        try {
          const { readings } = await this.#history.fetchEpoch(
            held.streamId,
            held.epoch,
            bytesToHex(held.key),
            { timeout: 30 * second, signal },
          );
          this.#feed.deliver(held.streamId, held.epoch, readings);
          this.#store.setFetched(held.subscriptionId, held.epoch);
        } catch (err) {
          this.#c.log.debug("failed to fetch a sealed epoch; will retry", {
            trace: held.subscriptionId,
            epoch: held.epoch,
            error: err,
          });
        }
      }
    })().finally(() => this.#backfilling = undefined);
  }

  /** The key this node holds for an epoch of a stream (from any subscription). Never log it. */
  keyFor(streamId: string, epoch: number): Hex | undefined {
    const key = this.#store.keyFor(streamId, epoch);
    return key ? bytesToHex(key) : undefined;
  }

  /**
   * Follows the live topic of every stream this node holds the current (or next) epoch's key of, and that
   * of the epoch just ended for {@link LIVE_LINGER_MS}.
   */
  #syncChannels(): void {
    const wanted = new Set<string>();
    const now = Date.now();
    for (const sub of this.#store.listSubscriptions()) {
      const current = Math.floor(now / sub.epochMs);
      // The previous epoch's key for a few seconds more: its last batches are still on their way.
      const lingering = now - current * sub.epochMs < LIVE_LINGER_MS &&
        this.#store.keyFor(sub.streamId, current - 1) !== undefined;
      if (
        lingering || this.#store.keyFor(sub.streamId, current) ||
        this.#store.keyFor(sub.streamId, current + 1)
      ) {
        wanted.add(sub.streamId);
      }
    }
    for (const [streamId, channel] of this.#channels) {
      if (wanted.has(streamId)) continue;
      channel.close();
      this.#channels.delete(streamId);
    }
    for (const streamId of wanted) {
      if (this.#channels.has(streamId)) continue;
      const manifest = this.catalog.manifestOf(streamId);
      if (!manifest) continue;
      const channel = new LiveChannel({ p2p: this.#c.p2p, log: this.#c.log }, {
        streamId,
        manifest,
        keyFor: (epoch) => this.keyFor(streamId, epoch),
        onReadings: (batch) =>
          void this.#feed.deliver(streamId, batch.epoch, batch.readings, batch.receivedAt),
        onEpochOpened: (opened) => {
          this.catalog.recordOpened(opened.streamId, opened.epoch, opened.dekCommit);
          this.subscriptions.tick();
        },
      });
      channel.open();
      this.#channels.set(streamId, channel);
    }
  }
}
