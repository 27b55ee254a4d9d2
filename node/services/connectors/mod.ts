/**
 * The connectors service: exports of purchased datasets (CSV, NDJSON) and
 * deliveries of their rows, in batches, to a connector (a local directory or
 * an HTTP webhook). Each delivery and each attempt is recorded in SQLite, so
 * failures stay visible; deliveries cut short by a stop resume on start,
 * skipping the batches already delivered.
 *
 * Targets are checked when a delivery is created and again before every
 * batch (`targets.ts`): directories only under `deliveriesDir` or an allowed
 * directory, webhooks only to public addresses or allowed hosts and ranges.
 * A refused target is a {@link DeliveryTargetError}.
 *
 * Stream subscriptions hand their readings over with `deliverReadings` (live batches and history epochs):
 * queued durably per target, then sent to a directory, webhook, MQTT topic or PostgreSQL table
 * (`readings.ts`; tables `connector_reading_targets`, `connector_reading_queue`).
 *
 * ```ts
 * const connectors = createConnectors({ db, market, log });
 * await connectors.start();
 * const { id } = connectors.startDelivery(purchaseId, { connector: "webhook", url: "https://example.com/hook" });
 * connectors.listDeliveries(); // [{ id, purchaseId, connector, status, attempts, lastError, batches, … }]
 * connectors.deliverReadings(subscriptionId, ["mqtt://127.0.0.1:1883/plant"], { streamId, epoch, readings });
 * ```
 */
import type { Manifest } from "../../../protocol/manifest.ts";
import type { Database } from "../db/mod.ts";
import { migrate } from "../db/mod.ts";
import type { Logger } from "../../log.ts";
import { NotFoundError } from "../../errors.ts";
import { defineService } from "../../service.ts";
import { join } from "node:path";
import type { Connector, DeliveryAttempt } from "./connector.ts";
import { directoryConnector } from "./directory.ts";
import { EXPORT_FORMATS, type ExportFormat, exportRows } from "./export.ts";
import { readRows, type Row } from "./read_rows.ts";
import { redactUrl, webhookConnector, type WebhookConnectorInit } from "./webhook.ts";
import { checkDirectoryTarget, checkWebhookTarget, type DeliveryPolicy } from "./targets.ts";
import {
  READINGS_MIGRATIONS,
  ReadingsDeliveries,
  type ReadingsHandover,
  type ReadingTargetRecord,
} from "./readings.ts";
import type { ReadingColumn } from "./readings_connector.ts";

export type { Connector, DeliverOptions, DeliveryAttempt, DeliveryBatch } from "./connector.ts";
export { DeliveryError } from "./connector.ts";
export { directoryConnector, type DirectoryConnectorInit, getBatchFilename } from "./directory.ts";
export { webhookConnector, type WebhookConnectorInit } from "./webhook.ts";
export {
  checkDirectoryTarget,
  checkWebhookTarget,
  type DeliveryPolicy,
  DeliveryTargetError,
  type HostLookup,
  isPublicAddress,
  isWebhookAllowEntry,
  parseCidr,
  parseIp,
  parseReadingsTarget,
  type ReadingsTarget,
  redactReadingsTarget,
} from "./targets.ts";
export type { ReadingsHandover, ReadingTargetRecord } from "./readings.ts";
export * from "./readings_connector.ts";
export { mqttReadingsConnector } from "./mqtt.ts";
export { postgresReadingsConnector } from "./postgres.ts";
export {
  encodeCsvField,
  encodeRows,
  EXPORT_CONTENT_TYPES,
  EXPORT_FORMATS,
  ExportError,
  type ExportFormat,
  exportRows,
  type ExportRowsOptions,
} from "./export.ts";
export { readRows, type Row } from "./read_rows.ts";

/** Where a delivery goes. */
export type DeliveryTarget =
  | { connector: "directory"; dir: string }
  | { connector: "webhook"; url: string };

export type DeliveryStatus = "pending" | "delivered" | "failed";

export interface DeliveryRecord {
  id: string;
  purchaseId: string;
  connector: DeliveryTarget["connector"];
  /** The directory, or the webhook URL without its query. */
  target: string;
  format: ExportFormat;
  status: DeliveryStatus;
  /** Tries made, over all batches. */
  attempts: number;
  lastError: string | null;
  /** Batches delivered. */
  batches: number;
  /** Rows delivered. */
  rows: number;
  createdAt: number;
  updatedAt: number;
}

export interface ConnectorsComponents {
  db: Database;
  /** The purchased plaintext (`Market.readPurchaseData`). */
  market: {
    readPurchaseData(
      id: string,
      options?: { signal?: AbortSignal },
    ): Promise<{ stream: ReadableStream<Uint8Array>; manifest: Pick<Manifest, "format" | "filename"> }>;
  };
  log: Logger;
}

