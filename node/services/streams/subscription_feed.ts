/**
 * Where a buyer's decrypted readings go: for every subscription of the stream that holds the epoch's key,
 * the readings are stored (durably, each once), handed to the subscription's connector targets (queued
 * durably by the connectors service) and emitted to the listeners of its server-sent events. Live batches
 * and history epochs arrive here alike; a reading seen twice is stored, delivered and emitted once.
 *
 * ```ts
 * const feed = new SubscriptionFeed({ store, connectors, log, schemaOf });
 * feed.deliver(streamId, epoch, readings);
 * for await (const event of feed.watch(subscriptionId, signal)) console.log(event.readings.length);
 * ```
 */
import type { StreamColumn } from "../../../protocol/streams.ts";
import type { Logger } from "../../log.ts";
import type { StoredReading, SubscriptionStore } from "./subscription_store.ts";

/** One delivery of readings to a subscription's listeners. */
export interface ReadingsEvent {
  streamId: string;
  epoch: number;
  readings: StoredReading[];
  /** ms since the epoch when this node decrypted them. */
  receivedAt: number;
}

export interface SubscriptionFeedComponents {
  store: SubscriptionStore;
  /** The connectors service's durable hand-over (`connectors.deliverReadings`). */
  connectors?: {
    deliverReadings(
      subscriptionId: string,
      targets: readonly string[],
      event: { streamId: string; epoch: number; readings: StoredReading[] },
      options?: { schema?: StreamColumn[] },
    ): void;
  };
  log: Logger;
  /** The stream's columns (PostgreSQL tables are created from them). */
  schemaOf(streamId: string): StreamColumn[] | undefined;
}

/** Events a slow listener may have waiting; past this it is disconnected (it may reconnect). */
const MAX_PENDING = 1000;

interface Listener {
  push(event: ReadingsEvent): void;
}

export class SubscriptionFeed {
  readonly #c: SubscriptionFeedComponents;
  readonly #listeners = new Map<string, Set<Listener>>();

  constructor(components: SubscriptionFeedComponents) {
    this.#c = components;
  }

  /**
   * Hands readings of `epoch` to every subscription of the stream holding its key; returns how many
   * subscriptions took them. Readings of an epoch no subscription holds the key of go nowhere.
   */
  deliver(
    streamId: string,
    epoch: number,
    readings: readonly StoredReading[],
    receivedAt = Date.now(),
  ): number {
    const { store, connectors, log } = this.#c;
    let taken = 0;
    for (const sub of store.listSubscriptions({ streamId })) {
      if (!store.holdsKey(sub.id, epoch)) continue;
      taken++;
      const fresh = store.putReadings(sub.id, epoch, readings);
      if (fresh.length === 0) continue;
      if (connectors && sub.targets.length > 0) {
        try {
          connectors.deliverReadings(sub.id, sub.targets, { streamId, epoch, readings: fresh }, {
            schema: this.#c.schemaOf(streamId),
          });
        } catch (err) {
          log.warn("failed to queue readings for a subscription's targets", { trace: sub.id, error: err });
        }
      }
      const event: ReadingsEvent = { streamId, epoch, readings: fresh, receivedAt };
      for (const l of this.#listeners.get(sub.id) ?? []) l.push(event);
    }
    return taken;
  }

  /** The subscription's readings as they arrive, until `signal` aborts (or the listener falls far behind). */
  watch(subscriptionId: string, signal: AbortSignal): AsyncIterable<ReadingsEvent> {
    const queue: ReadingsEvent[] = [];
    let wake: (() => void) | undefined;
    let closed = false;
    const close = () => {
      closed = true;
      this.#listeners.get(subscriptionId)?.delete(listener);
      if (this.#listeners.get(subscriptionId)?.size === 0) this.#listeners.delete(subscriptionId);
      wake?.();
    };
    const listener: Listener = {
      push: (event) => {
        if (closed) return;
        queue.push(event);
        if (queue.length > MAX_PENDING) {
          this.#c.log.debug("disconnected a slow readings listener", { trace: subscriptionId });
          close();
        }
        wake?.();
      },
    };
    const set = this.#listeners.get(subscriptionId) ?? new Set();
    set.add(listener);
    this.#listeners.set(subscriptionId, set);
    if (signal.aborted) close();
    else signal.addEventListener("abort", close, { once: true });
    return {
      async *[Symbol.asyncIterator]() {
        try {
          while (true) {
            while (queue.length > 0 && !signal.aborted) yield queue.shift()!;
            if (closed) return;
            await new Promise<void>((resolve) => (wake = resolve));
            wake = undefined;
          }
        } finally {
          signal.removeEventListener("abort", close);
          close();
        }
      },
    };
  }

  /** Listeners connected now, over every subscription. */
  get listeners(): number {
    let n = 0;
    for (const set of this.#listeners.values()) n += set.size;
    return n;
  }
}
