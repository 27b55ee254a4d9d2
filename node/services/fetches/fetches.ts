/**
 * The fetches service: downloads datasets by manifest CID in the background,
 * records each one's progress in SQLite (`fetches` table) and, on start,
 * resumes every fetch that had not finished — chunks already verified in the
 * block store are not downloaded again.
 */
import { delay } from "../../delay.ts";
import { toManifestCid } from "../../../protocol/ids.ts";
import type { Database } from "../db/mod.ts";
import { migrate } from "../db/mod.ts";
import type { BlockStore } from "../blocks/mod.ts";
import type { P2P } from "../p2p/mod.ts";
import type { Logger } from "../../log.ts";
import { KosmosError } from "../../errors.ts";
import { minute, second } from "../../constants.ts";
import { type DatasetProgress, fetchDataset } from "./fetch_dataset.ts";
import type { Transfer } from "../transfer/mod.ts";
import { ProviderScores } from "./scores.ts";
import { timeoutSignal } from "../../signals.ts";

export type FetchStatus = "queued" | "running" | "complete" | "failed";

export interface FetchProgress extends DatasetProgress {
  manifestCid: string;
  status: FetchStatus;
  /** Why the fetch failed, when it did. */
  error?: string;
  /** ms since the epoch. */
  updatedAt: number;
}

/** A fetch ended without the dataset. */
export class FetchError extends KosmosError {
  override name = "FetchError";
}

export interface FetchesComponents {
  db: Database;
  blocks: BlockStore;
  p2p: P2P;
  transfer: Transfer;
  log: Logger;
}

export interface FetchesInit {
  /** Chunk requests in flight per fetch. @default 16 */
  concurrency?: number;
  /** Datasets fetched at once; more wait their turn. @default 2 */
  maxFetches?: number;
  /** ms one DHT provider lookup may take. @default 10 s */
  findTimeout?: number;
  /** ms a progress write to SQLite is held back, to batch them. @default 250 */
  persistInterval?: number;
  /**
   * Waits (ms) before trying again when no provider can be reached, e.g. just
   * after a (re)start, before the node has joined the network. Then it fails.
   * @default [1000, 2000, 4000, 8000, 16000]
   */
  retryDelays?: number[];
}

export interface StartFetchOptions {
  /** Peer ids known to provide the dataset (e.g. its seller). @default [] */
  providers?: string[];
  /**
   * Runs a fetch that completed before once more (blocks of it went missing
   * since); blocks still stored are not downloaded again. @default false
   */
  again?: boolean;
}

const DEFAULT_RETRY_DELAYS = [1000, 2000, 4000, 8000, 16000];

const MIGRATIONS = [
  `CREATE TABLE fetches (
    manifest_cid TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'complete', 'failed')),
    chunks_verified INTEGER NOT NULL DEFAULT 0,
    chunks_total INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    providers TEXT NOT NULL DEFAULT '[]',
    penalised TEXT NOT NULL DEFAULT '[]',
    hints TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX fetches_status ON fetches (status);`,
];

interface Row {
  manifest_cid: string;
  status: FetchStatus;
  chunks_verified: number;
  chunks_total: number;
  bytes: number;
  providers: string;
  penalised: string;
  hints: string;
  error: string | null;
  updated_at: number;
}

function toProgress(row: Row): FetchProgress {
  const progress: FetchProgress = {
    manifestCid: row.manifest_cid,
    status: row.status,
    chunksVerified: row.chunks_verified,
    chunksTotal: row.chunks_total,
    bytes: row.bytes,
    providers: JSON.parse(row.providers),
    penalised: JSON.parse(row.penalised),
    updatedAt: row.updated_at,
  };
  if (row.error !== null) progress.error = row.error;
  return progress;
}

export function createFetches(components: FetchesComponents, init: FetchesInit = {}): Fetches {
  return new Fetches(components, init);
}

/**
 * Emits `progress`, `complete` and `failed` events, each a
 * `CustomEvent<FetchProgress>`.
 */
export class Fetches extends EventTarget {
  readonly #c: FetchesComponents;
  readonly #init: Required<FetchesInit>;
  readonly scores = new ProviderScores();
  #live = new Map<string, FetchProgress>();
  #queue: string[] = [];
  #running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  #started = false;

