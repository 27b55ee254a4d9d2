/**
 * Block hashing and file I/O on worker threads. WebCrypto's digest runs on
 * the calling thread (about 0.6 ms per MiB) and every async file call is a
 * round trip through the runtime's thread pool, so a node serving and
 * fetching 1 MiB chunks at a few hundred MB/s would spend much of its event
 * loop on them. {@link BlockIo} sends each large block to one of a few
 * workers (started on first use, at a lower thread priority than the event
 * loop) that hash it synchronously and read or write it: one message each
 * way per block.
 *
 * Buffers cross threads by transfer, never by copy: a caller hands over
 * `bytes.buffer` (detached meanwhile) and gets the bytes back on the same
 * memory. A worker that cannot start or fails makes the caller fall back to
 * the inline path ({@link BlockIo.available} turns false), so storage never
 * stops working.
 */
import type { Logger } from "../../log.ts";

/** Blocks smaller than this stay on the inline path: posting them costs more than it saves. */
export const MIN_WORKER_BYTES = 64 * 1024;
/**
 * Workers per store. One hashes about 1.7 GB/s and overlaps its file calls;
 * more threads only contend for the cores with the event loop.
 */
const WORKERS = 1;

export type ReadResult =
  | { status: "ok"; bytes: Uint8Array<ArrayBuffer> }
  | { status: "missing" }
  | { status: "corrupt"; size: number };

export type WriteStatus = "stored" | "exists" | "mismatch";

interface Answer {
  id: number;
  error?: string;
  status?: string;
  buffer?: ArrayBuffer;
  digest?: Uint8Array;
  size?: number;
}

interface Slot {
  worker: Worker;
  pending: Map<number, PromiseWithResolvers<Answer>>;
}

/** True when `bytes` views the whole of a plain (not shared) ArrayBuffer, so it can be transferred. */
export function ownsBuffer(bytes: Uint8Array): bytes is Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 &&
    bytes.byteLength === bytes.buffer.byteLength;
}

export class BlockIo {
  readonly #log?: Logger;
  #slots: Slot[] = [];
  #failed = false;
  #nextId = 0;

  constructor(log?: Logger) {
    this.#log = log;
  }

  /** False once a worker failed: callers use their inline path from then on. */
  get available(): boolean {
    return !this.#failed;
  }

  /** SHA-256 of `bytes` (handed over; the returned bytes replace them). */
  async digest(
    bytes: Uint8Array<ArrayBuffer>,
  ): Promise<{ digest: Uint8Array; bytes: Uint8Array<ArrayBuffer> }> {
    const answer = await this.#call({ op: "digest", buffer: bytes.buffer }, [bytes.buffer]);
    if (!answer.buffer || !(answer.digest instanceof Uint8Array) || answer.digest.byteLength !== 32) {
      throw new Error("Cannot hash block: bad answer from the block worker");
    }
    return { digest: answer.digest, bytes: new Uint8Array(answer.buffer) };
  }

  /** Reads the file at `path` and checks it against the sha2-256 digest `expect`. */
  async read(path: string, expect: Uint8Array): Promise<ReadResult> {
    const answer = await this.#call({ op: "read", path, expect }, []);
    if (answer.status === "ok" && answer.buffer) {
      return { status: "ok", bytes: new Uint8Array(answer.buffer) };
    }
    if (answer.status === "missing") return { status: "missing" };
    if (answer.status === "corrupt") return { status: "corrupt", size: answer.size ?? 0 };
    throw new Error("Cannot read block: bad answer from the block worker");
  }

  /**
   * Checks `bytes` (handed over) against `expect`, if given, and, when they
   * match and `path` does not exist yet, writes them durably: `tmp`, fsync,
   * rename to `path`, fsync of `dir`. The bytes come back on the same memory.
   */
  async write(
    bytes: Uint8Array<ArrayBuffer>,
    target: { path: string; dir: string; tmp: string; expect?: Uint8Array },
  ): Promise<{ status: WriteStatus; bytes: Uint8Array<ArrayBuffer> }> {
    const answer = await this.#call({ op: "write", ...target, buffer: bytes.buffer }, [bytes.buffer]);
    const status = answer.status;
    if ((status !== "stored" && status !== "exists" && status !== "mismatch") || !answer.buffer) {
      throw new Error("Cannot write block: bad answer from the block worker");
    }
    return { status, bytes: new Uint8Array(answer.buffer) };
  }

  /** Stops the workers; a later call starts them again. */
  close(): void {
    const slots = this.#slots;
    this.#slots = [];
    for (const slot of slots) {
      slot.worker.terminate();
      this.#failAll(slot, new Error("block worker closed"));
    }
  }

  async #call(message: Record<string, unknown>, transfer: Transferable[]): Promise<Answer> {
    const slot = this.#pick();
    if (!slot) throw new Error("Cannot use a block worker: none could be started");
    const id = this.#nextId++;
    const waiter = Promise.withResolvers<Answer>();
    slot.pending.set(id, waiter);
    try {
      slot.worker.postMessage({ id, ...message }, transfer);
    } catch (err) {
      slot.pending.delete(id);
      throw err;
    }
    const answer = await waiter.promise;
    if (answer.error !== undefined) throw new Error(`Block worker failed: ${answer.error}`);
    return answer;
  }

  /** The least busy worker, starting one while fewer than {@link WORKERS} run. */
  #pick(): Slot | undefined {
    if (this.#failed) return undefined;
    let best: Slot | undefined;
    for (const slot of this.#slots) if (!best || slot.pending.size < best.pending.size) best = slot;
    if (best && (best.pending.size === 0 || this.#slots.length >= WORKERS)) return best;
    return this.#start() ?? best;
  }

  #start(): Slot | undefined {
    let worker: Worker;
    try {
      worker = new Worker(new URL("./block_io_worker.ts", import.meta.url), { type: "module" });
    } catch (err) {
      this.#log?.warn("failed to start block worker; using the event loop", { error: err });
      this.#failed = true;
      return undefined;
    }
    const slot: Slot = { worker, pending: new Map() };
    worker.addEventListener("message", (evt: MessageEvent) => {
      const answer = evt.data as Answer;
      const waiter = slot.pending.get(answer.id);
      if (!waiter) return;
      slot.pending.delete(answer.id);
      waiter.resolve(answer);
    });
    worker.addEventListener("error", (evt: ErrorEvent) => {
      evt.preventDefault();
      this.#log?.warn("failed block worker; using the event loop from now on", { error: evt.message });
      this.#failed = true;
      worker.terminate();
      this.#slots = this.#slots.filter((s) => s !== slot);
      this.#failAll(slot, new Error(`block worker failed: ${evt.message}`));
    });
    this.#slots.push(slot);
    return slot;
  }

  #failAll(slot: Slot, err: Error): void {
    const waiters = [...slot.pending.values()];
    slot.pending.clear();
    for (const w of waiters) w.reject(err);
  }
}
