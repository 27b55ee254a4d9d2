/**
 * The replication service: announces local datasets in the DHT and keeps
 * every watched dataset at its replication target. Each repair round counts
 * the live providers of a dataset (DHT providers that answer a probe); when
 * there are fewer than the target, the nodes closest to the dataset's key
 * among the known nodes that do not hold it yet fetch it and provide it.
 */
import { CID } from "multiformats/cid";
import { toManifestCid } from "../../../protocol/ids.ts";
import { CHUNKS_PROTOCOL } from "../../../protocol/topics.ts";
import { type Database, migrate } from "../db/mod.ts";
import type { BlockStore } from "../blocks/mod.ts";
import type { P2P } from "../p2p/mod.ts";
import type { Logger } from "../../log.ts";
import { KosmosError } from "../../errors.ts";
import { minute, second } from "../../constants.ts";
import { chunkBytes, type Fetches, type FetchProgress } from "../fetches/mod.ts";
import type { Transfer } from "../transfer/mod.ts";
import { timeoutSignal } from "../../signals.ts";
import { Holder } from "./holder.ts";
import { IdleGate } from "./idle.ts";
import { findManifest, localManifest, missingChunk } from "./local.ts";
import {
  MIGRATIONS,
  type ProvideDetail,
  type ReplicationState,
  type ReplicationStatus,
  type Role,
  type Row,
  toState,
} from "./schema.ts";

export type { ProvideDetail, ReplicationState, ReplicationStatus, Role } from "./schema.ts";

/** A dataset cannot be provided: its manifest or a chunk is not in the local store. */
export class NotLocalError extends KosmosError {
  override name = "NotLocalError";
}

export interface ReplicationComponents {
  db: Database;
  blocks: BlockStore;
  p2p: P2P;
  transfer: Transfer;
  fetches: Fetches;
  log: Logger;
  /** Disk offered for replicas, in GB (`config.storage.quotaGB`); 0 takes none. */
  quotaGB: number;
}

export interface ReplicationInit {
  /** Live providers each dataset should have. @default 3 */
  target?: number;
  /** ms between repair rounds. @default 1 minute */
  repairInterval?: number;
  /** ms a provider has to answer the liveness probe. @default 3 s */
  probeTimeout?: number;
  /** ms one DHT lookup may take. @default 10 s */
  findTimeout?: number;
  /**
   * Repair rounds a dataset stays under its target before one more node
   * (the next closest) steps in to replicate it. @default 10
   */
  escalateRounds?: number;
}

export function createReplication(
  components: ReplicationComponents,
  init: ReplicationInit = {},
): Replication {
  return new Replication(components, init);
}

/** Emits `provide` and `unprovide` (`CustomEvent<ProvideDetail>`) and `checked` (`CustomEvent<ReplicationState>`). */
export class Replication extends EventTarget {
  readonly #c: ReplicationComponents;
  readonly #init: Required<ReplicationInit>;
  #timer?: ReturnType<typeof setTimeout>;
  #stopping = new AbortController();
  #round?: Promise<void>;
  /** A full round (every watched or held dataset) is due. */
  #again = false;
  /** Datasets to check in the next round even when it is not a full one (newly watched). */
  #due = new Set<string>();
  #nextFullAt = 0;
  #deficitRounds = new Map<string, number>();
  #onFetchDone = (evt: Event) =>
    void this.#gate.run(() => this.#fetchDone((evt as CustomEvent<FetchProgress>).detail));
  #started = false;
  readonly #holder: Holder;
  /** Announcements, fetch completions being announced, and repair rounds in flight. */
  readonly #gate = new IdleGate();

  constructor(components: ReplicationComponents, init: ReplicationInit) {
    super();
    this.#c = components;
    this.#holder = new Holder(components);
    this.#init = {
      target: init.target ?? 3,
      repairInterval: init.repairInterval ?? minute,
      probeTimeout: init.probeTimeout ?? 3 * second,
      findTimeout: init.findTimeout ?? 10 * second,
      escalateRounds: init.escalateRounds ?? 10,
    };
    if (!Number.isInteger(this.#init.target) || this.#init.target < 1) {
      throw new RangeError(
        `Cannot create replication: target ${this.#init.target} must be a positive integer`,
      );
    }
  }

