/**
 * Connectors for a stream subscription's readings: where live batches (and history epochs) go. One batch
 * holds readings of one epoch of one stream; a connector delivers it whole or throws, and the queue
 * (`readings.ts`) retries it. This file has the interface and the directory and webhook connectors; MQTT and
 * PostgreSQL are in `mqtt.ts` and `postgres.ts`.
 *
 * ```ts
 * const connector = directoryReadingsConnector({ dir: "/srv/readings" });
 * const progress = await connector.deliver(batch, { progress: {} }); // { "<streamId>-epoch-7.ndjson": 812 }
 * ```
 */
import { join } from "node:path";
import { DeliveryError } from "./connector.ts";
import { checkDirectoryTarget, type DeliveryPolicy } from "./targets.ts";
import { webhookConnector, type WebhookConnectorInit } from "./webhook.ts";

/** A column of a stream's readings (the stream manifest's schema). */
export interface ReadingColumn {
  name: string;
  type: "integer" | "number" | "boolean" | "string";
}

export interface StreamReading {
  sensorId: string;
  /** ms since the epoch. */
  ts: number;
  values: Record<string, number | string | boolean | null>;
}

export interface ReadingsBatch {
  subscriptionId: string;
  streamId: string;
  epoch: number;
  /** In the order they were queued. */
  readings: StreamReading[];
  /** The stream's columns, when the subscriber knows them (PostgreSQL needs them to create its table). */
  schema?: ReadingColumn[];
  /** 1 for the first batch sent to this target, then 2, 3, … */
  seq: number;
}

export interface ReadingsDeliverOptions {
  signal?: AbortSignal;
  /** What the connector returned for earlier batches (committed with them), for exactly-once writes. */
  progress: Record<string, number>;
}

export interface ReadingsConnector {
  readonly name: "directory" | "webhook" | "mqtt" | "postgres";
  /** Delivers the batch whole or throws; may return progress entries to commit with it. */
  deliver(batch: ReadingsBatch, options: ReadingsDeliverOptions): Promise<Record<string, number> | void>;
  /** Progress entries to commit before the batch is first tried (where it will start writing). */
  prepare?(batch: ReadingsBatch, options: ReadingsDeliverOptions): Promise<Record<string, number>>;
  /** Closes connections it keeps open. */
  close(): Promise<void>;
}

/** The NDJSON line of a reading, as in the stream's epoch files: `{"sensorId","ts","values"}` and `\n`. */
export function readingLine(r: StreamReading): string {
  return `${JSON.stringify({ sensorId: r.sensorId, ts: r.ts, values: r.values })}\n`;
}

/** Name of the file of epoch `epoch` of `streamId` in a directory target. */
export function epochFilename(streamId: string, epoch: number): string {
  return `${streamId}-epoch-${epoch}.ndjson`;
}

/**
 * Appends each batch's readings to `<dir>/<streamId>-epoch-<epoch>.ndjson`. Exactly once across crashes: the
 * length each file had after the last committed batch is the progress committed with that batch (and, before a
 * file's first batch, the length it had then), and a file found longer (written, then the node died before the
 * commit) is cut back to it before the append.
 */
export function directoryReadingsConnector(
  init: { dir: string; policy?: Pick<DeliveryPolicy, "deliveriesDir" | "directoryAllow"> },
): ReadingsConnector {
  const policy = init.policy ?? { directoryAllow: [init.dir] };
  return {
    name: "directory",
    async prepare(batch, options) {
      const name = epochFilename(batch.streamId, batch.epoch);
      if (options.progress[name] !== undefined) return {};
      const dir = await checkDirectoryTarget(init.dir, policy);
      const size = await Deno.stat(join(dir, name)).then((s) => s.size, () => 0);
      return { [name]: size };
    },
    async deliver(batch, options) {
      options.signal?.throwIfAborted();
      const name = epochFilename(batch.streamId, batch.epoch);
      try {
        let dir = await checkDirectoryTarget(init.dir, policy);
        await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
        dir = await checkDirectoryTarget(dir, policy);
        const path = join(dir, name);
        using file = await Deno.open(path, { create: true, read: true, write: true, mode: 0o600 });
        const { size } = await file.stat();
        // Longer than committed: a batch written but not committed. Shorter: someone moved the data away.
        const at = Math.min(size, options.progress[name] ?? size);
        if (size > at) await file.truncate(at);
        await file.seek(at, Deno.SeekMode.Start);
        const bytes = new TextEncoder().encode(batch.readings.map(readingLine).join(""));
        for (let written = 0; written < bytes.byteLength;) {
          written += await file.write(bytes.subarray(written));
        }
        await file.syncData();
        return { [name]: at + bytes.byteLength };
      } catch (cause) {
        throw new DeliveryError(
          `Cannot append batch ${batch.seq} to ${join(init.dir, name)}: ${(cause as Error).message}`,
          {
            cause,
          },
        );
      }
    },
    async close() {},
  };
}

/**
 * POSTs each batch as JSON `{ seq, format: "ndjson", rows }`, each row `{ streamId, epoch, sensorId, ts,
 * values }` (through the webhook connector: retries, address checks, no redirects). At least once: a receiver
 * that must not see a reading twice keys it by `(sensorId, ts)`.
 */
export function webhookReadingsConnector(init: WebhookConnectorInit): ReadingsConnector {
  const hook = webhookConnector(init);
  return {
    name: "webhook",
    async deliver(batch, options) {
      await hook.deliver({
        seq: batch.seq,
        format: "ndjson",
        rows: batch.readings.map((r) => ({ streamId: batch.streamId, epoch: batch.epoch, ...r })),
      }, { signal: options.signal });
    },
    async close() {},
  };
}
