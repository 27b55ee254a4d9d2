/**
 * The directory connector: each batch becomes one numbered file
 * (`batch-000001.csv`, …) in a local directory, written to a temporary file
 * and renamed into place, so a reader never sees half a batch. Before every
 * batch the directory is resolved again (symlinks included) and checked
 * against the policy (`targets.ts`), and the file goes to the resolved path.
 *
 * ```ts
 * const connector = directoryConnector({ dir: "/srv/exports/trips" });
 * await connector.deliver({ rows, format: "csv", seq: 1 }, {});
 * ```
 */
import { isAbsolute, join } from "node:path";
import type { Connector } from "./connector.ts";
import { DeliveryError } from "./connector.ts";
import { encodeRows } from "./export.ts";
import { checkDirectoryTarget, type DeliveryPolicy } from "./targets.ts";

export interface DirectoryConnectorInit {
  /** Absolute path; created when missing. */
  dir: string;
  /** @default "batch" */
  prefix?: string;
  /**
   * Where deliveries may write. @default `{ directoryAllow: [dir] }`: the
   * directory itself, for callers that checked it already.
   */
  policy?: Pick<DeliveryPolicy, "deliveriesDir" | "directoryAllow">;
}

/** Name of batch `seq`'s file: `batch-000001.ndjson`. */
export function getBatchFilename(seq: number, format: string, prefix = "batch"): string {
  return `${prefix}-${String(seq).padStart(6, "0")}.${format}`;
}

export function directoryConnector(init: DirectoryConnectorInit): Connector {
  if (!isAbsolute(init.dir)) {
    throw new TypeError(`Cannot deliver to directory "${init.dir.slice(0, 200)}": the path must be absolute`);
  }
  const prefix = init.prefix ?? "batch";
  const policy = init.policy ?? { directoryAllow: [init.dir] };
  return {
    name: "directory",
    async deliver(batch, options) {
      options.signal?.throwIfAborted();
      let dir: string;
      try {
        dir = await checkDirectoryTarget(init.dir, policy);
        await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
        // Created now: a symlink swapped in since the check is caught here.
        dir = await checkDirectoryTarget(dir, policy);
      } catch (cause) {
        const file = join(init.dir, getBatchFilename(batch.seq, batch.format, prefix));
        const error = `Cannot write batch ${batch.seq} to ${file}: ${(cause as Error).message}`;
        options.onAttempt?.({ seq: batch.seq, attempt: 1, error });
        throw new DeliveryError(error, { cause });
      }
      const path = join(dir, getBatchFilename(batch.seq, batch.format, prefix));
      const temp = join(
        dir,
        `.${getBatchFilename(batch.seq, batch.format, prefix)}.${crypto.randomUUID()}.tmp`,
      );
      try {
        await Deno.writeTextFile(temp, encodeRows(batch.rows, batch.format), { createNew: true });
        await Deno.rename(temp, path);
        options.onAttempt?.({ seq: batch.seq, attempt: 1 });
      } catch (cause) {
        await Deno.remove(temp).catch(() => {});
        const error = `Cannot write batch ${batch.seq} to ${path}: ${(cause as Error).message}`;
        options.onAttempt?.({ seq: batch.seq, attempt: 1, error });
        throw new DeliveryError(error, { cause });
      }
    },
  };
}
