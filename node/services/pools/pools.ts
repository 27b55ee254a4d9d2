/**
 * The pools service's class: creating a pool (on chain, then announced), the pools the network
 * announces (gossip and the `announcements` request, each checked against the chain), joining and
 * leaving as a contributor, answering `/kosmos/pool/1.0.0` (`serve.ts`), publishing versions
 * (`versions.ts`) and distributing their sales (`distributions.ts`). See `mod.ts`.
 */
import type { PeerId } from "@libp2p/interface";
import type { Address } from "viem";
import {
  computeTermsHash,
  decodePoolAnnouncement,
  encodePoolAnnouncement,
  POOL_PROTOCOL,
  type PoolAnnouncement,
  poolJoinTypedData,
  POOLS_TOPIC,
  signPoolAnnouncement,
} from "../../../protocol/pools.ts";
import { minute, second } from "../../constants.ts";
import { NotFoundError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import type { BlockStore } from "../blocks/mod.ts";
import {
  type ChainService,
  createPool,
  estimateCallFee,
  type FeeEstimate,
  getCreatePoolCall,
  type IndexedDetail,
} from "../chain/mod.ts";
import { ConsentNotValidError } from "../consent/mod.ts";
import type { Database } from "../db/mod.ts";
import type { Datasets } from "../datasets/mod.ts";
import type { Identity } from "../identity/mod.ts";
import type { P2P, ValidationResult } from "../p2p/mod.ts";
import type { Privacy } from "../privacy/mod.ts";
import type { Sources } from "../sources/mod.ts";
import { TokenBuckets } from "../../token_buckets.ts";
import { Distributions } from "./distributions.ts";
import { PoolJoinRefusedError, PoolUnreachableError } from "./errors.ts";
import { answerPoolRequest, checkConsentOnChain } from "./serve.ts";
import { checkPoolId, type CreatePoolFields, ingestPoolAnnouncement, toPoolTerms } from "./announcements.ts";
export type { CreatePoolFields };
import { type MembershipRecord, PoolStore, type VersionRecord } from "./store.ts";
import { previewPublishVersion, publishVersion, type PublishVersionOptions } from "./versions.ts";
import { askPeer, servePoolStream } from "./wire.ts";

export interface PoolsComponents {
  db: Database;
  p2p: P2P;
  chain: ChainService;
  identity: Identity;
  datasets: Datasets;
  blocks: BlockStore;
  privacy: Privacy;
  sources: Sources;
  log: Logger;
}

export interface PoolsInit {
  /** How long a member has to answer a version's `contribute`, ms. @default 2 minutes */
  contributeTimeout?: number;
  /** How long a join, leave or announcements exchange may take, ms. @default 30 seconds */
  requestTimeout?: number;
  /** Most members of one pool (a version pays at most 256 contributors). @default 256 */
  maxMembers?: number;
  /** How often own pools are announced again and pending distributions retried, ms. @default 5 minutes */
  tickInterval?: number;
}

/** A pool as this node sees it. */
export interface PoolRecord {
  announcement: PoolAnnouncement;
  /** This node operates it, is a member, or neither. */
  role: "operator" | "member" | null;
  /** Members (operator only; otherwise 0). */
  members: { address: Address; consentId: bigint; joinedAt: number }[];
  membership?: MembershipRecord;
  /** Versions published (operator only), newest first. */
  versions: VersionRecord[];
}

export class Pools {
  readonly #c: PoolsComponents;
  readonly #init: Required<PoolsInit>;
  readonly #store: PoolStore;
  readonly #distributions: Distributions;
  #controller?: AbortController;
  #unsubscribe?: () => void;
  #timer?: ReturnType<typeof setInterval>;
  #synced = new Map<string, number>();
  /** Join, leave and announcements requests each peer may send: 20 at once, one every 2 s after. */
  readonly #limits = new TokenBuckets({ rate: 0.5, burst: 20 });
  #onIdentify = (evt: CustomEvent<{ peerId: PeerId; protocols: string[] }>) => {
    if (evt.detail.protocols.includes(this.#c.p2p.protocolId(POOL_PROTOCOL))) {
      void this.syncWith(evt.detail.peerId.toString()).catch(() => {});
    }
  };
  #onIndexed = (e: Event) => this.#distributions.onIndexed((e as CustomEvent<IndexedDetail>).detail);

  constructor(components: PoolsComponents, init: PoolsInit = {}) {
    this.#c = components;
    this.#init = {
      contributeTimeout: init.contributeTimeout ?? 2 * minute,
      requestTimeout: init.requestTimeout ?? 30 * second,
      maxMembers: init.maxMembers ?? 256,
      tickInterval: init.tickInterval ?? 5 * minute,
    };
    this.#store = new PoolStore(components.db);
    this.#distributions = new Distributions({
      store: this.#store,
      chain: components.chain,
      log: components.log,
    });
  }

  get #me(): Address {
    return this.#c.identity.account.address;
  }

  async start(): Promise<void> {
    const { p2p, chain, log } = this.#c;
    this.#store.open();
    this.#controller = new AbortController();
    const signal = this.#controller.signal;
    p2p.setTopicValidator(POOLS_TOPIC, (from, data) => this.#validateGossip(from, data));
    this.#unsubscribe = p2p.subscribe(POOLS_TOPIC, () => {});
    await p2p.handle(
      POOL_PROTOCOL,
      (stream, connection) =>
        servePoolStream(
          stream,
          connection,
          (request, remotePeer, s) => answerPoolRequest(this.#serveContext(), request, remotePeer, s),
          {
            timeout: this.#init.contributeTimeout,
            signal,
            log,
          },
        ),
      { maxInboundStreams: 8, maxOutboundStreams: 64 },
    );
    p2p.libp2p.addEventListener("peer:identify", this.#onIdentify);
    if (chain.contracts) {
      chain.indexer.addEventListener("indexed", this.#onIndexed);
      const versions = this.#store.listPools({ operator: this.#me })
        .flatMap((p) => this.#store.listVersions(p.poolId).map((v) => v.listingId));
      this.#distributions.catchUp(versions);
      void this.#distributions.settlePending({ signal });
    }
    this.#timer = setInterval(() => this.#tick(), this.#init.tickInterval);
    for (const peerId of p2p.peers()) void this.syncWith(peerId).catch(() => {});
    log.info("started pools", { pools: this.#store.countPools() });
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#controller?.abort(new Error("pools stopped"));
    this.#unsubscribe?.();
    try {
      this.#c.chain.indexer.removeEventListener("indexed", this.#onIndexed);
    } catch { /* no contracts */ }
    try {
      this.#c.p2p.libp2p.removeEventListener("peer:identify", this.#onIdentify);
      await this.#c.p2p.unhandle(POOL_PROTOCOL);
    } catch { /* p2p already stopped */ }
    await this.#distributions.settled();
  }

  /** Creates the pool on chain from this node's wallet, stores and announces it. */
  async createPool(fields: CreatePoolFields, options: { signal?: AbortSignal } = {}): Promise<PoolRecord> {
    const terms = toPoolTerms(fields, this.#me);
    const termsHash = computeTermsHash(terms);
    const { chain, identity, p2p, log } = this.#c;
    const { poolId } = await chain.exclusive(() =>
      createPool(chain.client, { termsHash, feeBps: terms.operatorFeeBps, signal: options.signal })
    );
    const announcement = await signPoolAnnouncement(identity.account, {
      v: 1,
      poolId: poolId.toString(),
      terms,
      termsHash,
      peerId: p2p.peerId.toString(),
      timestamp: Date.now(),
    });
    this.#store.putPool(announcement);
    log.info("created a pool", { poolId: poolId.toString(), kind: terms.kind, feeBps: terms.operatorFeeBps });
    await this.#announce(announcement);
    return this.getPool(poolId.toString());
  }

  /** What {@link createPool} would cost; checks the fields and sends nothing. */
  async previewCreatePool(
    fields: CreatePoolFields,
    _options: { signal?: AbortSignal } = {},
  ): Promise<{ fee: FeeEstimate }> {
    const terms = toPoolTerms(fields, this.#me);
    const client = this.#c.chain.client;
    const call = getCreatePoolCall(client, {
      termsHash: computeTermsHash(terms),
      feeBps: terms.operatorFeeBps,
    });
    return { fee: await estimateCallFee(client, call, { action: "create a pool" }) };
  }

  /** Every pool this node knows, newest first. */
  listPools(): PoolRecord[] {
    return this.#store.listPools().map((a) => this.#record(a));
  }

  /** One pool; `NotFoundError` when unknown here, `TypeError` for a bad id. */
  getPool(poolId: string): PoolRecord {
    const a = this.#store.getPool(checkPoolId(poolId));
    if (!a) throw new NotFoundError(`No pool ${poolId} known to this node`, { details: { poolId } });
    return this.#record(a);
  }

  /**
   * Joins `poolId` with a consent this node's wallet holds for the pool's kind and purpose, valid on
   * chain: signs the join and sends it to the operator's node, which checks it all again.
   */
  async joinPool(
    poolId: string,
    params: { consentId: string },
    options: { signal?: AbortSignal } = {},
  ): Promise<PoolRecord> {
    const pool = this.getPool(poolId).announcement;
    if (pool.terms.operator === this.#me) {
      throw new TypeError(`Cannot join pool ${poolId}: this node operates it`);
    }
    if (!/^[1-9]\d{0,76}$/.test(params.consentId)) {
      throw new TypeError("consentId must be a consent's token id");
    }
    const consentId = BigInt(params.consentId);
    const why = await checkConsentOnChain(this.#c.chain.client, {
      consentId,
      contributor: this.#me,
      kind: pool.terms.kind,
      purpose: pool.terms.purpose,
    });
    if (why) throw new ConsentNotValidError(`Cannot join pool ${poolId}: ${why}`, { details: { poolId } });
    const peerId = this.#c.p2p.peerId.toString();
    const signature = await this.#c.identity.account.signTypedData(
      poolJoinTypedData({ poolId: BigInt(pool.poolId), consentId, peerId }),
    );
    const response = await this.#ask(pool, {
      v: 1,
      type: "join",
      poolId: pool.poolId,
      contributor: this.#me,
      consentId: params.consentId,
      signature,
    }, options.signal);
    if ("error" in response) {
      throw new PoolJoinRefusedError(
        response.error.code,
        `The operator refused the join: ${response.error.message}`,
      );
    }
    this.#store.putMembership({
      poolId: pool.poolId,
      operator: pool.terms.operator,
      operatorPeer: pool.peerId,
      consentId,
      joinedAt: Date.now(),
    });
    this.#c.log.info("joined a pool", { poolId: pool.poolId, consentId: params.consentId });
    return this.getPool(pool.poolId);
  }

  /**
   * Leaves `poolId`: this node answers no more `contribute` from now on, and tells the operator's node.
   * `notified` is false when the operator could not be told (it then gets a refusal at its next version).
   */
  async leavePool(
    poolId: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ pool: PoolRecord; notified: boolean }> {
    const pool = this.getPool(poolId).announcement;
    if (!this.#store.removeMembership(pool.poolId)) {
      throw new NotFoundError(`This node is not a member of pool ${poolId}`, { details: { poolId } });
    }
    let notified = false;
    try {
      const response = await this.#ask(pool, {
        v: 1,
        type: "leave",
        poolId: pool.poolId,
        contributor: this.#me,
      }, options.signal);
      notified = "ok" in response;
    } catch (err) {
      this.#c.log.warn("failed to tell the operator about leaving a pool", { poolId, error: err });
    }
    this.#c.log.info("left a pool", { poolId: pool.poolId, notified });
    return { pool: this.getPool(pool.poolId), notified };
  }

  /** See `versions.ts`. */
  publishVersion(poolId: string, options: PublishVersionOptions = {}): Promise<VersionRecord> {
    return publishVersion(this.#versionsContext(), checkPoolId(poolId), options);
  }

  previewPublishVersion(poolId: string, options: { stake?: bigint; signal?: AbortSignal } = {}) {
    return previewPublishVersion(this.#versionsContext(), checkPoolId(poolId), options);
  }

  /** The distributions of this node's versions' sales, oldest first. */
  listDistributions() {
    return this.#store.listDistributions();
  }

  /** Settles pending distributions now (they also settle as sales complete). */
  settleDistributions(options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.#distributions.settlePending(options);
  }

  /** Asks `peerId` for the pools it knows and keeps those that check out; resolves with how many were new. */
  async syncWith(peerId: string, options: { signal?: AbortSignal } = {}): Promise<{ accepted: number }> {
    const last = this.#synced.get(peerId) ?? 0;
    if (Date.now() - last < minute && !options.signal) return { accepted: 0 };
    this.#synced.set(peerId, Date.now());
    const signal = this.#signal(options.signal);
    const response = await askPeer(this.#c.p2p, peerId, { v: 1, type: "announcements" }, { signal });
    if (!("announcements" in response)) return { accepted: 0 };
    let accepted = 0;
    for (const a of response.announcements) if ((await this.#ingest(a, peerId)) === "accept") accepted++;
    return { accepted };
  }

  #record(a: PoolAnnouncement): PoolRecord {
    const operator = a.terms.operator === this.#me;
    const membership = this.#store.getMembership(a.poolId);
    return {
      announcement: a,
      role: operator ? "operator" : membership ? "member" : null,
      members: operator
        ? this.#store.listMembers(a.poolId).map((m) => ({
          address: m.contributor,
          consentId: m.consentId,
          joinedAt: m.joinedAt,
        }))
        : [],
      ...(membership ? { membership } : {}),
      versions: operator ? this.#store.listVersions(a.poolId) : [],
    };
  }

  async #ask(pool: PoolAnnouncement, request: Parameters<typeof askPeer>[2], signal?: AbortSignal) {
    try {
      return await askPeer(this.#c.p2p, pool.peerId, request, { signal: this.#signal(signal) });
    } catch (err) {
      signal?.throwIfAborted();
      throw new PoolUnreachableError(
        `Cannot reach the operator of pool ${pool.poolId} (${pool.peerId.slice(0, 16)}…): ${
          (err as Error).message
        }`,
        { cause: err },
      );
    }
  }

  #signal(signal?: AbortSignal): AbortSignal {
    return AbortSignal.any(
      [AbortSignal.timeout(this.#init.requestTimeout), signal, this.#controller?.signal].filter((
        s,
      ): s is AbortSignal => s !== undefined),
    );
  }

  async #announce(a: PoolAnnouncement): Promise<void> {
    try {
      await this.#c.p2p.publish(POOLS_TOPIC, encodePoolAnnouncement(a));
    } catch (err) {
      this.#c.log.warn("failed to gossip a pool announcement", { poolId: a.poolId, error: err });
    }
  }

  async #validateGossip(from: string, data: Uint8Array): Promise<ValidationResult> {
    if (!this.#controller || this.#controller.signal.aborted) return "ignore";
    let a: PoolAnnouncement;
    try {
      a = decodePoolAnnouncement(data);
    } catch (err) {
      this.#c.log.debug("rejected a pool announcement", { from, error: err });
      return "reject";
    }
    return await this.#ingest(a, from);
  }

  #ingest(a: PoolAnnouncement, from: string): Promise<ValidationResult> {
    const { chain, log } = this.#c;
    return ingestPoolAnnouncement({ store: this.#store, client: () => chain.client, log }, a, from);
  }

  #tick(): void {
    const signal = this.#controller?.signal;
    if (!signal || signal.aborted) return;
    for (const a of this.#store.listPools({ operator: this.#me })) void this.#announce(a);
    void this.#distributions.settlePending({ signal });
  }

  #serveContext() {
    const { sources, privacy, log, chain } = this.#c;
    return {
      store: this.#store,
      client: () => chain.client,
      me: this.#me,
      sources,
      privacy,
      log,
      maxMembers: this.#init.maxMembers,
      limits: this.#limits,
    };
  }

  #versionsContext() {
    const { p2p, chain, identity, datasets, blocks, log } = this.#c;
    return {
      store: this.#store,
      p2p,
      chain,
      identity,
      datasets,
      blocks,
      log,
      contributeTimeout: this.#init.contributeTimeout,
    };
  }
}
