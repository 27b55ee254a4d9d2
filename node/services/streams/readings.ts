/**
 * The gateway's durable readings and counters. Every accepted reading is a row of
 * `gateway_readings (stream_id, epoch, sensor_id, ts, values_json)` (one per sensor and
 * timestamp), the rows of a batch written in ONE transaction before anyone is told they were
 * accepted; `gateway_counts (scope, id, reason, n)` counts accepted readings (`reason =
 * 'accepted'`) and rejections by reason, for each client (`scope = 'client'`) and sensor
 * (`scope = 'sensor'`), written every second (a kill loses at most that second of counts, never a
 * reading).
 */
import { type Database, migrate, transaction } from "../db/mod.ts";
import type { StatementSync } from "node:sqlite";

const MIGRATIONS = [
  `CREATE TABLE gateway_readings (
    stream_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    sensor_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    values_json TEXT NOT NULL,
    PRIMARY KEY (sensor_id, ts)
  ) WITHOUT ROWID;
  CREATE INDEX gateway_readings_epoch ON gateway_readings (stream_id, epoch, ts, sensor_id);
  CREATE TABLE gateway_counts (
    scope TEXT NOT NULL CHECK (scope IN ('client', 'sensor')),
    id TEXT NOT NULL,
    reason TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (scope, id, reason)
  ) WITHOUT ROWID;`,
];

/** A reading as accepted: what the epochs and live batches carry. */
export interface StoredReading {
  sensorId: string;
  /** ms since the epoch. */
  ts: number;
  values: Record<string, number | string | boolean | null>;
}

/** One row to write. */
export interface ReadingRow {
  streamId: string;
  epoch: number;
  sensorId: string;
  ts: number;
  /** `JSON.stringify(values)`, columns in the schema's order. */
  valuesJson: string;
}

/** Counter increments: `scope`, `id`, `reason` (`accepted` or a rejection) and how many. */
export interface CountIncrement {
  scope: "client" | "sensor";
  id: string;
  reason: string;
  n: number;
}

export interface CountRow {
  scope: "client" | "sensor";
  id: string;
  reason: string;
  n: number;
}

export class Readings {
  readonly #db: Database;
  #insert?: StatementSync;
  #count?: StatementSync;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Runs the migrations. */
  open(): void {
    migrate(this.#db, "gateway_readings", MIGRATIONS);
    this.#insert = this.#db.prepare(
      "INSERT INTO gateway_readings (stream_id, epoch, sensor_id, ts, values_json) VALUES (?, ?, ?, ?, ?)",
    );
    this.#count = this.#db.prepare(
      `INSERT INTO gateway_counts (scope, id, reason, n) VALUES (?, ?, ?, ?)
       ON CONFLICT (scope, id, reason) DO UPDATE SET n = n + excluded.n`,
    );
  }

  /** Writes `rows` in one transaction; when this returns, they are on disk. */
  commit(rows: readonly ReadingRow[]): void {
    if (rows.length === 0) return;
    const insert = this.#insert!;
    if (rows.length === 1) {
      const r = rows[0];
      insert.run(r.streamId, r.epoch, r.sensorId, r.ts, r.valuesJson);
      return;
    }
    transaction(this.#db, () => {
      for (const r of rows) insert.run(r.streamId, r.epoch, r.sensorId, r.ts, r.valuesJson);
    });
  }

  /** Adds `counts` in one transaction, running `also` inside it (the sensors' last timestamps). */
  addCounts(counts: Iterable<CountIncrement>, also?: () => void): void {
    const count = this.#count!;
    transaction(this.#db, () => {
      for (const c of counts) if (c.n > 0) count.run(c.scope, c.id, c.reason, c.n);
      also?.();
    });
  }

  /** The latest reading's timestamp of every sensor that has readings here. */
  lastTsBySensor(): Map<string, number> {
    const rows = this.#db.prepare("SELECT sensor_id, MAX(ts) AS ts FROM gateway_readings GROUP BY sensor_id")
      .all() as { sensor_id: string; ts: number }[];
    return new Map(rows.map((r) => [r.sensor_id, r.ts]));
  }

  /** The readings of one epoch of a stream, sorted by (ts, sensorId): the order of the epoch file. */
  listEpoch(streamId: string, epoch: number): StoredReading[] {
    const rows = this.#db.prepare(
      "SELECT sensor_id, ts, values_json FROM gateway_readings WHERE stream_id = ? AND epoch = ? ORDER BY ts, sensor_id",
    ).all(streamId, epoch) as { sensor_id: string; ts: number; values_json: string }[];
    return rows.map((r) => ({ sensorId: r.sensor_id, ts: r.ts, values: JSON.parse(r.values_json) }));
  }

  /** How many readings an epoch of a stream holds. */
  countEpoch(streamId: string, epoch: number): number {
    return (this.#db.prepare(
      "SELECT COUNT(*) AS n FROM gateway_readings WHERE stream_id = ? AND epoch = ?",
    ).get(streamId, epoch) as { n: number }).n;
  }

  /** Deletes the readings of epochs up to `throughEpoch` of a stream (after they are sealed and kept elsewhere). */
  deleteThrough(streamId: string, throughEpoch: number): number {
    return Number(
      this.#db.prepare("DELETE FROM gateway_readings WHERE stream_id = ? AND epoch <= ?").run(
        streamId,
        throughEpoch,
      )
        .changes,
    );
  }

  /** Every counter. */
  counts(): CountRow[] {
    return this.#db.prepare("SELECT scope, id, reason, n FROM gateway_counts ORDER BY scope, id, reason")
      .all() as unknown as CountRow[];
  }
}