  get target(): number {
    return this.#init.target;
  }

  start(): Promise<void> {
    migrate(this.#c.db, "replication", MIGRATIONS);
    this.#stopping = new AbortController();
    this.#started = true;
    this.#nextFullAt = 0;
    this.#c.fetches.addEventListener("complete", this.#onFetchDone);
    // Provider records live in memory on the DHT peers: announce what we hold again.
    const local = this.#rows().filter((r) => r.local === 1);
    void this.#gate.run(async () => {
      for (const row of local) {
        if (this.#stopping.signal.aborted) return;
        try {
          if (await this.#stillWhole(row)) {
            await this.#announce(CID.parse(row.manifest_cid), this.#stopping.signal);
          }
        } catch (err) {
          if (!this.#stopping.signal.aborted) this.#c.log.warn("failed to announce dataset", { error: err });
        }
      }
    });
    this.#schedule(0);
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.#started = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#stopping.abort(new KosmosError("replication stopping"));
    this.#c.fetches.removeEventListener("complete", this.#onFetchDone);
    await this.#round?.catch(() => {});
  }

  /**
   * Takes a share in keeping `manifestCid` at its replication target: from
   * now on every repair round counts its providers, and this node fetches a
   * replica when it is among the closest nodes that could add one.
   */
  watch(manifestCid: string, options: { target?: number } = {}): void {
    const cid = toManifestCid(manifestCid);
    const target = options.target ?? this.#init.target;
    this.#c.db.prepare(
      `INSERT INTO replication (manifest_cid, target, watched, created_at) VALUES (?, ?, 1, ?)
       ON CONFLICT (manifest_cid) DO UPDATE SET watched = 1, target = excluded.target`,
    ).run(cid, target, Date.now());
    // Only this dataset: a full round per new listing would make every node look up every
    // listing again each time one more is announced.
    this.#due.add(cid);
    this.#kick();
  }