export interface ConnectorsInit {
  /** Rows per batch. @default 1000 */
  batchSize?: number;
  /** Webhook retries after the first try. @default 4 */
  retries?: number;
  /** Milliseconds before the first webhook retry; doubles each time. @default 500 */
  backoff?: number;
  /** Directory deliveries may always write under this one (the node passes `<dataDir>/deliveries`). @default undefined */
  deliveriesDir?: string;
  /** Further directories deliveries may write under (config `deliveryDirectoryAllow`). @default [] */
  directoryAllow?: string[];
  /** Hosts, IPs and CIDR ranges webhooks may reach although not public (config `deliveryWebhookAllow`). @default [] */
  webhookAllow?: string[];
  /** Resolves webhook host names. @default the system resolver */
  lookup?: DeliveryPolicy["lookup"];
  /** Root certificates (PEM) webhooks over https may chain to besides the system's. @default [] */
  caCerts?: string[];
}

const MIGRATIONS = [
  `CREATE TABLE connector_deliveries (
    id TEXT PRIMARY KEY,
    purchase_id TEXT NOT NULL,
    connector TEXT NOT NULL,
    target TEXT NOT NULL,
    format TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    batches INTEGER NOT NULL DEFAULT 0,
    rows INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE connector_attempts (
    delivery_id TEXT NOT NULL REFERENCES connector_deliveries(id),
    seq INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    at INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, seq, attempt)
  );`,
];

interface DeliveryRow {
  id: string;
  purchase_id: string;
  connector: string;
  target: string;
  format: string;
  status: string;
  attempts: number;
  last_error: string | null;
  batches: number;
  rows: number;
  created_at: number;
  updated_at: number;
}

/** The config fields the `connectors` factory reads. */
export interface ConnectorsConfig {
  config: { dataDir: string; deliveryDirectoryAllow: string[]; deliveryWebhookAllow: string[] };
}

/**
 * The `connectors` component. Deliveries may write under `<dataDir>/deliveries` and the config's
 * `deliveryDirectoryAllow`; webhooks may reach `deliveryWebhookAllow`. `init` overrides them.
 */
export function connectors(init: ConnectorsInit = {}) {
  return defineService(
    "connectors",
    ["db", "market", "config"],
    (c: ConnectorsComponents & ConnectorsConfig) =>
      createConnectors(c, {
        deliveriesDir: join(c.config.dataDir, "deliveries"),
        directoryAllow: c.config.deliveryDirectoryAllow,
        webhookAllow: c.config.deliveryWebhookAllow,
        ...init,
      }),
  );
}

export function createConnectors(c: ConnectorsComponents, init: ConnectorsInit = {}): Connectors {
  return new Connectors(c, init);
}

export class Connectors {
  readonly #c: ConnectorsComponents;
  readonly #init: Required<Pick<ConnectorsInit, "batchSize" | "retries" | "backoff">>;
  readonly #policy: DeliveryPolicy;
  readonly #caCerts?: string[];
  #controller = new AbortController();
  #running = new Map<string, Promise<void>>();
  readonly #readings: ReadingsDeliveries;

