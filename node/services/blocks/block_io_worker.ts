/**
 * Worker side of {@link BlockIo}: hashes, reads and durably writes blocks off
 * the main event loop. Requests overlap: file calls are async, so one
 * block's fsync (which may take milliseconds on a busy disk) holds up
 * neither the next block's hashing nor its fsync. Every buffer it was sent
 * goes back, transferred, with the answer.
 *
 *     { id, op: "digest", buffer }                    → { id, digest, buffer }
 *     { id, op: "read", path, expect }                → { id, status: "ok", buffer } | { id, status: "missing" | "corrupt", size? }
 *     { id, op: "write", path, dir, tmp, expect, buffer }
 *                                                     → { id, status: "stored" | "exists" | "mismatch", buffer }
 *     any failure                                     → { id, error, buffer? }
 *
 * `expect` is the 32-byte sha2-256 digest the bytes must have (a write
 * without one was checked by the caller). A write goes
 * to `tmp`, is fsynced, renamed to `path`, and `dir` is fsynced, so it is
 * durable when answered; a killed write leaves only the temp file.
 *
 * Hashing is synchronous (node:crypto, SHA-NI where the CPU has it, about
 * 1.7 GB/s against WebCrypto's 1.4 here), so it runs on this thread, and the
 * thread runs at a lower priority ({@link WORKER_NICE}): when the cores are
 * busy, the event loop that moves the bytes (and answers HTTP, gossip and
 * the DHT) goes first, and the hashing catches up in its gaps. Measured with
 * `deno task bench fetch` on two cores: fetch rounds took a median 1.29 s
 * instead of 1.39 s, and none of twelve took over 1.45 s (three did before).
 */
import { createHash } from "node:crypto";
import { setPriority } from "node:os";
import { sameBytes, writeDurably } from "./durable.ts";

/** Nice value of the block worker threads (0 is normal, 19 the lowest). */
const WORKER_NICE = 10;
// Linux only: there, pid 0 names the calling thread alone; elsewhere it names the whole process.
if (Deno.build.os === "linux") {
  try {
    setPriority(0, WORKER_NICE);
  } catch {
    // Runs at the normal priority: slower under load, never wrong.
  }
}

interface WorkerScope {
  addEventListener(type: "message", listener: (evt: MessageEvent) => void): void;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}

type Request =
  | { id: number; op: "digest"; buffer: ArrayBuffer }
  | { id: number; op: "read"; path: string; expect: Uint8Array }
  | {
    id: number;
    op: "write";
    path: string;
    dir: string;
    tmp: string;
    expect?: Uint8Array;
    buffer: ArrayBuffer;
  };

const scope = globalThis as unknown as WorkerScope;

function digestOf(bytes: ArrayBuffer): Uint8Array {
  return new Uint8Array(createHash("sha256").update(new Uint8Array(bytes)).digest());
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

async function handle(req: Request): Promise<[unknown, Transferable[]]> {
  switch (req.op) {
    case "digest": {
      const digest = digestOf(req.buffer);
      return [{ id: req.id, digest, buffer: req.buffer }, [req.buffer]];
    }
    case "read": {
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = await Deno.readFile(req.path);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) return [{ id: req.id, status: "missing" }, []];
        throw err;
      }
      // readFile returns a buffer of its own; copy only if it ever did not.
      const owned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
        ? bytes
        : bytes.slice();
      if (!sameBytes(digestOf(owned.buffer), req.expect)) {
        return [{ id: req.id, status: "corrupt", size: owned.byteLength }, []];
      }
      return [{ id: req.id, status: "ok", buffer: owned.buffer }, [owned.buffer]];
    }
    case "write": {
      const bytes = new Uint8Array(req.buffer);
      if (req.expect && !sameBytes(digestOf(req.buffer), req.expect)) {
        return [{ id: req.id, status: "mismatch", buffer: req.buffer }, [req.buffer]];
      }
      if (await isFile(req.path)) return [{ id: req.id, status: "exists", buffer: req.buffer }, [req.buffer]];
      await writeDurably(req.tmp, req.path, req.dir, bytes);
      return [{ id: req.id, status: "stored", buffer: req.buffer }, [req.buffer]];
    }
  }
}

scope.addEventListener("message", async (evt: MessageEvent) => {
  const req = evt.data as Request;
  try {
    const [answer, transfer] = await handle(req);
    scope.postMessage(answer, transfer);
  } catch (err) {
    const buffer = "buffer" in req && req.buffer.byteLength > 0 ? req.buffer : undefined;
    scope.postMessage(
      { id: req.id, error: String((err as Error)?.message ?? err), buffer },
      buffer ? [buffer] : [],
    );
  }
});