  /** Stops watching a dataset (a replica already held stays until {@link unprovideDataset}). */
  unwatch(manifestCid: string): void {
    this.#c.db.prepare("UPDATE replication SET watched = 0 WHERE manifest_cid = ?").run(
      toManifestCid(manifestCid),
    );
  }

  /**
   * Announces a dataset held in full in the local store: one provider record,
   * its manifest CID, goes into the DHT (a provider of the manifest serves
   * every chunk of it; chunks are never announced one by one). Throws
   * {@link NotLocalError} when a block is missing.
   */
  async provideDataset(
    manifestCid: string,
    options: { signal?: AbortSignal; role?: Role; timeout?: number } = {},
  ): Promise<void> {
    const cid = CID.parse(toManifestCid(manifestCid));
    const manifest = await localManifest(this.#c.blocks, cid);
    if (!manifest) throw new NotLocalError(`Cannot provide "${cid}": the manifest is not stored here`);
    const missing = await missingChunk(this.#c.blocks, manifest);
    if (missing) throw new NotLocalError(`Cannot provide "${cid}": chunk "${missing}" is not stored here`);
    const role = options.role ?? "origin";
    const bytes = manifest.chunks.reduce((sum, _c, i) => sum + chunkBytes(manifest, i), 0);
    this.#c.db.prepare(
      `INSERT INTO replication (manifest_cid, target, local, role, bytes, created_at) VALUES (?, ?, 1, ?, ?, ?)
       ON CONFLICT (manifest_cid) DO UPDATE SET local = 1, bytes = excluded.bytes,
         role = CASE WHEN replication.role = 'origin' THEN 'origin' ELSE excluded.role END`,
    ).run(cid.toString(), this.#init.target, role, bytes, Date.now());
    using t = timeoutSignal(options.timeout ?? minute, options.signal);
    await this.#gate.run(() => this.#announce(cid, t.signal));
    this.#c.log.info("provided dataset", {
      manifestCid: cid.toString(),
      role,
      chunks: manifest.chunks.length,
    });
    this.dispatchEvent(
      new CustomEvent<ProvideDetail>("provide", {
        detail: { manifestCid: cid.toString(), role: this.#row(cid.toString())!.role! },
      }),
    );
  }

  /** Stops announcing a dataset; a replica's blocks are deleted, others are kept. */
  async unprovideDataset(manifestCid: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const cid = CID.parse(toManifestCid(manifestCid));
    const row = this.#row(cid.toString());
    if (!row?.local) return;
    const manifest = await localManifest(this.#c.blocks, cid);
    using t = timeoutSignal(minute, options.signal);
    await this.#c.p2p.libp2p.contentRouting.cancelReprovide(cid, { signal: t.signal }).catch(() => {});
    this.#c.db.prepare("UPDATE replication SET local = 0, bytes = 0 WHERE manifest_cid = ?").run(
      cid.toString(),
    );
    if (row.role === "replica") {
      for (const chunk of manifest?.chunks ?? []) await this.#c.blocks.delete(chunk);
      await this.#c.blocks.delete(cid);
    }
    this.#c.log.info("stopped providing dataset", { manifestCid: cid.toString(), role: row.role });
    this.dispatchEvent(
      new CustomEvent<ProvideDetail>("unprovide", {
        detail: { manifestCid: cid.toString(), role: row.role! },
      }),
    );
  }

  /** The replication state of a dataset this node watches or holds, else `undefined`. */
  getReplication(manifestCid: string): ReplicationState | undefined {
    const row = this.#row(manifestCid);
    return row ? toState(row) : undefined;
  }

  listReplication(): ReplicationState[] {
    return this.#rows().map((r) => toState(r));
  }

  /**
   * Resolves once no announcement is in flight and no repair round runs (at
   * once when idle), e.g. to time something else with nothing of this
   * service running. Rejects with the signal's reason when it aborts.
   */
  whenIdle(options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.#gate.whenIdle(options.signal);
  }

  /** Runs a repair round now (as the timer would) and resolves when it is done. */
  async repairNow(): Promise<void> {
    clearTimeout(this.#timer);
    if (this.#round) {
      this.#again = true;
      await this.#round;
    }
    this.#again = true;
    await this.#runRound();
  }

  #row(manifestCid: string): Row | undefined {
    return this.#c.db.prepare("SELECT * FROM replication WHERE manifest_cid = ?").get(manifestCid) as
      | Row
      | undefined;
  }

  #rows(): Row[] {
    return this.#c.db.prepare("SELECT * FROM replication ORDER BY created_at").all() as unknown as Row[];
  }

  /**
   * Whether this node still holds every block of a dataset it provides. When
   * one went missing (e.g. a file the store found corrupt and removed), it
   * stops announcing the dataset and fetches what is missing from the other
   * providers (only that); the completed fetch announces it again.
   */
  async #stillWhole(row: Row): Promise<boolean> {
    const cid = CID.parse(row.manifest_cid);
    const manifest = await localManifest(this.#c.blocks, cid);
    const missing = manifest ? await missingChunk(this.#c.blocks, manifest) : cid;
    if (missing === undefined) return true;
    this.#c.log.warn("stopped providing incomplete dataset; fetching what is missing", {
      manifestCid: row.manifest_cid,
      missing: missing.toString(),
    });
    await this.#c.p2p.libp2p.contentRouting.cancelReprovide(cid).catch(() => {});
    this.#c.db.prepare("UPDATE replication SET local = 0 WHERE manifest_cid = ?").run(row.manifest_cid);
    this.dispatchEvent(
      new CustomEvent<ProvideDetail>("unprovide", {
        detail: { manifestCid: row.manifest_cid, role: row.role ?? "origin" },
      }),
    );
    if (this.#started) this.#c.fetches.startFetch(row.manifest_cid, { again: true });
    return false;
  }

  /** Puts this node's provider record for the dataset `cid` (its manifest CID) into the DHT. */
  async #announce(cid: CID, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    await this.#c.p2p.libp2p.contentRouting.provide(cid, { signal });
  }

  /** Schedules a full round in `delay` ms (or right after the running one). */
  #schedule(delay: number): void {
    if (!this.#started) return;
    if (this.#round) {
      this.#again = true;
      return;
    }
    this.#nextFullAt = Math.min(this.#nextFullAt, Date.now() + delay);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#runRound(), delay);
  }

  /** Runs a round for the datasets in `#due` now (or right after the running one). */
  #kick(): void {
    if (!this.#started || this.#round) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#runRound(), 0);
  }

  #runRound(): Promise<void> {
    if (this.#round) return this.#round;
    this.#round = this.#gate.run(async () => {
      do {
        const full = this.#again || Date.now() >= this.#nextFullAt;
        this.#again = false;
        if (full) this.#nextFullAt = Date.now() + this.#init.repairInterval;
        const due = this.#due;
        this.#due = new Set();
        const rows = full
          ? this.#rows()
          : [...due].map((cid) => this.#row(cid)).filter((r) => r !== undefined);
        for (const row of rows) {
          if (!this.#started) return;
          if (row.watched !== 1 && row.local !== 1) continue;
          try {
            await this.#check(row);
          } catch (err) {
            if (!this.#stopping.signal.aborted) {
              this.#c.log.warn("failed to check replication", { manifestCid: row.manifest_cid, error: err });
            }
          }
        }
      } while ((this.#again || this.#due.size > 0) && this.#started);
    }).finally(() => {
      this.#round = undefined;
      if (this.#started) {
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => void this.#runRound(), Math.max(0, this.#nextFullAt - Date.now()));
      }
    });
    return this.#round;
  }

  /** Counts live providers of one dataset and starts a replica here when this node is responsible. */
  async #check(row: Row): Promise<void> {
    const cid = CID.parse(row.manifest_cid);
    const selfId = this.#c.p2p.peerId.toString();
    const local = row.local === 1 && await this.#stillWhole(row);
    if (!local && row.watched === 1 && !(await this.#mayStepIn(row))) return;
    const live = await this.#liveProviders(cid);
    if (local) live.add(selfId);
    const providers = [...live].sort();
    let status: ReplicationStatus = live.size >= row.target
      ? "replicated"
      : live.size === 0
      ? "unavailable"
      : "under-replicated";
    const fetch = this.#c.fetches.getFetch(row.manifest_cid);
    const fetching = fetch?.status === "queued" || fetch?.status === "running";
    if (fetching) status = "fetching";

    if (!local && !fetching && row.watched === 1 && live.size > 0 && live.size < row.target) {
      const deficit = row.target - live.size;
      const rounds = (this.#deficitRounds.get(row.manifest_cid) ?? 0) + 1;
      this.#deficitRounds.set(row.manifest_cid, rounds);
      // When the closest nodes do not step in (full, offline, quota 0), widen the circle by one node
      // every `escalateRounds` rounds; sooner would race replicas that are still fetching or announcing.
      const slack = Math.floor(rounds / this.#init.escalateRounds);
      const candidates = await this.#candidates(live);
      const rank = (await this.#holder.rankHolders(cid, candidates)).indexOf(selfId);
      if (rank >= 0 && rank < deficit + slack && await this.#hasRoomFor(cid, providers)) {
        this.#c.log.info("started replica", {
          manifestCid: row.manifest_cid,
          live: live.size,
          target: row.target,
          rank,
        });
        this.#c.fetches.startFetch(row.manifest_cid, { providers: providers.filter((p) => p !== selfId) });
        this.#c.db.prepare("UPDATE replication SET role = COALESCE(role, 'replica') WHERE manifest_cid = ?")
          .run(row.manifest_cid);
        status = "fetching";
      }
    } else {
      this.#deficitRounds.delete(row.manifest_cid);
    }
    this.#c.db.prepare(
      "UPDATE replication SET providers = ?, status = ?, checked_at = ? WHERE manifest_cid = ?",
    )
      .run(JSON.stringify(providers), status, Date.now(), row.manifest_cid);
    this.dispatchEvent(
      new CustomEvent<ReplicationState>("checked", { detail: this.getReplication(row.manifest_cid)! }),
    );
  }

  /**
   * Whether this node could be chosen to add a replica of `row` this round,
   * whatever the provider count turns out to be. The chosen ones rank below
   * `deficit + slack` among the candidates that do not hold it; leaving out
   * the live providers lifts a node by at most their number, so a node ranked
   * `target + slack` or further among all candidates is never chosen, and
   * skips the DHT lookup: only the few nodes closest to a dataset count its
   * providers, instead of every node that indexed the listing. Skipped rounds
   * count towards widening the circle, as unanswered deficits do.
   */
  async #mayStepIn(row: Row): Promise<boolean> {
    const fetch = this.#c.fetches.getFetch(row.manifest_cid);
    if (fetch?.status === "queued" || fetch?.status === "running") return true;
    const rounds = this.#deficitRounds.get(row.manifest_cid) ?? 0;
    const slack = Math.floor(rounds / this.#init.escalateRounds);
    const selfId = this.#c.p2p.peerId.toString();
    const candidates = await this.#candidates(new Set());
    const rank = (await this.#holder.rankHolders(CID.parse(row.manifest_cid), candidates)).indexOf(selfId);
    if (rank >= 0 && rank < row.target + slack) return true;
    this.#deficitRounds.set(row.manifest_cid, rounds + 1);
    if (row.status !== "elsewhere") {
      this.#c.db.prepare("UPDATE replication SET status = 'elsewhere', checked_at = ? WHERE manifest_cid = ?")
        .run(Date.now(), row.manifest_cid);
    }
    return false;
  }

  /** DHT providers of `cid` (other than this node) that answer a `has` probe for the manifest. */
  #liveProviders(cid: CID): Promise<Set<string>> {
    return this.#holder.findLiveHolders(cid, {
      findTimeout: this.#init.findTimeout,
      probeTimeout: this.#init.probeTimeout,
      signal: this.#stopping.signal,
      skip: (peerId) => this.#c.fetches.scores.isBanned(peerId),
    });
  }

  /** This node and the connected Kosmos nodes (they speak the chunk protocol), minus `exclude`. */
  async #candidates(exclude: Set<string>): Promise<string[]> {
    const out = new Set<string>();
    if (this.#c.quotaGB > 0) out.add(this.#c.p2p.libp2p.peerId.toString());
    for (const id of await this.#c.p2p.protocolPeers(CHUNKS_PROTOCOL)) out.add(id);
    for (const id of exclude) out.delete(id);
    return [...out];
  }

  /** Fetches the manifest (when needed) and checks the replica fits in the storage quota. */
  async #hasRoomFor(cid: CID, providers: string[]): Promise<boolean> {
    if (!(this.#c.quotaGB > 0)) return false;
    const manifest = await findManifest(this.#c, cid, {
      providers,
      timeout: this.#init.probeTimeout * 3,
      signal: this.#stopping.signal,
    });
    if (!manifest) return false;
    const size = manifest.chunks.reduce((sum, _c, i) => sum + chunkBytes(manifest, i), 0);
    const used =
      (this.#c.db.prepare("SELECT COALESCE(SUM(bytes), 0) AS used FROM replication WHERE role = 'replica'")
        .get() as { used: number }).used;
    const room = this.#holder.hasRoom(size, used);
    if (!room) {
      this.#c.log.info("declined replica: over storage quota", { manifestCid: cid.toString(), bytes: size });
    }
    return room;
  }

  async #fetchDone(progress: FetchProgress): Promise<void> {
    if (!this.#started) return;
    const row = this.#row(progress.manifestCid);
    const role: Role = row?.role === "replica" ? "replica" : row?.role === "origin" ? "origin" : "fetched";
    try {
      await this.provideDataset(progress.manifestCid, { role, signal: this.#stopping.signal });
    } catch (err) {
      if (!this.#stopping.signal.aborted) {
        this.#c.log.warn("failed to provide fetched dataset", {
          manifestCid: progress.manifestCid,
          error: err,
        });
      }
    }
    // Count the providers again now, as part of this work (so whenIdle() waits for it too).
    if (!this.#started) return;
    this.#again = true;
    await this.#runRound().catch(() => {});
  }
}