  constructor(components: FetchesComponents, init: FetchesInit) {
    super();
    this.#c = components;
    this.#init = {
      concurrency: init.concurrency ?? 16,
      maxFetches: init.maxFetches ?? 2,
      findTimeout: init.findTimeout ?? 10 * second,
      persistInterval: init.persistInterval ?? 250,
      retryDelays: init.retryDelays ?? DEFAULT_RETRY_DELAYS,
    };
  }

  start(): Promise<void> {
    migrate(this.#c.db, "fetches", MIGRATIONS);
    this.#started = true;
    const unfinished = this.#c.db.prepare(
      "SELECT manifest_cid FROM fetches WHERE status IN ('queued', 'running') ORDER BY created_at",
    ).all() as { manifest_cid: string }[];
    for (const { manifest_cid } of unfinished) this.#enqueue(manifest_cid);
    if (unfinished.length > 0) this.#c.log.info("resumed unfinished fetches", { count: unfinished.length });
    return Promise.resolve();
  }

  /** Aborts running fetches; they stay `running` in the database and resume on the next start. */
  async stop(): Promise<void> {
    this.#started = false;
    this.#queue = [];
    const running = [...this.#running.values()];
    for (const { controller } of running) controller.abort(new FetchError("node stopping"));
    await Promise.all(running.map((r) => r.done));
  }

  /**
   * Starts fetching a dataset, or returns the fetch already queued, running or
   * complete (a failed fetch is started again, and a complete one with
   * `again`).
   */
  startFetch(manifestCid: string, options: StartFetchOptions = {}): FetchProgress {
    const cid = toManifestCid(manifestCid);
    if (!this.#started) throw new FetchError(`Cannot fetch "${cid}": the fetches service is not running`);
    const existing = this.getFetch(cid);
    const hints = [...new Set([...(existing ? this.#hints(cid) : []), ...(options.providers ?? [])])];
    if (existing && existing.status !== "failed" && !(options.again && existing.status === "complete")) {
      if (options.providers?.length) {
        this.#c.db.prepare("UPDATE fetches SET hints = ? WHERE manifest_cid = ?").run(
          JSON.stringify(hints),
          cid,
        );
      }
      return existing;
    }
    const now = Date.now();
    this.#c.db.prepare(
      `INSERT INTO fetches (manifest_cid, status, hints, created_at, updated_at) VALUES (?, 'queued', ?, ?, ?)
       ON CONFLICT (manifest_cid) DO UPDATE SET status = 'queued', error = NULL, hints = excluded.hints,
         updated_at = excluded.updated_at`,
    ).run(cid, JSON.stringify(hints), now, now);
    this.#enqueue(cid);
    return this.getFetch(cid)!;
  }

  /** Progress of a fetch, or `undefined` when this node never started one for the dataset. */
  getFetch(manifestCid: string): FetchProgress | undefined {
    const live = this.#live.get(manifestCid);
    if (live) return { ...live };
    const row = this.#c.db.prepare("SELECT * FROM fetches WHERE manifest_cid = ?").get(manifestCid) as
      | Row
      | undefined;
    return row ? toProgress(row) : undefined;
  }

  /** Every fetch, newest first. */
  listFetches(): FetchProgress[] {
    const rows = this.#c.db.prepare("SELECT * FROM fetches ORDER BY created_at DESC")
      .all() as unknown as Row[];
    return rows.map((row) => this.#live.get(row.manifest_cid) ?? toProgress(row));
  }

  /**
   * Resolves with the progress once the fetch is complete; rejects with a
   * {@link FetchError} when it fails. @default timeout 10 minutes
   */
  async waitForFetch(
    manifestCid: string,
    options: { signal?: AbortSignal; timeout?: number } = {},
  ): Promise<FetchProgress> {
    using t = timeoutSignal(options.timeout ?? 10 * minute, options.signal);
    const { promise, resolve, reject } = Promise.withResolvers<FetchProgress>();
    const check = () => {
      const progress = this.getFetch(manifestCid);
      if (progress?.status === "complete") resolve(progress);
      if (progress?.status === "failed") {
        reject(
          new FetchError(`Cannot fetch "${manifestCid}": ${progress.error}`, { details: { manifestCid } }),
        );
      }
    };
    const onEvent = (evt: Event) => {
      if ((evt as CustomEvent<FetchProgress>).detail.manifestCid === manifestCid) check();
    };
    const onAbort = () => reject(t.signal.reason);
    this.addEventListener("complete", onEvent);
    this.addEventListener("failed", onEvent);
    t.signal.addEventListener("abort", onAbort);
    try {
      check();
      return await promise;
    } finally {
      this.removeEventListener("complete", onEvent);
      this.removeEventListener("failed", onEvent);
      t.signal.removeEventListener("abort", onAbort);
    }
  }

  #hints(cid: string): string[] {
    const row = this.#c.db.prepare("SELECT hints FROM fetches WHERE manifest_cid = ?").get(cid) as
      | { hints: string }
      | undefined;
    return row ? JSON.parse(row.hints) : [];
  }

  #enqueue(cid: string): void {
    if (this.#queue.includes(cid) || this.#running.has(cid)) return;
    this.#queue.push(cid);
    this.#pump();
  }

  #pump(): void {
    while (this.#started && this.#running.size < this.#init.maxFetches && this.#queue.length > 0) {
      const cid = this.#queue.shift()!;
      const controller = new AbortController();
      const done = this.#run(cid, controller.signal).finally(() => {
        this.#running.delete(cid);
        this.#pump();
      });
      this.#running.set(cid, { controller, done });
    }
  }

  async #run(cid: string, signal: AbortSignal): Promise<void> {
    const { db, log } = this.#c;
    const update = db.prepare(
      `UPDATE fetches SET status = ?, chunks_verified = ?, chunks_total = ?, bytes = ?, providers = ?, penalised = ?,
         error = ?, updated_at = ? WHERE manifest_cid = ?`,
    );
    const persist = (p: FetchProgress) => {
      update.run(
        p.status,
        p.chunksVerified,
        p.chunksTotal,
        p.bytes,
        JSON.stringify(p.providers),
        JSON.stringify(p.penalised),
        p.error ?? null,
        p.updatedAt,
        cid,
      );
    };
    const before = this.getFetch(cid)!;
    let current: FetchProgress = { ...before, status: "running", updatedAt: Date.now() };
    delete current.error;
    this.#live.set(cid, current);
    persist(current);
    let lastWrite = 0;
    const started = performance.now();
    const attempt = () =>
      fetchDataset({ ...this.#c, scores: this.scores }, cid, {
        signal,
        providers: this.#hints(cid),
        concurrency: this.#init.concurrency,
        findTimeout: this.#init.findTimeout,
        onProgress: (p) => {
          current = { ...current, ...p, updatedAt: Date.now() };
          this.#live.set(cid, current);
          if (current.updatedAt - lastWrite >= this.#init.persistInterval) {
            lastWrite = current.updatedAt;
            persist(current);
          }
          this.dispatchEvent(new CustomEvent("progress", { detail: { ...current } }));
        },
      });
    try {
      let result: Awaited<ReturnType<typeof attempt>> | undefined;
      for (const wait of [...this.#init.retryDelays, -1]) {
        try {
          result = await attempt();
          break;
        } catch (err) {
          if (wait < 0 || signal.aborted || (err as Error).name !== "NoProviderError") throw err;
          log.debug("found no provider yet; trying again", { manifestCid: cid, delay: wait });
          await delay(wait, signal);
        }
      }
      const { progress } = result!;
      current = { ...current, ...progress, status: "complete", updatedAt: Date.now() };
      persist(current);
      this.#live.delete(cid);
      log.info("fetched dataset", {
        manifestCid: cid,
        chunks: progress.chunksTotal,
        bytes: progress.bytes,
        providers: progress.providers.length,
        ms: Math.round(performance.now() - started),
      });
      this.dispatchEvent(new CustomEvent("complete", { detail: { ...current } }));
    } catch (err) {
      this.#live.delete(cid);
      if (signal.aborted) {
        // Interrupted by stop(): keep it "running" so the next start resumes it.
        persist(current);
        log.info("paused fetch", { manifestCid: cid, chunksVerified: current.chunksVerified });
        return;
      }
      current = { ...current, status: "failed", error: (err as Error).message, updatedAt: Date.now() };
      persist(current);
      log.warn("failed to fetch dataset", { manifestCid: cid, error: err });
      this.dispatchEvent(new CustomEvent("failed", { detail: { ...current } }));
    }
  }
}
