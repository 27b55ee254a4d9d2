/**
 * The block store's durable write, shared by the store and its worker
 * threads (so it imports nothing): write a temp file, fsync it, rename it
 * over the final path, fsync the directory. A write killed half way leaves
 * only the temp file.
 */

/** Byte-wise equality. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** fsyncs a directory, so a rename in it survives a crash. */
export async function syncDir(path: string): Promise<void> {
  try {
    const dir = await Deno.open(path, { read: true });
    try {
      await dir.sync();
    } finally {
      dir.close();
    }
  } catch {
    // Not every platform can fsync a directory; the rename is still atomic.
  }
}

/** Writes `bytes` to `path` (in `dir`) through `tmp`, durably; the temp file is removed on failure. */
export async function writeDurably(tmp: string, path: string, dir: string, bytes: Uint8Array): Promise<void> {
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true });
    try {
      let written = 0;
      while (written < bytes.byteLength) written += await file.write(bytes.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    try {
      await Deno.rename(tmp, path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      // The fan-out directory does not exist yet (or was removed by hand): make it again.
      await Deno.mkdir(dir, { recursive: true });
      await Deno.rename(tmp, path);
    }
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  await syncDir(dir);
}
