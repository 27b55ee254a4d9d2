/**
 * The replication service: announces local datasets in the DHT and keeps every watched dataset at
 * its target. Each repair round counts a dataset's live providers (its known ones while they answer,
 * else DHT providers that answer a probe; `repair.ts`); when there are fewer than the target, the
 * nodes closest to the dataset's key among the known nodes that do not hold it fetch and provide it.
 */
import { CID } from "multiformats/cid";
import { toManifestCid } from "../../../protocol/ids.ts";
import { type Database, migrate, type Statement, statementCache } from "../db/mod.ts";
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
import { type CircleView, RepairCircle } from "./circle.ts";
import { type CheckResult, DatasetChecker } from "./repair.ts";
import { datasetKeyHex } from "./neighbourhood.ts";
import { localManifest, missingChunk } from "./local.ts";
import {
  keyRows,
  MIGRATIONS,
  type ProvideDetail,
  type RepairStats,
  type ReplicationState,
  type Role,
  type Row,
  toState,
} from "./schema.ts";

export type { ProvideDetail, RepairStats, ReplicationState, ReplicationStatus, Role } from "./schema.ts";

/** A timer round visiting more datasets than this spreads its lookups over the repair interval. */
const PACE_FROM = 16;

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
   * (the next closest) steps in to replicate it, up to `target` more nodes. @default 10
   */
  escalateRounds?: number;
  /**
   * Most DHT lookups of providers one repair round makes; what is left waits
   * for the next rounds (held datasets and those known to have providers
   * first, least recently counted first within each; `circle.ts`). Counts
   * confirmed from known providers without a lookup are not bounded. @default 60
   */
  maxLookupsPerRound?: number;
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
  #onFetchDone = (evt: Event) =>
    void this.#gate.run(() => this.#fetchDone((evt as CustomEvent<FetchProgress>).detail));
  #started = false;
  readonly #holder: Holder;
  /** Announcements, fetch completions being announced, and repair rounds in flight. */
  readonly #gate = new IdleGate();
  readonly #circle: RepairCircle;
  readonly #checker: DatasetChecker;
  /** The largest target of a watched dataset: the circle a round visits is twice that. */
  #maxTarget: number;
  #stats: RepairStats = { rounds: 0, datasets: 0, lookups: 0, confirmed: 0, deferred: 0, durationMs: 0 };
  /** Prepared statements of the queries run once per dataset (a catalog sync watches hundreds at a time). */
  readonly #prepared: (sql: string) => Statement;
  readonly #totals = { lookups: 0, confirmed: 0 };

  constructor(components: ReplicationComponents, init: ReplicationInit) {
    super();
    this.#c = components;
    this.#prepared = statementCache(components.db);
    this.#holder = new Holder(components);
    this.#init = {
      target: init.target ?? 3,
      repairInterval: init.repairInterval ?? minute,
      probeTimeout: init.probeTimeout ?? 3 * second,
      findTimeout: init.findTimeout ?? 10 * second,
      escalateRounds: init.escalateRounds ?? 10,
      maxLookupsPerRound: init.maxLookupsPerRound ?? 60,
    };
    this.#circle = new RepairCircle(components.db);
    this.#checker = new DatasetChecker({
      c: components,
      init: this.#init,
      holder: this.#holder,
      signal: () => this.#stopping.signal,
      stillWhole: (row) => this.#stillWhole(row),
      checked: (manifestCid, result) => {
        this.#totals[result === "looked-up" ? "lookups" : "confirmed"]++;
        this.dispatchEvent(
          new CustomEvent<ReplicationState>("checked", { detail: this.getReplication(manifestCid)! }),
        );
      },
    });
    this.#maxTarget = this.#init.target;
    for (const key of ["target", "maxLookupsPerRound"] as const) {
      if (!Number.isInteger(this.#init[key]) || this.#init[key] < 1) {
        throw new RangeError(
          `Cannot create replication: ${key} ${this.#init[key]} must be a positive integer`,
        );
      }
    }
  }

  get target(): number {
    return this.#init.target;
  }

  start(): Promise<void> {
    migrate(this.#c.db, "replication", MIGRATIONS);
    this.#maxTarget = Math.max(this.#init.target, keyRows(this.#c.db, this.#c.log));
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
    this.#maxTarget = Math.max(this.#maxTarget, target);
    this.#prepared(
      `INSERT INTO replication (manifest_cid, target, watched, created_at, dkey) VALUES (?, ?, 1, ?, ?)
       ON CONFLICT (manifest_cid) DO UPDATE SET watched = 1, target = excluded.target,
         dkey = COALESCE(replication.dkey, excluded.dkey)`,
    ).run(cid, target, Date.now(), datasetKeyHex(CID.parse(cid).bytes));
    // Only this dataset: a full round per new listing would make every node look up every
    // listing again each time one more is announced.
    this.#due.add(cid);
    this.#kick();
  }

  /**
   * Stops watching a dataset (a replica already held stays until {@link unprovideDataset}); its row is
   * forgotten unless this node holds or fetches the dataset, so rows follow the catalog's listings.
   */
  unwatch(manifestCid: string): void {
    const cid = toManifestCid(manifestCid);
    this.#c.db.prepare("DELETE FROM replication WHERE manifest_cid = ? AND local = 0 AND role IS NULL").run(
      cid,
    );
    this.#c.db.prepare("UPDATE replication SET watched = 0 WHERE manifest_cid = ?").run(cid);
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
      `INSERT INTO replication (manifest_cid, target, local, role, bytes, created_at, dkey) VALUES (?, ?, 1, ?, ?, ?, ?)
       ON CONFLICT (manifest_cid) DO UPDATE SET local = 1, bytes = excluded.bytes,
         dkey = COALESCE(replication.dkey, excluded.dkey),
         role = CASE WHEN replication.role = 'origin' THEN 'origin' ELSE excluded.role END`,
    ).run(cid.toString(), this.#init.target, role, bytes, Date.now(), datasetKeyHex(cid.bytes));
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

  /** What the last full repair round did: datasets visited, DHT lookups made and left for later. */
  get repairStats(): RepairStats {
    return { ...this.#stats };
  }

  /** Provider counts since start: by a DHT lookup, or confirmed from the known providers without one. */
  get repairTotals(): { lookups: number; confirmed: number } {
    return { ...this.#totals };
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
    return this.#prepared("SELECT * FROM replication WHERE manifest_cid = ?").get(manifestCid) as
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
    this.#timer = setTimeout(() => void this.#runRound(true), delay);
  }

  /** Runs a round for the datasets in `#due` now (or right after the running one). */
  #kick(): void {
    if (!this.#started || this.#round) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#runRound(), 0);
  }

  /**
   * Runs rounds until nothing is due: a full one (the rows {@link RepairCircle.select} picks) when
   * it is time or asked for, else the newly watched datasets only. At most `maxLookupsPerRound`
   * datasets are counted per round; a timer round (`paced`) spreads them over the repair interval.
   */
  #runRound(paced = false): Promise<void> {
    if (this.#round) return this.#round;
    this.#round = this.#gate.run(async () => {
      do {
        const full = this.#again || Date.now() >= this.#nextFullAt;
        const pace = paced && !this.#again;
        paced = false;
        this.#again = false;
        const startedAt = Date.now();
        if (full) this.#nextFullAt = startedAt + this.#init.repairInterval;
        const dueRows = this.#takeDue();
        const due = new Set(dueRows.map((r) => r.manifest_cid));
        const view = await this.#circle.view(
          this.#c.p2p.peerId.toString(),
          await this.#checker.candidates(new Set()),
        );
        // The datasets due (newly watched, a fetch done) first, also in a full round: among thousands
        // of listings never counted they would otherwise wait for the rounds to reach them.
        const rows = full
          ? [
            ...dueRows,
            ...this.#circle.select(view, 2 * this.#maxTarget).filter((r) => !due.has(r.manifest_cid)),
          ]
          : dueRows;
        const budget = this.#init.maxLookupsPerRound;
        // A full round leaves out the datasets nobody provided at their last counts while they rest,
        // unless something new made them due (a re-announcement, a fetch done).
        const visited = new Set<string>();
        const toCount = rows.filter((row) => {
          if (row.watched !== 1 && row.local !== 1) return false;
          visited.add(row.manifest_cid);
          return !full || due.has(row.manifest_cid) || !this.#checker.resting(row, startedAt);
        });
        const gap = pace && toCount.length > PACE_FROM
          ? 0.9 * this.#init.repairInterval / Math.min(budget, toCount.length)
          : 0;
        let lookups = 0;
        let confirmed = 0;
        let deferred = 0;
        for (const row of toCount) {
          if (!this.#started) return;
          if (lookups >= budget) {
            deferred++;
            continue;
          }
          const result = await this.#checkRow(row, view);
          if (result === "confirmed") confirmed++;
          if (result !== "looked-up") continue;
          lookups++;
          if (gap === 0) continue;
          await this.#gate.rest(gap, this.#stopping.signal).catch(() => {});
          // Datasets watched meanwhile (a new listing) are counted in the rests, not after the round.
          for (const row of this.#takeDue()) if (this.#started) await this.#checkRow(row, view);
        }
        if (!full) continue;
        // Datasets that left the circle are no longer counted here: forget their skipped rounds.
        this.#checker.forgetExcept(visited);
        this.#stats = {
          rounds: this.#stats.rounds + 1,
          datasets: visited.size,
          lookups,
          confirmed,
          deferred,
          durationMs: Date.now() - startedAt,
        };
      } while ((this.#again || this.#due.size > 0) && this.#started);
    }).finally(() => {
      this.#round = undefined;
      if (this.#started) {
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => void this.#runRound(true), Math.max(0, this.#nextFullAt - Date.now()));
      }
    });
    return this.#round;
  }

  /** The rows of the datasets due, the most recently made due first, emptying the set. */
  #takeDue(): Row[] {
    const rows = [...this.#due].reverse().map((cid) => this.#row(cid));
    this.#due.clear();
    return rows.filter((r): r is Row => r !== undefined && (r.watched === 1 || r.local === 1));
  }

  /** One dataset's turn in a round (`repair.ts`); a failure is logged, `undefined`. */
  async #checkRow(row: Row, view: CircleView | undefined): Promise<CheckResult | undefined> {
    try {
      return await this.#checker.check(row, view);
    } catch (err) {
      if (!this.#stopping.signal.aborted) {
        this.#c.log.warn("failed to check replication", { manifestCid: row.manifest_cid, error: err });
      }
    }
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
    // Count its providers again now, as part of this work (so whenIdle() waits for it too);
    // only this dataset: a full round per completed fetch would repeat every lookup of the circle.
    if (!this.#started) return;
    this.#due.add(progress.manifestCid);
    await this.#runRound().catch(() => {});
  }
}
