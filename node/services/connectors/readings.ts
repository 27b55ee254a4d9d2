/**
 * Delivery of a stream subscription's readings to its targets (directory, webhook, MQTT, PostgreSQL). A
 * batch handed over is first written to SQLite, one queue row per target and reading, keyed by
 * `(target, sensorId, ts)`: a reading handed over twice (live, then again in its sealed epoch) is queued once.
 * One loop per target sends the queued readings in order, a batch per epoch, and marks them delivered in the
 * same transaction as the connector's progress; a failed batch is retried with backoff (doubling, at most
 * `maxBackoff`), a stop leaves the queue to the next start. Delivered rows are kept `retainMs` to recognise
 * late duplicates, then pruned.
 *
 * Tables: `connector_reading_targets` (one per subscription and target), `connector_reading_queue`.
 */
import type { Logger } from "../../log.ts";
import { delay } from "../../delay.ts";
import type { Database } from "../db/mod.ts";
import { transaction } from "../db/mod.ts";
import { mqttReadingsConnector } from "./mqtt.ts";
import { postgresReadingsConnector } from "./postgres.ts";
import {
  directoryReadingsConnector,
  type ReadingColumn,
  type ReadingsConnector,
  type StreamReading,
  webhookReadingsConnector,
} from "./readings_connector.ts";
import {
  checkReadingsTarget,
  type DeliveryPolicy,
  parseReadingsTarget,
  type ReadingsTarget,
  redactReadingsTarget,
} from "./targets.ts";

export const READINGS_MIGRATIONS = [
  `CREATE TABLE connector_reading_targets (
    id TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    target TEXT NOT NULL,
    connector TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    schema_json TEXT,
    progress_json TEXT NOT NULL DEFAULT '{}',
    seq INTEGER NOT NULL DEFAULT 0,
    delivered INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (subscription_id, target)
  );
  CREATE TABLE connector_reading_queue (
    target_id TEXT NOT NULL REFERENCES connector_reading_targets(id),
    sensor_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    values_json TEXT NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (target_id, sensor_id, ts)
  );
  CREATE INDEX connector_reading_queue_pending ON connector_reading_queue (target_id, delivered, ts);`,
];

/** What the subscriber hands over: a decrypted live batch, or readings of a history epoch. */
export interface ReadingsHandover {
  streamId: string;
  epoch: number;
  readings: StreamReading[];
}

/** One target of a subscription, as shown (URLs without passwords). */
export interface ReadingTargetRecord {
  id: string;
  subscriptionId: string;
  connector: ReadingsTarget["connector"];
  target: string;
  /** Readings delivered. */
  delivered: number;
  /** Readings queued, not yet delivered. */
  pending: number;
  attempts: number;
  lastError: string | null;
  updatedAt: number;
}

export interface ReadingsDeliveriesInit {
  policy: DeliveryPolicy;
  /** Webhook retries inside one try of a batch. @default 4 */
  retries?: number;
  /** Milliseconds before the first retry; doubles. @default 500 */
  backoff?: number;
  /** Longest wait between tries. @default 30000 */
  maxBackoff?: number;
  /** Readings per batch (a PostgreSQL batch costs ~80 ms whatever its size: larger batches keep up). @default 2000 */
  batchSize?: number;
  /** How long delivered readings are remembered to drop duplicates. @default 7 days */
  retainMs?: number;
  caCerts?: string[];
}

interface TargetRow {
  id: string;
  subscription_id: string;
  target: string;
  connector: string;
  stream_id: string;
  schema_json: string | null;
  progress_json: string;
  seq: number;
  delivered: number;
  attempts: number;
  last_error: string | null;
  updated_at: number;
}

interface QueueRow {
  rowid: number;
  sensor_id: string;
  ts: number;
  epoch: number;
  values_json: string;
}

export class ReadingsDeliveries {
  readonly #db: Database;
  readonly #log: Logger;
  readonly #init: Required<Omit<ReadingsDeliveriesInit, "caCerts">> & { caCerts?: string[] };
  #controller = new AbortController();
  /** Running loop per target id; `#again` marks a target handed more while its loop was busy. */
  readonly #loops = new Map<string, Promise<void>>();
  readonly #again = new Set<string>();
  readonly #connectors = new Map<string, ReadingsConnector>();

