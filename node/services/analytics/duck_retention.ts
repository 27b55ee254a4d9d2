/**
 * The file side of `DuckMirror.rewriteRetained()`: after a retention prune
 * deleted old raw events from SQLite (`retention.ts`), the mirror must lose
 * them too, and not only from its tables. DuckDB neither zeroes deleted rows
 * nor shrinks its file, so {@link writeRetainedCopy} writes the rows that are
 * kept into a NEW file (ATTACH, the same schema, INSERT … SELECT in the old
 * physical order, CHECKPOINT, DETACH), and {@link swapInRetained} renames it
 * over the old one once the old one is closed, removing the old WAL first.
 *
 * What is kept, table by table (column names, so a table added to the mirror
 * later follows the same rule): rows with a `start_ts` (visits) that start at
 * or after the cutoff; rows with a `ts` at or after it whose `visit_id` (when
 * they have one) is not a visit that started before it; staging tables
 * (`*_stage`) empty; every other table whole.
 *
 * ```ts
 * const copy = await writeRetainedCopy(conn, cutoff, { events: 41, engagement: 7 });
 * // close every connection and the instance, then:
 * if (copy.target) swapInRetained(copy.path!, copy.target);
 * ```
 */
import type { DuckDBConnection } from "@duckdb/node-api";

/** Settings a reopened mirror takes over from the instance it replaces. */
export const KEPT_SETTINGS = ["threads", "memory_limit", "preserve_insertion_order"] as const;

/** What {@link writeRetainedCopy} did. */
export interface RetainedCopy {
  /** The mirror's file; null for an in-memory mirror (its rows were deleted in place). */
  path: string | null;
  /** The new file to rename over `path`, once the old one is closed. */
  target?: string;
  /** Rows dropped, over every table. */
  dropped: number;
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

/**
 * Copies the rows the retention keeps (see the module doc) into `<path>.retained`, with the mirror's
 * high-water marks lowered to SQLite's largest ids (`max`) so ids SQLite hands out again are not skipped.
 */
export async function writeRetainedCopy(
  conn: DuckDBConnection,
  cutoff: number,
  max: { events: number; engagement: number },
): Promise<RetainedCopy> {
  const [[database, path]] = (await conn.runAndReadAll(
    "SELECT database_name, path FROM duckdb_databases() WHERE database_name = current_database()",
  )).getRowsJS() as [string, string | null][];
  const tables = await listTables(conn, database);
  const before = await countRows(conn, database, tables.map((t) => t.name));
  if (path === null || path === "" || path === ":memory:") {
    // Visits last: the other tables' conditions read which visits start before the cutoff.
    const ordered = [...tables].sort((a, b) =>
      Number(a.columns.has("start_ts")) - Number(b.columns.has("start_ts"))
    );
    for (const table of ordered) {
      const keep = keepCondition(table, database, cutoff);
      if (keep !== "true") await conn.run(`DELETE FROM ${quote(table.name)} WHERE NOT (${keep})`);
    }
    await lowerMarks(conn, quote(database), tables, max);
    const after = await countRows(conn, database, tables.map((t) => t.name));
    return { path: null, dropped: before - after };
  }
  const target = `${path}.retained`;
  removeFiles([target, `${target}.wal`]);
  await conn.run(`ATTACH ${literal(target)} AS retained`);
  try {
    await conn.run(`COPY FROM DATABASE ${quote(database)} TO retained (SCHEMA)`);
    for (const table of tables) {
      const keep = keepCondition(table, database, cutoff);
      await conn.run(
        `INSERT INTO retained.${quote(table.name)} SELECT * FROM ${quote(database)}.${quote(table.name)}
         WHERE ${keep} ORDER BY rowid`,
      );
    }
    await lowerMarks(conn, "retained", tables, max);
    const after = await countRows(conn, "retained", tables.map((t) => t.name));
    await conn.run("CHECKPOINT retained");
    await conn.run("DETACH retained");
    return { path, target, dropped: before - after };
  } catch (err) {
    await conn.run("DETACH retained").catch(() => {});
    removeFiles([target, `${target}.wal`]);
    throw err;
  }
}

/** Puts the retained copy in the old file's place (the old file and its WAL closed): the WAL goes first. */
export function swapInRetained(path: string, target: string): void {
  removeFiles([`${path}.wal`]);
  Deno.renameSync(target, path);
  removeFiles([`${target}.wal`]);
}

/** The values of {@link KEPT_SETTINGS} in the running instance. */
export async function readKeptSettings(conn: DuckDBConnection): Promise<Record<string, string>> {
  const settings: Record<string, string> = {};
  for (const name of KEPT_SETTINGS) {
    const rows = (await conn.runAndReadAll(`SELECT current_setting(${literal(name)})`)).getRowsJS();
    if (rows[0]?.[0] !== null && rows[0]?.[0] !== undefined) settings[name] = String(rows[0][0]);
  }
  return settings;
}

interface TableInfo {
  name: string;
  columns: Set<string>;
}

async function listTables(conn: DuckDBConnection, database: string): Promise<TableInfo[]> {
  const rows = (await conn.runAndReadAll(
    `SELECT table_name, column_name FROM duckdb_columns()
     WHERE database_name = ${literal(database)} AND schema_name = 'main' AND NOT internal
     ORDER BY table_name, column_index`,
  )).getRowsJS() as [string, string][];
  const tables = new Map<string, TableInfo>();
  for (const [name, column] of rows) {
    let t = tables.get(name);
    if (!t) tables.set(name, t = { name, columns: new Set() });
    t.columns.add(column);
  }
  // Views have columns too: only base tables hold rows.
  const base = new Set(
    ((await conn.runAndReadAll(
      `SELECT table_name FROM duckdb_tables() WHERE database_name = ${
        literal(database)
      } AND schema_name = 'main'`,
    )).getRowsJS() as [string][]).map((r) => r[0]),
  );
  return [...tables.values()].filter((t) => base.has(t.name));
}

/** The SQL condition a kept row of `table` meets (see the module doc). */
function keepCondition(table: TableInfo, database: string, cutoff: number): string {
  if (table.name.endsWith("_stage")) return "false";
  if (table.columns.has("start_ts")) return `start_ts >= ${cutoff}`;
  if (!table.columns.has("ts")) return "true";
  if (!table.columns.has("visit_id")) return `ts >= ${cutoff}`;
  const visits = `${quote(database)}.visits`;
  return `ts >= ${cutoff} AND (visit_id IS NULL OR visit_id NOT IN (SELECT id FROM ${visits} WHERE start_ts < ${cutoff}))`;
}

async function lowerMarks(
  conn: DuckDBConnection,
  database: string,
  tables: TableInfo[],
  max: { events: number; engagement: number },
): Promise<void> {
  const state = tables.find((t) => t.name === "mirror_state");
  if (!state?.columns.has("events_hwm") || !state.columns.has("engagement_hwm")) return;
  await conn.run(
    `UPDATE ${database}.mirror_state SET events_hwm = LEAST(events_hwm, ${Math.trunc(max.events)}),
     engagement_hwm = LEAST(engagement_hwm, ${Math.trunc(max.engagement)})`,
  );
}

async function countRows(conn: DuckDBConnection, database: string, tables: string[]): Promise<number> {
  let total = 0;
  for (const name of tables) {
    const rows = (await conn.runAndReadAll(`SELECT COUNT(*) FROM ${quote(database)}.${quote(name)}`))
      .getRowsJS();
    total += Number(rows[0][0]);
  }
  return total;
}

function removeFiles(paths: string[]): void {
  for (const path of paths) {
    try {
      Deno.removeSync(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
}
