/**
 * {@link EventsReader}: runs the raw-events statements of stats queries, and
 * the bounded tables of statistics releases, on a worker thread with its own
 * read-only connection to the node's database.
 * Such a statement reads every event of its range (seconds for millions of
 * events), and `node:sqlite` is synchronous: on the event loop it would stop
 * the node's HTTP server and libp2p services meanwhile. The database is in
 * WAL mode, so the worker sees every committed write and blocks no writer.
 *
 * Reads run one at a time, in order. A caller that gives up (its signal
 * aborts) stops its statement: a queued one is dropped, a running one ends
 * with its worker, and the next statement starts a new worker.
 *
 * ```ts
 * const reader = new EventsReader("/data/kosmos.db");
 * const rows = await reader.read("SELECT …", [site, from, to], { signal });
 * const table = await reader.boundedTable("example.com", { from: "2024-03-01", to: "2024-03-31" });
 * reader.close();
 * ```
 */
import type { EventRow } from "./query.ts";
import type { BoundedTable, ComputeBoundedTableOptions } from "./bounded_table.ts";
import { KosmosError } from "../../errors.ts";

/** The worker could not run the statement (it failed to start, or the statement failed). */
export class EventsReaderError extends KosmosError {
  override name = "EventsReaderError";
}

/** What the worker is asked: one statement's rows, or one release's bounded table. */
type Work =
  | { op: "rows"; sql: string; params: (string | number)[] }
  | { op: "table"; site: string; options: ComputeBoundedTableOptions };

interface Job {
  id: number;
  work: Work;
  resolve(result: unknown): void;
  reject(err: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class EventsReader {
  readonly path: string;
  #worker?: Worker;
  #queue: Job[] = [];
  #running?: Job;
  #nextId = 0;
  #closed = false;

  /** `path`: the SQLite database file (not `:memory:`, which a second connection cannot see). */
  constructor(path: string) {
    this.path = path;
  }

  /** The rows of `sql` with `params`, read on the worker. */
  read(
    sql: string,
    params: (string | number)[],
    options: { signal?: AbortSignal } = {},
  ): Promise<EventRow[]> {
    return this.#run<EventRow[]>({ op: "rows", sql, params }, options.signal);
  }

  /**
   * `computeBoundedTable(db, site, options)` (`bounded_table.ts`) on the worker; its
   * `TypeError`s come back as {@link EventsReaderError}s with the same message.
   */
  boundedTable(
    site: string,
    options: ComputeBoundedTableOptions,
    { signal }: { signal?: AbortSignal } = {},
  ): Promise<BoundedTable> {
    return this.#run<BoundedTable>({ op: "table", site, options }, signal);
  }

  #run<T>(work: Work, signal?: AbortSignal): Promise<T> {
    if (this.#closed) {
      return Promise.reject(new EventsReaderError("Cannot read events: the reader is closed"));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const job: Job = {
      id: this.#nextId++,
      work,
      resolve: resolve as (result: unknown) => void,
      reject,
      signal,
    };
    if (signal) {
      job.onAbort = () => this.#abort(job, signal.reason);
      signal.addEventListener("abort", job.onAbort, { once: true });
    }
    this.#queue.push(job);
    this.#pump();
    return promise;
  }

  /** Stops the worker; pending reads fail. */
  close(): void {
    this.#closed = true;
    const err = new EventsReaderError("Cannot read events: the reader was closed");
    if (this.#running) this.#settle(this.#running, err);
    for (const job of this.#queue.splice(0)) this.#settle(job, err);
    this.#stopWorker();
  }

  #pump(): void {
    if (this.#running || this.#queue.length === 0) return;
    const job = this.#queue.shift()!;
    let worker: Worker;
    try {
      worker = this.#worker ??= this.#startWorker();
    } catch (cause) {
      this.#settle(job, new EventsReaderError("Cannot start the events reader", { cause }));
      this.#pump();
      return;
    }
    this.#running = job;
    worker.postMessage({ id: job.id, path: this.path, ...job.work });
  }

  #startWorker(): Worker {
    const worker = new Worker(new URL("./reader_worker.ts", import.meta.url), { type: "module" });
    worker.addEventListener("message", (evt: MessageEvent) => {
      const answer = evt.data as { id: number; result?: unknown; error?: string };
      const job = this.#running;
      if (!job || job.id !== answer.id) return;
      this.#running = undefined;
      if (answer.error !== undefined) this.#settle(job, new EventsReaderError(answer.error));
      else this.#settle(job, undefined, { value: answer.result });
      this.#pump();
    });
    worker.addEventListener("error", (evt: ErrorEvent) => {
      evt.preventDefault();
      if (this.#worker === worker) this.#stopWorker();
      const job = this.#running;
      this.#running = undefined;
      if (job) this.#settle(job, new EventsReaderError(`The events reader failed: ${evt.message}`));
      this.#pump();
    });
    return worker;
  }

  #abort(job: Job, reason: unknown): void {
    const queued = this.#queue.indexOf(job);
    if (queued >= 0) {
      this.#queue.splice(queued, 1);
    } else if (this.#running === job) {
      // A running statement cannot be interrupted: its worker goes with it.
      this.#running = undefined;
      this.#stopWorker();
    } else {
      return;
    }
    this.#settle(job, reason);
    this.#pump();
  }

  #settle(job: Job, err: unknown, result?: { value: unknown }): void {
    if (job.onAbort) job.signal?.removeEventListener("abort", job.onAbort);
    if (result) job.resolve(result.value);
    else job.reject(err);
  }

  #stopWorker(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
  }
}