  constructor(db: Database, log: Logger, init: ReadingsDeliveriesInit) {
    this.#db = db;
    this.#log = log;
    this.#init = {
      retries: 4,
      backoff: 500,
      maxBackoff: 30_000,
      batchSize: 2000,
      retainMs: 7 * 24 * 3600_000,
      ...init,
    };
  }

  /** Parses and checks targets (paths and hosts against the policy); throws `TypeError` or `DeliveryTargetError`. */
  async checkTargets(targets: readonly string[]): Promise<void> {
    for (const text of targets) await checkReadingsTarget(parseReadingsTarget(text), this.#init.policy);
  }

  /** Resumes every target with queued readings. */
  start(): void {
    this.#controller = new AbortController();
    const rows = this.#db.prepare(
      "SELECT DISTINCT target_id FROM connector_reading_queue WHERE delivered = 0",
    ).all() as { target_id: string }[];
    for (const { target_id } of rows) this.#kick(target_id);
  }

  async stop(): Promise<void> {
    this.#controller.abort(new DOMException("The node is stopping", "AbortError"));
    await Promise.allSettled([...this.#loops.values()]);
    await Promise.allSettled([...this.#connectors.values()].map((c) => c.close()));
    this.#connectors.clear();
  }

  /**
   * Queues `batch` for each of `targets` (durably: committed before it resolves) and starts their loops.
   * Readings already queued for a target (same sensor and ts) are skipped. Throws `TypeError` for a malformed
   * target, before anything is queued.
   */
  deliver(
    subscriptionId: string,
    targets: readonly string[],
    batch: ReadingsHandover,
    options: { schema?: ReadingColumn[] } = {},
  ): void {
    const parsed = targets.map((t) => ({ text: t, target: parseReadingsTarget(t) }));
    if (parsed.length === 0 || batch.readings.length === 0) return;
    const now = Date.now();
    const ids: string[] = [];
    const run = () => {
      const find = this.#db.prepare(
        "SELECT id FROM connector_reading_targets WHERE subscription_id = ? AND target = ?",
      );
      const create = this.#db.prepare(
        `INSERT INTO connector_reading_targets (id, subscription_id, target, connector, stream_id, schema_json,
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const setSchema = this.#db.prepare(
        "UPDATE connector_reading_targets SET schema_json = ? WHERE id = ? AND schema_json IS NULL",
      );
      const queue = this.#db.prepare(
        `INSERT OR IGNORE INTO connector_reading_queue (target_id, sensor_id, ts, epoch, values_json)
         VALUES (?, ?, ?, ?, ?)`,
      );
      const schema = options.schema ? JSON.stringify(options.schema) : null;
      for (const { text, target } of parsed) {
        let id = (find.get(subscriptionId, text) as { id: string } | undefined)?.id;
        if (id === undefined) {
          id = crypto.randomUUID();
          create.run(id, subscriptionId, text, target.connector, batch.streamId, schema, now, now);
        } else if (schema) setSchema.run(schema, id);
        ids.push(id);
        for (const r of batch.readings) {
          queue.run(id, r.sensorId, r.ts, batch.epoch, JSON.stringify(r.values));
        }
      }
    };
    if (this.#db.isTransaction) run();
    else transaction(this.#db, run);
    for (const id of ids) this.#kick(id);
  }

  /** The targets of a subscription (or all), with their counts. */
  listTargets(subscriptionId?: string): ReadingTargetRecord[] {
    const rows =
      (subscriptionId === undefined
        ? this.#db.prepare("SELECT * FROM connector_reading_targets ORDER BY created_at").all()
        : this.#db.prepare(
          "SELECT * FROM connector_reading_targets WHERE subscription_id = ? ORDER BY created_at",
        )
          .all(subscriptionId)) as unknown as TargetRow[];
    const pending = this.#db.prepare(
      "SELECT count(*) AS n FROM connector_reading_queue WHERE target_id = ? AND delivered = 0",
    );
    return rows.map((r) => ({
      id: r.id,
      subscriptionId: r.subscription_id,
      connector: r.connector as ReadingsTarget["connector"],
      target: redactReadingsTarget(parseReadingsTarget(r.target)),
      delivered: r.delivered,
      pending: (pending.get(r.id) as { n: number }).n,
      attempts: r.attempts,
      lastError: r.last_error,
      updatedAt: r.updated_at,
    }));
  }

  /** Resolves when no target (of the subscription, or at all) has a loop running. */
  async idle(subscriptionId?: string): Promise<void> {
    for (;;) {
      const ids = subscriptionId === undefined
        ? [...this.#loops.keys()]
        : this.listTargets(subscriptionId).map((t) => t.id).filter((id) => this.#loops.has(id));
      if (ids.length === 0) return;
      await Promise.allSettled(ids.map((id) => this.#loops.get(id)));
    }
  }

  #kick(id: string): void {
    if (this.#controller.signal.aborted) return;
    if (this.#loops.has(id)) {
      this.#again.add(id);
      return;
    }
    const loop = this.#loop(id).catch((err) => {
      if (!this.#controller.signal.aborted) {
        this.#log.warn("stopped delivering readings", { target: id, error: (err as Error).message });
      }
    }).finally(() => {
      this.#loops.delete(id);
      if (this.#again.delete(id)) this.#kick(id);
    });
    this.#loops.set(id, loop);
  }

  #connectorFor(row: TargetRow): ReadingsConnector {
    let connector = this.#connectors.get(row.id);
    if (connector) return connector;
    const target = parseReadingsTarget(row.target);
    const policy = this.#init.policy;
    switch (target.connector) {
      case "directory":
        connector = directoryReadingsConnector({ dir: target.dir, policy });
        break;
      case "webhook":
        connector = webhookReadingsConnector({
          url: target.url,
          retries: this.#init.retries,
          backoff: this.#init.backoff,
          policy,
          caCerts: this.#init.caCerts,
        });
        break;
      case "mqtt":
        connector = mqttReadingsConnector({ url: target.url, policy });
        break;
      case "postgres":
        connector = postgresReadingsConnector({ url: target.url, policy });
        break;
    }
    this.#connectors.set(row.id, connector);
    return connector;
  }

  async #loop(id: string): Promise<void> {
    const signal = this.#controller.signal;
    const db = this.#db;
    const next = db.prepare(
      `SELECT rowid, sensor_id, ts, epoch, values_json FROM connector_reading_queue
       WHERE target_id = ? AND delivered = 0 ORDER BY rowid LIMIT ?`,
    );
    const mark = db.prepare("UPDATE connector_reading_queue SET delivered = 1 WHERE rowid = ?");
    const commit = db.prepare(
      `UPDATE connector_reading_targets SET progress_json = ?, seq = ?, delivered = delivered + ?, attempts = attempts + 1,
       last_error = NULL, updated_at = ? WHERE id = ?`,
    );
    const fail = db.prepare(
      "UPDATE connector_reading_targets SET attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ?",
    );
    const setProgress = db.prepare("UPDATE connector_reading_targets SET progress_json = ? WHERE id = ?");
    const prune = db.prepare(
      "DELETE FROM connector_reading_queue WHERE target_id = ? AND delivered = 1 AND ts < ?",
    );
    let failures = 0;
    for (;;) {
      signal.throwIfAborted();
      const row = db.prepare("SELECT * FROM connector_reading_targets WHERE id = ?").get(id) as unknown as
        | TargetRow
        | undefined;
      if (row === undefined) return;
      const queued = next.all(id, this.#init.batchSize) as unknown as QueueRow[];
      if (queued.length === 0) {
        prune.run(id, Date.now() - this.#init.retainMs);
        return;
      }
      // One epoch per batch: the first queued reading's.
      const epoch = queued[0].epoch;
      const rows = queued.filter((q) => q.epoch === epoch);
      const seq = row.seq + 1;
      let progress = JSON.parse(row.progress_json) as Record<string, number>;
      try {
        const connector = this.#connectorFor(row);
        const batch = {
          subscriptionId: row.subscription_id,
          streamId: row.stream_id,
          epoch,
          readings: rows.map((q) => ({ sensorId: q.sensor_id, ts: q.ts, values: JSON.parse(q.values_json) })),
          schema: row.schema_json ? JSON.parse(row.schema_json) : undefined,
          seq,
        };
        const start = await connector.prepare?.(batch, { signal, progress });
        if (start && Object.keys(start).length > 0) {
          progress = { ...progress, ...start };
          setProgress.run(JSON.stringify(progress), id);
        }
        const more = await connector.deliver(batch, { signal, progress });
        transaction(db, () => {
          for (const q of rows) mark.run(q.rowid);
          commit.run(JSON.stringify({ ...progress, ...more }), seq, rows.length, Date.now(), id);
        });
        failures = 0;
      } catch (err) {
        signal.throwIfAborted();
        const message = (err as Error).message ?? String(err);
        fail.run(message, Date.now(), id);
        failures++;
        this.#log.warn("failed to deliver readings; retrying", {
          target: id,
          connector: row.connector,
          error: message,
          failures,
        });
        await delay(Math.min(this.#init.backoff * 2 ** (failures - 1), this.#init.maxBackoff), signal);
      }
    }
  }
}
