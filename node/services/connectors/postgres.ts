/**
 * The PostgreSQL connector: appends a stream's readings to a table of the subscriber's own server. The table
 * is created on the first batch from the stream's schema:
 *
 *     (sensor_id text, ts timestamptz, <column> bigint|double precision|boolean|text …, epoch bigint,
 *      PRIMARY KEY (sensor_id, ts))
 *
 * (integer → bigint, number → double precision, boolean → boolean, string → text; without a schema the
 * columns are taken from the first reading: numbers as double precision). Each batch is one transaction: the
 * rows are `COPY`'d into a temporary table, then `INSERT … ON CONFLICT DO NOTHING` moves them over, so a
 * reading delivered twice (a retry after a crash) is stored once. A value whose type does not match its column
 * is stored as NULL; values of columns the table does not have are not stored.
 *
 * ```ts
 * const connector = postgresReadingsConnector({ url: "postgres://me@127.0.0.1:5432/plant?table=readings" });
 * await connector.deliver(batch, { progress: {} });
 * ```
 */
import postgres from "postgres";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DeliveryError } from "./connector.ts";
import type { ReadingColumn, ReadingsConnector, StreamReading } from "./readings_connector.ts";
import {
  checkWebhookTarget,
  type DeliveryPolicy,
  parseReadingsTarget,
  redactReadingsTarget,
} from "./targets.ts";

export interface PostgresReadingsConnectorInit {
  /** `postgres://user[:pass]@host:port/db?table=name[&sslmode=require]`. */
  url: string;
  /** Hosts the server may be on although not public, and the resolver. @default {}: public hosts only */
  policy?: Pick<DeliveryPolicy, "webhookAllow" | "lookup">;
  /** Seconds to connect. @default 10 */
  connectTimeout?: number;
}

const SQL_TYPES: Record<ReadingColumn["type"], string> = {
  integer: "bigint",
  number: "double precision",
  boolean: "boolean",
  string: "text",
};

/** Columns every readings table has besides the stream's own. */
const FIXED_COLUMNS = new Set(["sensor_id", "ts", "epoch"]);

/** A quoted SQL identifier. */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.length > 63 || name.includes("\0")) {
    throw new TypeError(
      `Column name ${JSON.stringify(name.slice(0, 70))} cannot be a PostgreSQL column (1–63 characters)`,
    );
  }
  return `"${name.replaceAll('"', '""')}"`;
}

/** A value in COPY's text format (`\N` for NULL; backslash, tab, newline and carriage return escaped). */
export function copyField(value: string | null): string {
  if (value === null) return "\\N";
  return value.replace(/[\\\t\n\r]/g, (c) => ({ "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" })[c]!);
}

/** The text of a reading's value for a column of type `type`, or null when it is missing or of another type. */
function fieldOf(value: unknown, type: ReadingColumn["type"]): string | null {
  switch (type) {
    case "integer":
      return typeof value === "number" && Number.isSafeInteger(value) ? String(value) : null;
    case "number":
      return typeof value === "number" && Number.isFinite(value) ? String(value) : null;
    case "boolean":
      return typeof value === "boolean" ? (value ? "t" : "f") : null;
    case "string":
      return typeof value === "string" ? value.replaceAll("\0", "") : null;
  }
}

/** The columns of a schema-less stream, from the first reading's values. */
function inferSchema(readings: StreamReading[]): ReadingColumn[] {
  const first = readings[0]?.values ?? {};
  return Object.entries(first).map(([name, v]) => ({
    name,
    type: typeof v === "boolean" ? "boolean" : typeof v === "string" ? "string" : "number",
  }));
}

/** The `CREATE TABLE` statement of a readings table. */
export function createTableSql(table: string, schema: ReadingColumn[]): string {
  const qualified = table.split(".").map(quoteIdent).join(".");
  const columns = schema.map((c) => {
    if (FIXED_COLUMNS.has(c.name)) {
      throw new TypeError(`The stream has a column "${c.name}", which the table keeps for itself`);
    }
    return `${quoteIdent(c.name)} ${SQL_TYPES[c.type]}`;
  });
  return `CREATE TABLE IF NOT EXISTS ${qualified} (sensor_id text NOT NULL, ts timestamptz NOT NULL, ${
    columns.map((c) => `${c}, `).join("")
  }epoch bigint NOT NULL, PRIMARY KEY (sensor_id, ts))`;
}

export function postgresReadingsConnector(init: PostgresReadingsConnectorInit): ReadingsConnector {
  const target = parseReadingsTarget(init.url);
  if (target.connector !== "postgres") {
    throw new TypeError("postgresReadingsConnector needs a postgres:// URL");
  }
  const shown = redactReadingsTarget(target);
  const url = new URL(init.url);
  const qualified = target.table.split(".").map(quoteIdent).join(".");
  const sslmode = url.searchParams.get("sslmode");
  let sql: postgres.Sql | undefined;
  let created = false;

  const drop = async () => {
    const s = sql;
    sql = undefined;
    created = false;
    await s?.end({ timeout: 5 }).catch(() => {});
  };

  return {
    name: "postgres",
    async deliver(batch, options) {
      options.signal?.throwIfAborted();
      if (batch.readings.length === 0) return;
      const schema = batch.schema ?? inferSchema(batch.readings);
      const names = ["sensor_id", "ts", ...schema.map((c) => c.name), "epoch"];
      try {
        await checkWebhookTarget(url, init.policy ?? {});
        sql ??= postgres({
          host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
          port: Number(url.port || 5432),
          database: decodeURIComponent(url.pathname.replace(/^\//, "")) || undefined,
          username: url.username ? decodeURIComponent(url.username) : undefined,
          password: url.password ? decodeURIComponent(url.password) : undefined,
          ssl: sslmode === "require" || sslmode === "verify-full" ? sslmode : false,
          max: 1,
          connect_timeout: init.connectTimeout ?? 10,
          idle_timeout: 60,
          onnotice: () => {},
        });
        const s = sql;
        if (!created) {
          await s.unsafe(createTableSql(target.table, schema));
          created = true;
        }
        const lines = batch.readings.map((r) =>
          [
            copyField(r.sensorId),
            new Date(r.ts).toISOString(),
            ...schema.map((c) => copyField(fieldOf(r.values[c.name], c.type))),
            String(batch.epoch),
          ].join("\t") + "\n"
        ).join("");
        const columns = names.map(quoteIdent).join(", ");
        const abort = () => void s.end({ timeout: 0 }).catch(() => {});
        options.signal?.addEventListener("abort", abort, { once: true });
        try {
          await s.begin(async (tx) => {
            await tx.unsafe(`CREATE TEMP TABLE kosmos_readings_in (LIKE ${qualified}) ON COMMIT DROP`);
            const writable = await tx.unsafe(`COPY kosmos_readings_in (${columns}) FROM STDIN`).writable();
            await pipeline(Readable.from([lines]), writable);
            await tx.unsafe(
              `INSERT INTO ${qualified} (${columns}) SELECT ${columns} FROM kosmos_readings_in ON CONFLICT DO NOTHING`,
            );
          });
        } finally {
          options.signal?.removeEventListener("abort", abort);
        }
      } catch (cause) {
        await drop();
        options.signal?.throwIfAborted();
        throw new DeliveryError(`Cannot append batch ${batch.seq} to ${shown}: ${(cause as Error).message}`, {
          cause,
        });
      }
    },
    close: drop,
  };
}