  constructor(c: ConnectorsComponents, init: ConnectorsInit = {}) {
    this.#c = c;
    this.#init = {
      batchSize: init.batchSize ?? 1000,
      retries: init.retries ?? 4,
      backoff: init.backoff ?? 500,
    };
    this.#policy = {
      deliveriesDir: init.deliveriesDir,
      directoryAllow: init.directoryAllow ?? [],
      webhookAllow: init.webhookAllow ?? [],
      lookup: init.lookup,
    };
    this.#caCerts = init.caCerts;
    if (!Number.isInteger(this.#init.batchSize) || this.#init.batchSize < 1) {
      throw new RangeError(`batchSize must be a positive integer, got ${this.#init.batchSize}`);
    }
    migrate(c.db, "connectors", MIGRATIONS);
    migrate(c.db, "connector_readings", READINGS_MIGRATIONS);
    this.#readings = new ReadingsDeliveries(c.db, c.log, {
      policy: this.#policy,
      retries: this.#init.retries,
      backoff: this.#init.backoff,
      caCerts: this.#caCerts,
    });
  }

  /** Resumes the deliveries a stop cut short. */
  // deno-lint-ignore require-await
  async start(): Promise<void> {
    this.#controller = new AbortController();
    const pending = this.#c.db.prepare("SELECT * FROM connector_deliveries WHERE status = 'pending'")
      .all() as unknown as DeliveryRow[];
    for (const row of pending) this.#run(toRecord(row));
    this.#readings.start();
  }

  /** Stops running deliveries; they stay `pending` and resume on the next start. */
  async stop(): Promise<void> {
    this.#controller.abort(new DOMException("The node is stopping", "AbortError"));
    await Promise.allSettled([...this.#running.values()]);
    await this.#readings.stop();
  }

  /**
   * Hands a subscription's readings (a decrypted live batch, or a history epoch's) to its targets: queued in
   * SQLite before this returns, then delivered in the background, in order, each reading once per target
   * (`readings.ts`). `schema` is the stream's columns (the PostgreSQL table is created from it). Throws a
   * `TypeError` for a malformed target, before anything is queued. Call it outside a transaction of your own,
   * or inside one to queue atomically with your own writes.
   */
  deliverReadings(
    subscriptionId: string,
    targets: readonly string[],
    event: ReadingsHandover,
    options: { schema?: ReadingColumn[] } = {},
  ): void {
    this.#readings.deliver(subscriptionId, targets, event, options);
  }

  /** Checks subscription targets before they are stored: `TypeError` when malformed, `DeliveryTargetError` when refused. */
  async checkReadingsTargets(targets: readonly string[]): Promise<void> {
    await this.#readings.checkTargets(targets);
  }

  /** A subscription's targets (or every one) with delivered and pending counts and the last error. */
  listReadingTargets(subscriptionId?: string): ReadingTargetRecord[] {
    return this.#readings.listTargets(subscriptionId);
  }

  /** Resolves when the subscription's (or every) readings queue has nothing being delivered. */
  async waitForReadings(subscriptionId?: string): Promise<void> {
    await this.#readings.idle(subscriptionId);
  }

  /**
   * The rows of a complete purchase as CSV or NDJSON, streamed, with a file
   * name for them (the dataset's, with the format's extension).
   */
  async exportPurchase(
    purchaseId: string,
    options: { format: ExportFormat; signal?: AbortSignal },
  ): Promise<{ stream: ReadableStream<Uint8Array>; filename: string }> {
    checkFormat(options.format);
    const { stream, manifest } = await this.#c.market.readPurchaseData(purchaseId, {
      signal: options.signal,
    });
    const base = manifest.filename?.replace(/\.[^.]*$/, "") || `purchase-${purchaseId}`;
    return {
      stream: exportRows(stream, {
        format: options.format,
        sourceFormat: manifest.format,
        signal: options.signal,
      }),
      filename: `${base}.${options.format}`,
    };
  }

  /**
   * Records a delivery of a complete purchase's rows to `target` and starts
   * it in the background. Throws what `readPurchaseData` throws for a
   * purchase that is missing or not complete, `TypeError` for a malformed
   * target and {@link DeliveryTargetError} for one that is not allowed.
   */
  async startDelivery(
    purchaseId: string,
    target: DeliveryTarget,
    options: { format?: ExportFormat; signal?: AbortSignal } = {},
  ): Promise<DeliveryRecord> {
    const format = options.format ?? "ndjson";
    checkFormat(format);
    this.#connectorFor(target);
    // Fails early for a purchase that is missing or not complete.
    const { stream } = await this.#c.market.readPurchaseData(purchaseId, { signal: options.signal });
    await stream.cancel();
    if (target.connector === "directory") await checkDirectoryTarget(target.dir, this.#policy);
    else await checkWebhookTarget(new URL(target.url), this.#policy);
    const now = Date.now();
    const id = crypto.randomUUID();
    this.#c.db.prepare(
      `INSERT INTO connector_deliveries (id, purchase_id, connector, target, format, status, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)`,
    ).run(
      id,
      purchaseId,
      target.connector,
      target.connector === "directory" ? target.dir : target.url,
      format,
      now,
      now,
    );
    const record = this.getDelivery(id);
    this.#run(record, target);
    return record;
  }

  getDelivery(id: string): DeliveryRecord {
    const row = this.#c.db.prepare("SELECT * FROM connector_deliveries WHERE id = ?").get(id) as
      | DeliveryRow
      | undefined;
    if (row === undefined) throw new NotFoundError(`No delivery "${id.slice(0, 40)}" on this node`);
    return toRecord(row);
  }

  /** Every delivery, newest first. */
  listDeliveries(): DeliveryRecord[] {
    const rows = this.#c.db.prepare("SELECT * FROM connector_deliveries ORDER BY created_at DESC, rowid DESC")
      .all() as unknown as DeliveryRow[];
    return rows.map(toRecord);
  }

  /** Tries of a delivery, in order. */
  listAttempts(id: string): (DeliveryAttempt & { at: number })[] {
    const rows = this.#c.db.prepare(
      "SELECT seq, attempt, status, error, at FROM connector_attempts WHERE delivery_id = ? ORDER BY seq, attempt",
    ).all(id) as unknown as {
      seq: number;
      attempt: number;
      status: number | null;
      error: string | null;
      at: number;
    }[];
    return rows.map((r) => ({
      seq: r.seq,
      attempt: r.attempt,
      at: r.at,
      ...(r.status !== null && { status: r.status }),
      ...(r.error !== null && { error: r.error }),
    }));
  }

  /** Resolves when delivery `id` is no longer running. */
  async waitForDelivery(id: string): Promise<DeliveryRecord> {
    await this.#running.get(id);
    return this.getDelivery(id);
  }

  #connectorFor(target: DeliveryTarget): Connector {
    if (target.connector === "directory") {
      return directoryConnector({ dir: target.dir, policy: this.#policy });
    }
    if (target.connector === "webhook") {
      const init: WebhookConnectorInit = {
        url: target.url,
        retries: this.#init.retries,
        backoff: this.#init.backoff,
        policy: this.#policy,
        caCerts: this.#caCerts,
      };
      return webhookConnector(init);
    }
    throw new TypeError(
      `Unknown connector "${String((target as { connector: unknown }).connector).slice(0, 40)}"`,
    );
  }

  #run(record: DeliveryRecord, target?: DeliveryTarget): void {
    const { id } = record;
    const raw = this.#c.db.prepare("SELECT target FROM connector_deliveries WHERE id = ?").get(id) as {
      target: string;
    };
    target ??= record.connector === "directory"
      ? { connector: "directory", dir: raw.target }
      : { connector: "webhook", url: raw.target };
    const done = this.#deliver(record, target).finally(() => this.#running.delete(id));
    this.#running.set(id, done);
  }

  async #deliver(record: DeliveryRecord, target: DeliveryTarget): Promise<void> {
    const { id } = record;
    const { db, log } = this.#c;
    const signal = this.#controller.signal;
    const recordAttempt = db.prepare(
      `INSERT OR REPLACE INTO connector_attempts (delivery_id, seq, attempt, status, error, at) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    const countAttempt = db.prepare(
      "UPDATE connector_deliveries SET attempts = attempts + 1, last_error = COALESCE(?, last_error), updated_at = ? WHERE id = ?",
    );
    const countBatch = db.prepare(
      "UPDATE connector_deliveries SET batches = ?, rows = rows + ?, updated_at = ? WHERE id = ?",
    );
    const finish = db.prepare(
      "UPDATE connector_deliveries SET status = ?, last_error = COALESCE(?, last_error), updated_at = ? WHERE id = ?",
    );
    const onAttempt = (a: DeliveryAttempt) => {
      const at = Date.now();
      recordAttempt.run(id, a.seq, a.attempt, a.status ?? null, a.error ?? null, at);
      countAttempt.run(a.error ?? null, at, id);
    };
    log.info("started delivery", { id, purchaseId: record.purchaseId, connector: record.connector });
    try {
      const connector = this.#connectorFor(target);
      const { stream, manifest } = await this.#c.market.readPurchaseData(record.purchaseId, { signal });
      let seq = 0;
      let batch: Row[] = [];
      const send = async () => {
        seq++;
        if (seq > record.batches) {
          await connector.deliver({ rows: batch, format: record.format, seq }, { signal, onAttempt });
          countBatch.run(seq, batch.length, Date.now(), id);
        }
        batch = [];
      };
      for await (const rows of readRows(stream, { sourceFormat: manifest.format, signal })) {
        for (const row of rows) {
          batch.push(row);
          if (batch.length >= this.#init.batchSize) await send();
        }
      }
      if (batch.length > 0) await send();
      finish.run("delivered", null, Date.now(), id);
      log.info("delivered", { id, batches: seq });
    } catch (err) {
      if (signal.aborted) {
        log.debug("paused delivery until the next start", { id });
        return;
      }
      const message = (err as Error).message ?? String(err);
      finish.run("failed", message, Date.now(), id);
      log.warn("failed delivery", { id, connector: record.connector, error: message });
    }
  }
}

function checkFormat(format: string): asserts format is ExportFormat {
  if (!EXPORT_FORMATS.includes(format as ExportFormat)) {
    throw new TypeError(`Unknown export format "${String(format).slice(0, 20)}"; use csv or ndjson`);
  }
}

function toRecord(row: DeliveryRow): DeliveryRecord {
  return {
    id: row.id,
    purchaseId: row.purchase_id,
    connector: row.connector as DeliveryRecord["connector"],
    target: row.connector === "webhook" ? redactUrl(row.target) : row.target,
    format: row.format as ExportFormat,
    status: row.status as DeliveryStatus,
    attempts: row.attempts,
    lastError: row.last_error,
    batches: row.batches,
    rows: row.rows,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
