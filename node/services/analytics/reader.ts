/**
 * {@link EventsReader}: runs the raw-events statements of stats queries on a
 * worker thread with its own read-only connection to the node's database.
 * Such a statement reads every event of its range (seconds for millions of
 * events), and `node:sqlite` is synchronous: on the event loop it would stop
 * the node's HTTP server and libp2p services meanwhile. The database is in
 * WAL mode, so the worker sees every committed write and blocks no writer.
 *
 * Statements run one at a time, in order. A caller that gives up (its signal
 * aborts) stops its statement: a queued one is dropped, a running one ends
 * with its worker, and the next statement starts a new worker.
 *
 * ```ts
 * const reader = new EventsReader("/data/kosmos.db");
 * const rows = await reader.read("SELECT …", [site, from, to], { signal });
 * reader.close();
 * ```
 */
import type { EventRow } from "./query.ts";

/** The worker could not run the statement (it failed to start, or the statement failed). */
export class EventsReaderError extends Error {
  override name = "EventsReaderError";
}

interface Job {
  id: number;
  sql: string;
  params: (string | number)[];
  resolve(rows: EventRow[]): void;
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
    if (this.#closed) {
      return Promise.reject(new EventsReaderError("Cannot read events: the reader is closed"));
    }
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const { promise, resolve, reject } = Promise.withResolvers<EventRow[]>();
    const job: Job = { id: this.#nextId++, sql, params, resolve, reject, signal };
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
    worker.postMessage({ id: job.id, path: this.path, sql: job.sql, params: job.params });
  }

  #startWorker(): Worker {
    const worker = new Worker(new URL("./reader_worker.ts", import.meta.url), { type: "module" });
    worker.addEventListener("message", (evt: MessageEvent) => {
      const answer = evt.data as { id: number; rows?: EventRow[]; error?: string };
      const job = this.#running;
      if (!job || job.id !== answer.id) return;
      this.#running = undefined;
      if (answer.error !== undefined) this.#settle(job, new EventsReaderError(answer.error));
      else this.#settle(job, undefined, answer.rows ?? []);
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

  #settle(job: Job, err: unknown, rows?: EventRow[]): void {
    if (job.onAbort) job.signal?.removeEventListener("abort", job.onAbort);
    if (rows) job.resolve(rows);
    else job.reject(err);
  }

  #stopWorker(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
  }
}
