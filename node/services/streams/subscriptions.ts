/**
 * The buyer's subscriptions: a time span of a stream bought as one key sale of exactly its epochs, over
 * `/kosmos/stream-sale/1.0.0` from the stream's gateway. The quote is checked (buyer, price = epochs ·
 * epoch price, gateway, `keccak256(Z)` and one 32-byte word per epoch, deadline, the registry listing bound
 * to the stream with no key commitment, the signer its owner or delegate) before anything is stored; then
 * each sale runs the state machine of `subscription_steps.ts`, kicked by the chain indexer's new blocks and
 * a timer. A renewal buys the epochs after the last one bought, as another sale of the same subscription.
 *
 * ```ts
 * const subs = new Subscriptions({ store, chain, identity, p2p, log, knownStream, commitOf });
 * await subs.start();
 * const sub = await subs.subscribe({ streamId, seconds: 3600 });
 * subs.describe(sub.id).status; // "paying" → "waiting-key" → "active" → "ended"
 * ```
 */
import type { Hex } from "viem";
import {
  epochEnd,
  epochOf,
  epochStart,
  MAX_SALE_EPOCHS,
  spanEpochs,
  type StreamManifest,
} from "../../../protocol/streams.ts";
import { type ChainService, estimateSaleFee, type FeeEstimate, type IndexedDetail } from "../chain/mod.ts";
import type { Identity } from "../identity/mod.ts";
import type { P2P } from "../p2p/mod.ts";
import type { Logger } from "../../log.ts";
import { KosmosError, NotFoundError } from "../../errors.ts";
import { second } from "../../constants.ts";
import {
  type KnownStream,
  requestSpanQuote,
  type SpanQuoteComponents,
  StreamQuoteError,
  type VerifiedSpanQuote,
} from "./subscription_quote.ts";
import { SubscriptionSteps } from "./subscription_steps.ts";

export { type KnownStream, StreamQuoteError };
import type { SubscriptionRecord, SubscriptionSaleRecord, SubscriptionStore } from "./subscription_store.ts";

/** The subscription cannot do what was asked in its state (renewing a failed one, an epoch not held). */
export class SubscriptionStateError extends KosmosError {
  override name = "SubscriptionStateError";
}

export type SubscriptionStatus =
  | "quoting"
  | "paying"
  | "waiting-key"
  | "active"
  | "scheduled"
  | "ended"
  | "failed";

/** A subscription with what its sales add up to. */
export interface SubscriptionState {
  record: SubscriptionRecord;
  status: SubscriptionStatus;
  /** ms: the span bought (whole epochs) over every sale not refunded or failed. */
  from: number;
  to: number;
  /** Epochs whose keys this node holds (`last < first` when none). */
  epochs: { first: number; last: number };
  paid: bigint;
  saleIds: Hex[];
  error: string | null;
}

export interface SubscriptionsComponents {
  store: SubscriptionStore;
  chain: ChainService;
  identity: Identity;
  p2p: P2P;
  log: Logger;
  knownStream(streamId: string): KnownStream | undefined;
  /** The gateway's signed key commitment of an epoch, once known here. */
  commitOf(streamId: string, epoch: number): Hex | undefined;
  /** Called when a sale's keys are stored. */
  onKeys?(subscriptionId: string): void;
}

export interface SubscriptionsInit {
  /** Seconds before the dispute deadline at which keys checked so far are confirmed. @default 3600 */
  disputeMargin?: number;
  /** ms between checks of unfinished sales besides new blocks. @default 5 s */
  tickInterval?: number;
  /** ms one quote exchange may take. @default 10 s */
  quoteTimeout?: number;
  /** A quote must stay valid at least this many seconds after it arrives. @default 30 */
  minQuoteTime?: number;
  /** The clock, ms. @default Date.now */
  now?: () => number;
}

