/**
 * Live readings over gossip. On the gateway, {@link LivePublisher} batches the readings the gateway accepted
 * (a batch goes out 100 ms after its first reading, or at once at 500 readings), encrypts each batch under
 * the current epoch's key (AES-256-GCM, random IV, AAD naming stream, epoch and sequence number) and
 * publishes it on the stream's own topic `/kosmos/stream/1/<streamId>` (network-prefixed). It also publishes
 * the signed `EpochOpened` commitments there.
 *
 * On a buyer, {@link LiveChannel} subscribes to that topic while it holds keys: gossipsub delivers and
 * forwards only messages whose (signed) author is the manifest's `publisherPeer`; each batch is decrypted
 * with the key the buyer holds for its epoch and handed on as readings; a batch of an epoch without a key is
 * counted and dropped (a subscription ends by cryptography). `EpochOpened` messages are verified against
 * the manifest's gateway and passed on, so held keys can be checked against them.
 *
 * ```ts
 * const live = new LivePublisher({ p2p, log, epochKey: (id, e) => catalog.epochKey(id, e), epochSeconds });
 * live.push(streamId, readings);          // from the gateway's onAccepted
 * const channel = new LiveChannel({ p2p, log }, { streamId, manifest, keyFor, onReadings });
 * channel.open();                         // … channel.close()
 * ```
 */
import type { Hex } from "viem";
import { TopicValidatorResult } from "@libp2p/gossipsub";
import {
  decodeStreamTopicMessage,
  decryptLiveBatch,
  encodeEpochOpened,
  encodeLiveBatch,
  encryptLiveBatch,
  epochOf,
  type EpochOpened,
  MAX_LIVE_BATCH_BYTES,
  readingLine,
  type StreamManifest,
  type StreamReading,
  streamTopic,
  verifyEpochOpened,
} from "../../../protocol/streams.ts";
import type { P2P } from "../p2p/mod.ts";
import type { Logger } from "../../log.ts";

/** Plaintext bytes one live batch may hold: its ciphertext and envelope stay under the gossip cap. */
const MAX_BATCH_PLAINTEXT = MAX_LIVE_BATCH_BYTES - 4096;

export interface LivePublisherComponents {
  p2p: Pick<P2P, "publish">;
  log: Logger;
  /** The key of an epoch of an own stream. */
  epochKey(streamId: string, epoch: number): Promise<Hex>;
  /** The epoch length of an own stream, in seconds. */
  epochSeconds(streamId: string): number;
}

export interface LivePublisherInit {
  /** ms a batch waits for more readings after its first. @default 100 */
  flushInterval?: number;
  /** Readings that make a batch go out at once. @default 500 */
  maxBatch?: number;
}

interface Pending {
  readings: StreamReading[];
  timer?: ReturnType<typeof setTimeout>;
  /** Batches of this stream go out one after the other, in order. */
  sending: Promise<void>;
  seq: number;
}

/** Batches, encrypts and gossips the live readings of the streams this node is the gateway of. */
export class LivePublisher {
  readonly #c: LivePublisherComponents;
  readonly #flushInterval: number;
  readonly #maxBatch: number;
  #streams = new Map<string, Pending>();
  #keys = new Map<string, { epoch: number; key: Hex }>();
  #stopped = false;
  /** Batches and readings published since start. */
  readonly stats = { batches: 0, readings: 0, failed: 0 };

