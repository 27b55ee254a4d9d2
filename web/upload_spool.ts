/**
 * A file part parked on disk while the rest of a multipart upload arrives:
 * when an upload sends its file before some of its fields, the route writes
 * the file to a temporary file (mode 0600, in the node's data dir) as it
 * streams, reads the fields after it, and only then publishes from the copy.
 * Memory stays bounded by the network chunks in flight, whatever the size.
 *
 * ```ts
 * await using spooled = await spoolUpload(part.body, { dir, maxBytes, tooLarge });
 * await publish(spooled.readable());
 * ```
 */
import { join } from "node:path";
import { tmpdir } from "node:os";

export interface SpoolUploadOptions {
  /** Where the temporary file goes (created when missing). @default the OS temp dir */
  dir?: string;
  /** Largest file accepted, in bytes; past it `tooLarge()` is thrown and the copy removed. */
  maxBytes: number;
  tooLarge: () => Error;
  signal?: AbortSignal;
}

/** A spooled file; disposing of it removes it. */
export interface SpooledUpload extends AsyncDisposable {
  path: string;
  size: number;
  /** Its bytes, from the start. */
  readable(): Promise<ReadableStream<Uint8Array>>;
}

/** Writes `body` to a new temporary file in `dir`; on any failure the file is removed. */
export async function spoolUpload(
  body: ReadableStream<Uint8Array>,
  options: SpoolUploadOptions,
): Promise<SpooledUpload> {
  const dir = options.dir ?? tmpdir();
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const path = await Deno.makeTempFile({ dir, prefix: "upload-", suffix: ".part" });
  const remove = () => Deno.remove(path).catch(() => {});
  let size = 0;
  try {
    const file = await Deno.open(path, { write: true, truncate: true });
    await body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          size += chunk.byteLength;
          if (size > options.maxBytes) throw options.tooLarge();
          controller.enqueue(chunk);
        },
      }),
    ).pipeTo(file.writable, { signal: options.signal });
  } catch (err) {
    await remove();
    throw err;
  }
  return {
    path,
    size,
    async readable() {
      return (await Deno.open(path, { read: true })).readable;
    },
    [Symbol.asyncDispose]: remove,
  };
}

/** The directory of a node's spooled uploads. */
export function getUploadDir(dataDir: string): string {
  return join(dataDir, "uploads");
}