export class Subscriptions {
  readonly #c: SubscriptionsComponents;
  readonly #init: Required<SubscriptionsInit>;
  readonly #steps: SubscriptionSteps;
  readonly #running = new Map<string, { again: boolean; done: Promise<void> }>();
  #controller?: AbortController;
  #timer?: ReturnType<typeof setInterval>;
  #closeWatch?: ReturnType<typeof setInterval>;
  #onIndexed = (e: Event) => {
    if ((e as CustomEvent<IndexedDetail>).detail.events.some((x) => x.contract === "escrow")) this.tick();
  };

  constructor(components: SubscriptionsComponents, init: SubscriptionsInit = {}) {
    this.#c = components;
    this.#init = {
      disputeMargin: init.disputeMargin ?? 3600,
      tickInterval: init.tickInterval ?? 5 * second,
      quoteTimeout: init.quoteTimeout ?? 10 * second,
      minQuoteTime: init.minQuoteTime ?? 30,
      now: init.now ?? Date.now,
    };
    this.#steps = new SubscriptionSteps({
      store: components.store,
      chain: components.chain,
      log: components.log,
      commitOf: components.commitOf,
      disputeMargin: this.#init.disputeMargin,
      onKeys: components.onKeys,
    });
  }

  start(): void {
    this.#controller = new AbortController();
    if (!this.#c.chain.contracts) return;
    this.#c.chain.indexer.addEventListener("indexed", this.#onIndexed);
    this.#timer = setInterval(() => this.tick(), this.#init.tickInterval);
    this.tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    clearInterval(this.#closeWatch);
    this.#closeWatch = undefined;
    this.#controller?.abort(new KosmosError("subscriptions stopping"));
    try {
      if (this.#c.chain.contracts) this.#c.chain.indexer.removeEventListener("indexed", this.#onIndexed);
    } catch { /* chain already stopped */ }
    await Promise.allSettled([...this.#running.values()].map((r) => r.done));
  }

  /** Kicks every unfinished sale; while one waits for its keys, asks the indexer for blocks every 200 ms. */
  tick(): void {
    if (!this.#controller || this.#controller.signal.aborted) return;
    const unfinished = this.#c.store.listUnfinishedSales();
    for (const s of unfinished) this.#kick(s.saleId);
    const waiting = unfinished.some((s) => s.status === "opened");
    if (waiting && !this.#closeWatch) {
      this.#closeWatch = setInterval(() => void this.#c.chain.indexer.sync().catch(() => {}), 200);
    } else if (!waiting && this.#closeWatch) {
      clearInterval(this.#closeWatch);
      this.#closeWatch = undefined;
    }
  }

  /** Buys `[now, now + seconds)` of `streamId`, rounded out to whole epochs, as a new subscription. */
  async subscribe(
    fields: { streamId: string; seconds: number; targets?: readonly string[] },
    options: { signal?: AbortSignal } = {},
  ): Promise<SubscriptionState> {
    const known = this.#requireStream(fields.streamId);
    const span = this.#span(known.manifest, this.#init.now(), fields.seconds);
    const offer = await requestSpanQuote(this.#quoteComponents(), fields.streamId, known, span, options);
    const record = this.#c.store.insertSubscription({
      id: crypto.randomUUID(),
      streamId: fields.streamId,
      title: known.manifest.title,
      epochMs: known.manifest.epochSeconds * 1000,
      targets: fields.targets ?? [],
    });
    this.#insertSale(record.id, offer);
    this.#c.log.info("accepted a stream quote", {
      trace: record.id,
      streamId: fields.streamId,
      epochs: `${span.first}..${span.last}`,
      price: offer.quote.price,
    });
    this.#kick(offer.saleId);
    return this.describe(record.id);
  }

  /** What {@link subscribe} would buy and cost: a real quote (signs nothing) estimated on the chain. */
  async previewSubscribe(
    fields: { streamId: string; seconds: number },
    options: { signal?: AbortSignal } = {},
  ): Promise<{ first: number; last: number; from: number; to: number; price: bigint; fee: FeeEstimate }> {
    const known = this.#requireStream(fields.streamId);
    const span = this.#span(known.manifest, this.#init.now(), fields.seconds);
    const offer = await requestSpanQuote(this.#quoteComponents(), fields.streamId, known, span, options);
    const { fee } = await estimateSaleFee(this.#c.chain.client, offer);
    const e = known.manifest.epochSeconds;
    return {
      ...span,
      from: epochStart(span.first, e),
      to: epochEnd(span.last, e),
      price: offer.quote.price,
      fee,
    };
  }

  /** Buys the `seconds` after the subscription's last epoch bought (or after now, when it has ended). */
  async renew(
    id: string,
    seconds: number,
    options: { signal?: AbortSignal } = {},
  ): Promise<SubscriptionState> {
    const { streamId, known, span } = this.#renewal(id, seconds);
    const offer = await requestSpanQuote(this.#quoteComponents(), streamId, known, span, options);
    this.#insertSale(id, offer);
    this.#c.log.info("accepted a stream renewal quote", {
      trace: id,
      epochs: `${span.first}..${span.last}`,
      price: offer.quote.price,
    });
    this.#kick(offer.saleId);
    return this.describe(id);
  }

  /**
   * What {@link renew} would buy and cost: a real quote from the gateway (signs nothing, stores nothing)
   * estimated on the chain; the same refusals as a renewal.
   */
  async previewRenew(
    id: string,
    seconds: number,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ first: number; last: number; from: number; to: number; price: bigint; fee: FeeEstimate }> {
    const { streamId, known, span } = this.#renewal(id, seconds);
    const offer = await requestSpanQuote(this.#quoteComponents(), streamId, known, span, options);
    const { fee } = await estimateSaleFee(this.#c.chain.client, offer);
    const e = known.manifest.epochSeconds;
    return {
      ...span,
      from: epochStart(span.first, e),
      to: epochEnd(span.last, e),
      price: offer.quote.price,
      fee,
    };
  }

  /** The span a renewal of `id` by `seconds` buys: the epochs after the last one bought, from now on. */
  #renewal(
    id: string,
    seconds: number,
  ): { streamId: string; known: KnownStream; span: { first: number; last: number } } {
    const state = this.describe(id);
    if (state.record.error) {
      throw new SubscriptionStateError(`Cannot renew subscription ${id}: it failed (${state.record.error})`);
    }
    const known = this.#requireStream(state.record.streamId);
    const e = known.manifest.epochSeconds;
    const bought = this.#c.store.listSales(id).filter((s) =>
      s.status !== "refunded" && s.status !== "failed"
    );
    if (bought.some((s) => s.status === "quoted")) {
      throw new SubscriptionStateError(
        `Cannot renew subscription ${id}: its last purchase is still being paid`,
      );
    }
    const now = this.#init.now();
    const after = bought.length > 0 ? Math.max(...bought.map((s) => s.last)) + 1 : epochOf(now, e);
    const start = Math.max(epochStart(after, e), now);
    return { streamId: state.record.streamId, known, span: this.#span(known.manifest, start, seconds) };
  }

  list(): SubscriptionState[] {
    return this.#c.store.listSubscriptions().map((r) => this.#describe(r));
  }

  describe(id: string): SubscriptionState {
    const record = this.#c.store.getSubscription(id);
    if (!record) throw new NotFoundError(`No subscription "${id}" on this node`, { details: { id } });
    return this.#describe(record);
  }

  /** The subscription's sales, oldest span first (they hold `Z` and `kSale`: never log them). */
  listSales(id: string): SubscriptionSaleRecord[] {
    return this.#c.store.listSales(id);
  }

  #describe(record: SubscriptionRecord): SubscriptionState {
    const sales = this.#c.store.listSales(record.id);
    const live = sales.filter((s) => s.status !== "refunded" && s.status !== "failed");
    const held = this.#c.store.listKeys(record.id);
    const now = this.#init.now();
    const epochMs = record.epochMs;
    const current = Math.floor(now / epochMs);
    const from = live.length > 0 ? Math.min(...live.map((s) => s.first)) * epochMs : 0;
    const to = live.length > 0 ? (Math.max(...live.map((s) => s.last)) + 1) * epochMs : 0;
    let status: SubscriptionStatus;
    const error = record.error ?? (live.length === 0 ? sales.at(-1)?.error ?? null : null);
    if (record.error || live.length === 0) status = "failed";
    else if (held.some((k) => k.epoch === current)) status = "active";
    else if (live.some((s) => s.status === "quoted")) status = "paying";
    else if (live.some((s) => s.status === "opened")) status = "waiting-key";
    else if (now < from) status = "scheduled";
    else if (now >= to) status = "ended";
    else status = "active";
    return {
      record,
      status,
      from,
      to,
      epochs: held.length > 0
        ? { first: held[0].epoch, last: held[held.length - 1].epoch }
        : { first: 0, last: -1 },
      paid: live.filter((s) => s.status !== "quoted").reduce((sum, s) => sum + s.quote.price, 0n),
      saleIds: sales.map((s) => s.saleId),
      error,
    };
  }

  #quoteComponents(): SpanQuoteComponents {
    const { p2p, identity, chain } = this.#c;
    return {
      p2p,
      identity,
      chain,
      quoteTimeout: this.#init.quoteTimeout,
      minQuoteTime: this.#init.minQuoteTime,
    };
  }

  #requireStream(streamId: string): KnownStream {
    const known = this.#c.knownStream(streamId);
    if (!known) {
      throw new NotFoundError(`No stream "${streamId}" is known to this node`, { details: { streamId } });
    }
    if (known.listingId === null) {
      throw new SubscriptionStateError(`Cannot subscribe to stream "${streamId}": it is not listed yet`);
    }
    return known;
  }

  #span(manifest: StreamManifest, start: number, seconds: number): { first: number; last: number } {
    if (!Number.isSafeInteger(seconds) || seconds < 1) {
      throw new RangeError(`Cannot subscribe for ${seconds} seconds: expected a whole number ≥ 1`);
    }
    try {
      return spanEpochs(start, seconds, manifest.epochSeconds);
    } catch (err) {
      throw new RangeError(
        `Cannot subscribe for ${seconds} seconds: a purchase covers at most ${MAX_SALE_EPOCHS} epochs of ${manifest.epochSeconds} s`,
        { cause: err },
      );
    }
  }

  #insertSale(subscriptionId: string, offer: VerifiedSpanQuote): void {
    this.#c.store.insertSale({
      saleId: offer.saleId,
      subscriptionId,
      first: offer.first,
      last: offer.last,
      sellerPeer: offer.peerId,
      quote: offer.quote,
      signature: offer.signature,
      z: offer.z,
    });
  }

  /** Runs a sale's steps until it reports no progress; one runner per sale, re-run when kicked meanwhile. */
  #kick(saleId: string): void {
    const running = this.#running.get(saleId);
    if (running) {
      running.again = true;
      return;
    }
    const controller = this.#controller;
    if (!controller) return;
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        while (!controller.signal.aborted) {
          entry.again = false;
          let progressed = false;
          try {
            progressed = await this.#steps.step(saleId, controller.signal);
          } catch (err) {
            if (controller.signal.aborted) break;
            this.#c.log.warn("failed a subscription sale step; will retry", {
              trace: saleId.slice(0, 18),
              error: err,
            });
          }
          if (!progressed && !entry.again) break;
        }
      } finally {
        this.#running.delete(saleId);
      }
    })();
    this.#running.set(saleId, entry);
  }
}