  constructor(components: LivePublisherComponents, init: LivePublisherInit = {}) {
    this.#c = components;
    this.#flushInterval = init.flushInterval ?? 100;
    this.#maxBatch = init.maxBatch ?? 500;
    if (!(this.#maxBatch >= 1)) {
      throw new RangeError(`Cannot batch live readings: maxBatch ${this.#maxBatch} < 1`);
    }
  }

  /** Queues readings (already committed at the gateway) of an own stream for the next live batch. */
  push(streamId: string, readings: readonly StreamReading[]): void {
    if (this.#stopped || readings.length === 0) return;
    let pending = this.#streams.get(streamId);
    if (!pending) this.#streams.set(streamId, pending = { readings: [], sending: Promise.resolve(), seq: 0 });
    pending.readings.push(...readings);
    if (pending.readings.length >= this.#maxBatch) this.#flush(streamId, pending);
    else pending.timer ??= setTimeout(() => this.#flush(streamId, pending), this.#flushInterval);
  }

  /** Sends what is queued now; resolves when every batch queued so far is out. */
  async flush(): Promise<void> {
    for (const [streamId, pending] of this.#streams) this.#flush(streamId, pending);
    await Promise.all([...this.#streams.values()].map((p) => p.sending));
  }

  /** Sends what is queued, then publishes nothing more. */
  async stop(): Promise<void> {
    await this.flush();
    this.#stopped = true;
    this.#streams.clear();
    this.#keys.clear();
  }

  /** Gossips a signed EpochOpened on the stream's topic. */
  async publishOpened(opened: EpochOpened): Promise<void> {
    await this.#c.p2p.publish(streamTopic(opened.streamId), encodeEpochOpened(opened));
  }

  #flush(streamId: string, pending: Pending): void {
    clearTimeout(pending.timer);
    pending.timer = undefined;
    if (pending.readings.length === 0) return;
    const readings = pending.readings;
    pending.readings = [];
    pending.sending = pending.sending.then(() => this.#send(streamId, pending, readings));
  }

  async #send(streamId: string, pending: Pending, readings: StreamReading[]): Promise<void> {
    const epochSeconds = this.#c.epochSeconds(streamId);
    const byEpoch = new Map<number, StreamReading[]>();
    for (const r of readings) {
      const epoch = epochOf(r.ts, epochSeconds);
      let list = byEpoch.get(epoch);
      if (!list) byEpoch.set(epoch, list = []);
      list.push(r);
    }
    for (const [epoch, list] of byEpoch) {
      for (const batch of splitBatches(list, this.#maxBatch)) {
        const seq = pending.seq++;
        try {
          const key = await this.#key(streamId, epoch);
          const message = await encryptLiveBatch({ streamId, epoch, seq, readings: batch }, key);
          await this.#c.p2p.publish(streamTopic(streamId), encodeLiveBatch(message));
          this.stats.batches++;
          this.stats.readings += batch.length;
        } catch (err) {
          // Live delivery is best effort: the readings are committed and will be in the sealed epoch.
          this.stats.failed++;
          this.#c.log.warn("failed to publish live batch", {
            streamId,
            epoch,
            seq,
            readings: batch.length,
            error: err,
          });
        }
      }
    }
  }

  async #key(streamId: string, epoch: number): Promise<Hex> {
    const cached = this.#keys.get(streamId);
    if (cached?.epoch === epoch) return cached.key;
    const key = await this.#c.epochKey(streamId, epoch);
    this.#keys.set(streamId, { epoch, key });
    return key;
  }
}

/** Splits readings into batches of at most `max` readings and {@link MAX_BATCH_PLAINTEXT} bytes. */
function splitBatches(readings: StreamReading[], max: number): StreamReading[][] {
  const out: StreamReading[][] = [];
  let current: StreamReading[] = [];
  let bytes = 0;
  for (const r of readings) {
    const size = new TextEncoder().encode(readingLine(r)).byteLength + 1;
    if (current.length > 0 && (current.length >= max || bytes + size > MAX_BATCH_PLAINTEXT)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** Readings of one decrypted live batch. */
export interface LiveReadings {
  streamId: string;
  epoch: number;
  seq: number;
  readings: StreamReading[];
  /** ms since the epoch when this node decrypted the batch. */
  receivedAt: number;
}

export interface LiveChannelComponents {
  p2p: Pick<P2P, "subscribe" | "protocolId" | "libp2p">;
  log: Logger;
}

export interface LiveChannelOptions {
  streamId: string;
  manifest: Pick<StreamManifest, "publisherPeer" | "gateway" | "schema">;
  /** The key this node holds for an epoch of the stream, if any. */
  keyFor(epoch: number): Hex | undefined | Promise<Hex | undefined>;
  /** Decrypted readings, in the order batches arrive. */
  onReadings(batch: LiveReadings): void | Promise<void>;
  /** A verified EpochOpened (its key commitment signed by the gateway). */
  onEpochOpened?(opened: EpochOpened): void;
}

/** A buyer's subscription to the live topic of one stream. */
export class LiveChannel {
  readonly #c: LiveChannelComponents;
  readonly #o: LiveChannelOptions;
  #unsubscribe?: () => void;
  #topic?: string;
  /** Batches delivered, readings delivered, batches of an epoch without a key here, and batches that failed. */
  readonly stats = { batches: 0, readings: 0, withoutKey: 0, failed: 0 };

  constructor(components: LiveChannelComponents, options: LiveChannelOptions) {
    this.#c = components;
    this.#o = options;
  }

  get isOpen(): boolean {
    return this.#unsubscribe !== undefined;
  }

  /** Subscribes to the stream's topic; only messages authored by its `publisherPeer` are accepted. */
  open(): void {
    if (this.#unsubscribe) return;
    const { p2p } = this.#c;
    const name = streamTopic(this.#o.streamId);
    const topic = p2p.protocolId(name);
    const publisher = this.#o.manifest.publisherPeer;
    // Checked on the signed author, not the forwarding peer, so nothing but the gateway's is delivered or
    // forwarded; a forgery costs the peer that sent it its score.
    p2p.libp2p.services.pubsub.topicValidators.set(topic, (_peer, msg) => {
      if (msg.type !== "signed" || msg.from.toString() !== publisher) return TopicValidatorResult.Reject;
      try {
        decodeStreamTopicMessage(msg.data);
        return TopicValidatorResult.Accept;
      } catch {
        return TopicValidatorResult.Reject;
      }
    });
    this.#topic = topic;
    this.#unsubscribe = p2p.subscribe(name, (message) => {
      if (message.from !== publisher) return;
      // One batch at a time: decryption is async, and readings must reach listeners in arrival order.
      this.#queue = this.#queue.then(() => this.#handle(message.data));
    });
  }

  close(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (this.#topic) this.#c.p2p.libp2p.services.pubsub.topicValidators.delete(this.#topic);
    this.#topic = undefined;
  }

  #queue: Promise<void> = Promise.resolve();

  async #handle(data: Uint8Array): Promise<void> {
    const { log } = this.#c;
    const { streamId, manifest } = this.#o;
    try {
      const message = decodeStreamTopicMessage(data);
      if (message.streamId !== streamId) return;
      if (message.type === "epoch-opened") {
        const opened = await verifyEpochOpened(message, manifest.gateway);
        this.#o.onEpochOpened?.(opened);
        return;
      }
      const key = await this.#o.keyFor(message.epoch);
      if (key === undefined) {
        this.stats.withoutKey++;
        return;
      }
      const readings = await decryptLiveBatch(message, key, manifest.schema);
      this.stats.batches++;
      this.stats.readings += readings.length;
      await this.#o.onReadings({
        streamId,
        epoch: message.epoch,
        seq: message.seq,
        readings,
        receivedAt: Date.now(),
      });
    } catch (err) {
      this.stats.failed++;
      log.warn("failed to take a live batch", { streamId, error: err });
    }
  }
}
