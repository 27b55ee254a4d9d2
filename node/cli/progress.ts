/**
 * A progress bar for the CLI, drawn on stderr: redrawn in place on a
 * terminal, one line per quarter otherwise (so logs and tests see it too).
 *
 * ```ts
 * const bar = createProgressBar({ label: "Uploading", total: size, format: formatBytes });
 * bar.update(done);
 * bar.finish();
 * ```
 */
import { KosmosError } from "../errors.ts";

export interface ProgressBarInit {
  label: string;
  /** The amount at 100 %; 0 while unknown. */
  total: number;
  /** How amounts are shown. @default String */
  format?: (n: number) => string;
  /** @default Deno.stderr */
  output?: { writeSync(p: Uint8Array): number; isTerminal(): boolean };
  /** Characters of the bar. @default 28 */
  width?: number;
}

export interface ProgressBar {
  /** Sets the amount done (and the total, when it becomes known). */
  update(done: number, total?: number): void;
  /** Draws 100 % (or the last state) and ends the line. */
  finish(): void;
}

const encoder = new TextEncoder();

export function createProgressBar(init: ProgressBarInit): ProgressBar {
  const output = init.output ?? Deno.stderr;
  const format = init.format ?? String;
  const width = init.width ?? 28;
  const terminal = output.isTerminal();
  let total = init.total;
  let done = 0;
  let lastDraw = 0;
  let lastQuarter = -1;
  let finished = false;

  const line = () => {
    const ratio = total > 0 ? Math.min(1, done / total) : 0;
    const filled = Math.round(ratio * width);
    const bar = "█".repeat(filled) + "░".repeat(width - filled);
    const percent = String(Math.floor(ratio * 100)).padStart(3);
    return `${init.label} ${bar} ${percent} % ${format(done)}${total > 0 ? ` / ${format(total)}` : ""}`;
  };
  const write = (text: string) => {
    const bytes = encoder.encode(text);
    let offset = 0;
    while (offset < bytes.length) offset += output.writeSync(bytes.subarray(offset));
  };
  const draw = (force: boolean) => {
    if (terminal) {
      const now = Date.now();
      if (!force && now - lastDraw < 80) return;
      lastDraw = now;
      write(`\r\x1b[2K${line()}`);
      return;
    }
    const quarter = total > 0 ? Math.floor(Math.min(1, done / total) * 4) : 0;
    if (force || quarter > lastQuarter) {
      lastQuarter = quarter;
      write(`${line()}\n`);
    }
  };

  return {
    update(value, newTotal) {
      if (finished) return;
      done = value;
      if (newTotal !== undefined) total = newTotal;
      draw(false);
    },
    finish() {
      if (finished) return;
      finished = true;
      if (terminal) write(`\r\x1b[2K${line()}\n`);
      else if (lastQuarter < 4) write(`${line()}\n`);
    },
  };
}

/** Bytes for people: `1.5 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = -1;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Bytes per read of {@link readFileWithProgress}: Deno's fetch sends each chunk of a streamed body separately, and 64 KiB ones are slow. */
const READ_SIZE = 1024 * 1024;

/**
 * Opens `path` as a stream that moves a progress bar (`label`, bytes) as it is read, for an upload.
 * A path that is not a readable regular file is a `KosmosError` that starts with `command`.
 */
export async function readFileWithProgress(
  command: string,
  path: string,
  init: Omit<ProgressBarInit, "total" | "format">,
): Promise<{ stream: ReadableStream<Uint8Array>; size: number; bar: ProgressBar }> {
  let file: Deno.FsFile;
  let size: number;
  try {
    file = await Deno.open(path, { read: true });
    const info = await file.stat();
    if (!info.isFile) {
      file.close();
      throw new Error("not a regular file");
    }
    size = info.size;
  } catch (err) {
    throw new KosmosError(`${command}: cannot read ${path}: ${(err as Error).message}`);
  }
  const bar = createProgressBar({ ...init, total: size, format: formatBytes });
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const buffer = new Uint8Array(READ_SIZE);
      let filled = 0;
      while (filled < READ_SIZE) {
        const n = await file.read(buffer.subarray(filled));
        if (n === null) break;
        filled += n;
      }
      if (filled > 0) {
        sent += filled;
        bar.update(sent);
        controller.enqueue(buffer.subarray(0, filled));
      }
      if (filled < READ_SIZE) {
        file.close();
        controller.close();
      }
    },
    cancel() {
      file.close();
    },
  });
  return { stream, size, bar };
}
